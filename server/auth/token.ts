// `concord token`: print a token for the configured secret (or a private key), so a
// self-hoster can open a room at once: `concord token --room 'notes/*' --access read --ttl 1h`.
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { SignJWT } from 'jose'
import { algorithmsFor, isAccess, type Access } from './auth.js'
import { ConfigError, optionTable } from '../ops/config.js'

/// Usage of the subcommand.
export const TOKEN_HELP = `Usage: concord token --room PATTERN [--room PATTERN…] [options]

Print a JWT that lets a client open the matching rooms (ws://HOST:PORT/ROOM?token=…).

  --room PATTERN      a room name, or a pattern: * within one path segment, ** across them
  --access LEVEL      read, write, or admin (write, and delete rooms); default read
  --ttl DURATION      lifetime: 90s, 30m, 1h, 7d (default 1h)
  --user NAME         the token's subject, shown in the server's logs
  --auth-secret S     the server's HS256 secret (default: $CONCORD_AUTH_SECRET)
  --private-key FILE  sign with this PEM private key instead (RSA, EC, Ed25519)
`

/// What the subcommand was asked for.
export interface TokenRequest {
  rooms: string[]
  access: Access
  ttlSeconds: number
  user: string | null
  secret: string | null
  privateKey: string | null
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

/// Parse `90s`, `30m`, `1h`, `7d` or plain seconds.
export function parseTtl(raw: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(raw.trim())
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2] || 's'] : NaN
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new ConfigError(`--ttl: expected a duration like 90s, 30m, 1h or 7d, got ${JSON.stringify(raw)}`)
  }
  return seconds
}

/// Parse the subcommand's arguments; the secret may come from the environment.
export function parseTokenArgs(argv: readonly string[], env: NodeJS.ProcessEnv): TokenRequest {
  const request: TokenRequest = { rooms: [], access: 'read', ttlSeconds: 3600, user: null, secret: null, privateKey: null }
  const envSecret = env[optionTable.authSecret.env]
  if (envSecret !== undefined) request.secret = optionTable.authSecret.parse(envSecret, optionTable.authSecret.env)
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(argv[i])
    if (!m) throw new ConfigError(`unexpected argument ${JSON.stringify(argv[i])} (see concord token --help)`)
    const value = m[2] ?? argv[++i]
    if (value === undefined) throw new ConfigError(`--${m[1]}: missing value`)
    switch (m[1]) {
      case 'room': request.rooms.push(value); break
      case 'access':
        if (!isAccess(value)) throw new ConfigError(`--access: expected read, write or admin, got ${JSON.stringify(value)}`)
        request.access = value
        break
      case 'ttl': request.ttlSeconds = parseTtl(value); break
      case 'user': request.user = value; break
      case 'auth-secret': request.secret = optionTable.authSecret.parse(value, '--auth-secret'); break
      case 'private-key': request.privateKey = value; break
      default: throw new ConfigError(`unknown option --${m[1]} (see concord token --help)`)
    }
  }
  if (request.rooms.length === 0) throw new ConfigError('--room: at least one room or pattern is required')
  if (request.rooms.some((r) => r === '')) throw new ConfigError('--room: must not be empty')
  if (!request.secret && !request.privateKey) {
    throw new ConfigError(`no key: pass --auth-secret, set ${optionTable.authSecret.env}, or pass --private-key`)
  }
  return request
}

/// Sign a token for the request.
export async function createToken(request: TokenRequest, now = Date.now()): Promise<string> {
  let key: KeyObject | Uint8Array
  let alg: string
  if (request.privateKey) {
    key = createPrivateKey(readFileSync(request.privateKey))
    alg = algorithmsFor(key)[0]
  } else {
    key = new TextEncoder().encode(request.secret ?? '')
    alg = 'HS256'
  }
  const iat = Math.floor(now / 1000)
  const jwt = new SignJWT({ rooms: request.rooms, access: request.access })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + request.ttlSeconds)
  if (request.user) jwt.setSubject(request.user)
  return jwt.sign(key)
}

/// Run `concord token …`: prints the token on stdout; returns the exit code.
export async function tokenCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(TOKEN_HELP)
    return 0
  }
  try {
    process.stdout.write(`${await createToken(parseTokenArgs(argv, env))}\n`)
    return 0
  } catch (error) {
    if (error instanceof ConfigError || (error instanceof Error && 'code' in error && error.code === 'ENOENT')) {
      process.stderr.write(`concord token: ${error.message}\n`)
      return 2
    }
    throw error
  }
}

/// How share tokens are made (the HTTP API's `/share`): signed with the server's secret, not
/// needed (no auth), or not possible (a public key or an embedder's hook decides; the reason
/// says so).
export type ShareSigner =
  | { kind: 'sign'; sign(room: string, access: Access, expiresAt: number, now?: number): Promise<string> }
  | { kind: 'open' }
  | { kind: 'unavailable'; reason: string }

/// How the HTTP API makes share tokens: with the HS256 secret, or not at all when a public
/// key (the signing key lives elsewhere) or the embedder's hook decides; without auth, links
/// need none.
export function shareSigner(auth: { hook: boolean; publicKey: boolean; secret: string | null }): ShareSigner {
  if (auth.hook) return { kind: 'unavailable', reason: 'this server authenticates with a hook: its tokens come from your application' }
  if (auth.publicKey) return { kind: 'unavailable', reason: 'this server only verifies tokens (--auth-public-key): they are signed elsewhere' }
  const secret = auth.secret
  if (secret === null) return { kind: 'open' }
  return {
    kind: 'sign',
    // The lifetime in whole seconds from the token's own issue second: a link asked for a day
    // a millisecond ago is a day, not a day less a second.
    sign: (room, access, expiresAt, now = Date.now()) =>
      createToken({ rooms: [room], access, ttlSeconds: Math.max(1, Math.floor(expiresAt / 1000) - Math.floor(now / 1000)), user: null, secret, privateKey: null }, now),
  }
}
