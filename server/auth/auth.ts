// Who may open which room: JWT verification (jose), room patterns, and the decision the
// upgrade path acts on. Runs before any room is loaded; knows nothing of rooms or sockets.
import { createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { errors, jwtVerify, type JWTPayload } from 'jose'
import { queryOf } from '../protocol/roomName.js'

/// What a connection may do in its room: read it; also change it; also delete it (an
/// administrator's token). Each level includes the ones before it.
export type Access = 'read' | 'write' | 'admin'

const LEVEL: Record<Access, number> = { read: 0, write: 1, admin: 2 }

/// Whether `access` includes `needs`.
export function allows(access: Access, needs: Access): boolean {
  return LEVEL[access] >= LEVEL[needs]
}

/// Whether a claim is an access level.
export function isAccess(value: unknown): value is Access {
  return value === 'read' || value === 'write' || value === 'admin'
}

/// The outcome of authenticating one upgrade request.
export type AuthDecision =
  | {
      ok: true
      /// Who it is, for logs; null when anonymous.
      user: string | null
      access: Access
      /// Epoch milliseconds after which the connection is closed with 4401, if any.
      expiresAt?: number | null
    }
  | { ok: false; status: 401 | 403; reason: string }

/// The embedder's hook: runs for every upgrade before any room is loaded. Return a decision;
/// a thrown error refuses the upgrade with 500 and is logged.
export type Authenticate = (request: IncomingMessage, room: string) => AuthDecision | Promise<AuthDecision>

/// The claims Concord reads from a token.
export interface ConcordClaims extends JWTPayload {
  /// Room names or glob patterns (`*` within one path segment, `**` across segments).
  rooms?: string | string[]
  access?: Access
}

/// A key to verify tokens with, and the algorithms it may be used with.
export interface VerifyKey {
  key: Uint8Array | KeyObject
  algorithms: string[]
}

/// The HS256 key for a shared secret.
export function secretKey(secret: string): VerifyKey {
  return { key: new TextEncoder().encode(secret), algorithms: ['HS256'] }
}

/// Algorithms a JWT may use with an asymmetric key, chosen by the key's type so a token
/// cannot pick a weaker or confused algorithm.
export function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'rsa-pss': return ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      if (curve === 'prime256v1') return ['ES256']
      if (curve === 'secp384r1') return ['ES384']
      if (curve === 'secp521r1') return ['ES512']
      throw new Error(`unsupported EC curve ${String(curve)}`)
    }
    case 'ed25519': return ['EdDSA', 'Ed25519']
    default: throw new Error(`unsupported key type ${String(key.asymmetricKeyType)}`)
  }
}

/// Read a PEM public key (SPKI, PKCS#1 or a certificate) from a file.
export function publicKeyFile(path: string): VerifyKey {
  const key = createPublicKey(readFileSync(path))
  return { key, algorithms: algorithmsFor(key) }
}

const patternCache = new Map<string, RegExp>()

/// Whether a room name matches a pattern: `*` is any run of characters but `/`, `**` any
/// run at all, `?` one character but `/`; everything else is literal.
export function roomMatches(pattern: string, room: string): boolean {
  let re = patternCache.get(pattern)
  if (!re) {
    let source = ''
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i]
      if (c === '*' && pattern[i + 1] === '*') { source += '.*'; i++ }
      else if (c === '*') source += '[^/]*'
      else if (c === '?') source += '[^/]'
      else source += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')
    }
    re = new RegExp(`^${source}$`, 's')
    if (patternCache.size > 1000) patternCache.clear() // patterns come from tokens: bound the cache
    patternCache.set(pattern, re)
  }
  return re.test(room)
}

/// The token a request carries: the `token` query parameter, or a subprotocol that is a JWT
/// (browsers cannot set headers on a WebSocket, but can offer subprotocols).
export function tokenOf(request: IncomingMessage): string | null {
  const fromQuery = queryOf(request.url ?? '/').get('token')
  if (fromQuery) return fromQuery
  for (const protocol of subprotocols(request)) if (looksLikeJwt(protocol)) return protocol
  return null
}

/// Subprotocols the client offered.
export function subprotocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol']
  return header ? header.split(',').map((p) => p.trim()).filter((p) => p !== '') : []
}

/// Whether a string has the shape of a compact JWS (three base64url parts).
export function looksLikeJwt(value: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(value)
}

/// Pick the subprotocol to answer with: one that is not the token if the client offered
/// one, else the token itself (a browser fails a handshake that answers none it offered).
export function chooseSubprotocol(offered: ReadonlySet<string>): string | false {
  let token: string | false = false
  for (const p of offered) {
    if (!looksLikeJwt(p)) return p
    token ||= p
  }
  return token
}

/// A verified token: the decision it carries and the room patterns it grants.
export type TokenGrant = Extract<AuthDecision, { ok: true }> & { rooms: string[] }

// Without auth, everyone may do everything, deleting rooms included.
const everyone: AuthDecision = { ok: true, user: null, access: 'admin' }

/// Verify a token without deciding a room: signature, expiry (required) and the shape of the
/// claims. `sub` names the user; `access` is `read` unless the token says `write`.
export async function verifyTokenClaims(token: string | null, key: VerifyKey): Promise<TokenGrant | Extract<AuthDecision, { ok: false }>> {
  if (!token) return { ok: false, status: 401, reason: 'missing token' }
  let claims: ConcordClaims
  try {
    ;({ payload: claims } = await jwtVerify<ConcordClaims>(token, key.key, {
      algorithms: key.algorithms,
      requiredClaims: ['exp'],
    }))
  } catch (error) {
    return { ok: false, status: 401, reason: tokenError(error) }
  }
  const access = claims.access ?? 'read'
  if (!isAccess(access)) {
    return { ok: false, status: 401, reason: 'invalid token: access must be read, write or admin' }
  }
  const rooms = typeof claims.rooms === 'string' ? [claims.rooms] : claims.rooms
  if (!Array.isArray(rooms) || !rooms.every((r) => typeof r === 'string')) {
    return { ok: false, status: 401, reason: 'invalid token: rooms must be a list of room names or patterns' }
  }
  return {
    ok: true,
    user: typeof claims.sub === 'string' ? claims.sub : null,
    access,
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null,
    rooms,
  }
}

/// Whether any of a token's room patterns grants `room`.
export function grantsRoom(patterns: readonly string[], room: string): boolean {
  return patterns.some((pattern) => roomMatches(pattern, room))
}

/// Verify a token for a room. Signature, expiry (required) and the room claim are checked;
/// `sub` names the user; `access` is `read` unless the token says `write`.
export async function verifyToken(token: string | null, room: string, key: VerifyKey): Promise<AuthDecision> {
  const grant = await verifyTokenClaims(token, key)
  if (!grant.ok) return grant
  if (!grantsRoom(grant.rooms, room)) return { ok: false, status: 403, reason: 'token does not grant this room' }
  return { ok: true, user: grant.user, access: grant.access, expiresAt: grant.expiresAt }
}

// A short, safe reason: which check failed, never the token itself.
function tokenError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token expired'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'invalid token: bad signature'
  if (error instanceof errors.JWTClaimValidationFailed) return `invalid token: ${error.claim} claim ${error.reason}`
  if (error instanceof errors.JOSEAlgNotAllowed) return 'invalid token: algorithm not allowed'
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'invalid token: malformed'
  return 'invalid token'
}

/// The authenticator the server uses: the embedder's hook if given, else tokens if a key is
/// configured, else everyone may do everything (a server without auth, as y-websocket's).
export function authenticator(options: { authenticate?: Authenticate; key: VerifyKey | null }): Authenticate {
  if (options.authenticate) return options.authenticate
  const key = options.key
  if (key) return (request, room) => verifyToken(tokenOf(request), room, key)
  return () => everyone
}

/// The HTTP API's decision for the room list: refused, or which rooms the caller may see.
export type ListDecision =
  | Extract<AuthDecision, { ok: false }>
  | { ok: true; user: string | null; sees(room: string): boolean }

/// How the HTTP API decides its requests: one room, or the room list.
export interface ApiAuthorizer {
  room(request: IncomingMessage, room: string): AuthDecision | Promise<AuthDecision>
  list(request: IncomingMessage): Promise<ListDecision>
}

/// The token of an HTTP API request: `Authorization: Bearer …`, else as on the WebSocket.
export function apiTokenOf(request: IncomingMessage): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')
  return bearer ? bearer[1] : tokenOf(request)
}


/// The HTTP API's authorizer. A token lists only the loaded rooms its patterns grant, each
/// name matched on its own (a pattern such as `*/**` grants some rooms, not the list). A
/// hook is asked about the pseudo-room `**` and its answer covers every room; without auth
/// everyone sees everything.
export function apiAuthorizer(options: { authenticate?: Authenticate; key: VerifyKey | null }): ApiAuthorizer {
  const { authenticate, key } = options
  if (authenticate) {
    return {
      room: authenticate,
      list: async (request) => everyRoom(await authenticate(request, '**')),
    }
  }
  if (!key) return { room: () => everyone, list: async () => everyRoom(everyone) }
  return {
    room: (request, room) => verifyToken(apiTokenOf(request), room, key),
    async list(request) {
      const grant = await verifyTokenClaims(apiTokenOf(request), key)
      if (!grant.ok) return grant
      return { ok: true, user: grant.user, sees: (room) => grantsRoom(grant.rooms, room) }
    },
  }
}

// A decision about every room, as a list decision.
function everyRoom(decision: AuthDecision): ListDecision {
  return decision.ok ? { ok: true, user: decision.user, sees: () => true } : decision
}
