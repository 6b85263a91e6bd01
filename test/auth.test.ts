// Token auth, the embedder hook, limits checked at the upgrade, and TLS: every refusal
// happens before the upgrade, loads no room, answers a JSON reason and logs why.
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import type { ConcordServer, ServerOptions } from '../server/server.js'
import { CloseCode } from '../server/protocol/closeCodes.js'
import { verifyToken, tokenOf } from '../server/auth/auth.js'
import { attempt, captureLog, sign, SECRET, type Attempt } from './authHelpers.js'
import { startServer, TestClient, waitFor } from './helpers.js'

let server: ConcordServer | undefined
const clients: TestClient[] = []
const sockets: Array<{ terminate(): void }> = []
const tempDirs: string[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const s of sockets.splice(0)) s.terminate()
  await server?.close()
  server = undefined
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function start(options: ServerOptions = {}) {
  const { logger, lines } = captureLog()
  server = await startServer({ authSecret: SECRET, logger, ...options })
  return { server, lines }
}

function refusalLogs(lines: Array<Record<string, unknown>>) {
  return lines.filter((l) => l.msg === 'upgrade refused')
}

function expectRefused(result: Attempt, status: number, reason: string | RegExp) {
  if (result.open) {
    result.ws.terminate()
    throw new Error(`expected a ${status} refusal, but the upgrade succeeded`)
  }
  expect(result.status).toBe(status)
  expect(result.body.error).toMatch(reason)
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'concord-auth-'))
  tempDirs.push(dir)
  return dir
}

describe('refusals before the upgrade', () => {
  const cases: Array<{ name: string; status: number; reason: RegExp; url: (base: string) => Promise<string>; headers?: Record<string, string> }> = [
    { name: 'no token', status: 401, reason: /^missing token$/, url: async (b) => `${b}/notes/a` },
    {
      name: 'bad signature', status: 401, reason: /bad signature/,
      url: async (b) => `${b}/notes/a?token=${await sign({ rooms: ['notes/*'], access: 'write' }, { secret: 'another-secret-another-secret-another-secret' })}`,
    },
    {
      name: 'expired token', status: 401, reason: /^token expired$/,
      url: async (b) => `${b}/notes/a?token=${await sign({ rooms: ['notes/*'], access: 'write' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })}`,
    },
    {
      name: 'token without expiry', status: 401, reason: /exp claim/,
      url: async (b) => {
        const { SignJWT } = await import('jose')
        const t = await new SignJWT({ rooms: ['notes/*'] }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET))
        return `${b}/notes/a?token=${t}`
      },
    },
    { name: 'garbage token', status: 401, reason: /malformed|invalid token/, url: async (b) => `${b}/notes/a?token=not.a.jwt` },
    {
      name: 'wrong room', status: 403, reason: /does not grant this room/,
      url: async (b) => `${b}/secret/a?token=${await sign({ rooms: ['notes/*'], access: 'write' })}`,
    },
    {
      name: 'pattern does not cross segments', status: 403, reason: /does not grant this room/,
      url: async (b) => `${b}/notes/a/b?token=${await sign({ rooms: ['notes/*'], access: 'write' })}`,
    },
    {
      name: 'wrong origin', status: 403, reason: /^origin not allowed$/,
      url: async (b) => `${b}/notes/a?token=${await sign({ rooms: ['notes/*'], access: 'write' })}`,
      headers: { Origin: 'https://evil.example' },
    },
  ]

  for (const c of cases) {
    test(`${c.name} → ${c.status}, no room loaded, the log says why`, async () => {
      const { server, lines } = await start({ allowedOrigins: ['https://notes.example'] })
      const result = await attempt(await c.url(server.url), { headers: c.headers })
      expectRefused(result, c.status, c.reason)
      expect(server.rooms.size).toBe(0)
      expect(server.connections.size).toBe(0)
      const logged = refusalLogs(lines)
      expect(logged).toHaveLength(1)
      expect(logged[0]).toMatchObject({ status: c.status, level: 30 })
      expect(String(logged[0].reason)).toMatch(c.reason)
      // The token never appears in the logs.
      expect(JSON.stringify(lines)).not.toMatch(/token=ey/)
    })
  }
})

describe('accepted tokens', () => {
  test('a write token in the query opens its room; an allowed origin passes', async () => {
    const { server } = await start({ allowedOrigins: ['https://notes.example'] })
    const token = await sign({ rooms: ['notes/*'], access: 'write', sub: 'ada' })
    const result = await attempt(`${server.url}/notes/a?token=${token}`, { headers: { Origin: 'https://notes.example' } })
    expect(result.open).toBe(true)
    if (result.open) sockets.push(result.ws)
    const a = await new TestClient(server.url, 'notes/a', `?token=${token}`).connect()
    const b = await new TestClient(server.url, 'notes/a', `?token=${token}`).connect()
    clients.push(a, b)
    a.doc.getText('t').insert(0, 'hi')
    await waitFor(() => b.text === 'hi', 'b to see the edit')
    expect(server.rooms.get('notes/a')?.document.doc.getText('t').toString()).toBe('hi')
  })

  test('a token offered as a subprotocol is accepted and the answer is another offered protocol', async () => {
    const { server } = await start()
    const token = await sign({ rooms: 'notes/**', access: 'write' })
    const withName = await attempt(`${server.url}/notes/deep/room`, { protocols: ['concord', token] })
    expect(withName.open && withName.protocol).toBe('concord')
    const alone = await attempt(`${server.url}/notes/deep/room`, { protocols: [token] })
    expect(alone.open && alone.protocol).toBe(token) // a browser needs an offered protocol back
    for (const r of [withName, alone]) if (r.open) sockets.push(r.ws)
  })

  test('a connection is closed with 4401 when its token expires', async () => {
    const { server } = await start()
    const token = await sign({ rooms: ['notes/a'], access: 'write' }, { expiresIn: Math.floor(Date.now() / 1000) + 2 })
    const c = await new TestClient(server.url, 'notes/a', `?token=${token}`).connect()
    clients.push(c)
    expect(await c.closed(10_000)).toBe(CloseCode.Unauthorized)
    expect(c.closeReason).toBe('token expired')
  })

  test('asymmetric keys: Ed25519 and ES256 tokens verify; an HS256 token forged with the public key does not', async () => {
    for (const type of ['ed25519', 'ec'] as const) {
      const pair = type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        : generateKeyPairSync('ed25519')
      const file = join(tempDir(), 'public.pem')
      const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string
      writeFileSync(file, pem)
      const { server, lines } = await start({ authSecret: null, authPublicKey: file })
      const good = await sign({ rooms: ['r'], access: 'write' }, { key: pair.privateKey, alg: type === 'ec' ? 'ES256' : 'EdDSA' })
      const ok = await attempt(`${server.url}/r?token=${good}`)
      expect(ok.open).toBe(true)
      if (ok.open) ok.ws.terminate()
      const forged = await sign({ rooms: ['r'], access: 'write' }, { secret: pem })
      expectRefused(await attempt(`${server.url}/r?token=${forged}`), 401, /algorithm not allowed/)
      expect(refusalLogs(lines)).toHaveLength(1)
      await server.close()
    }
  })
})

describe('the authenticate hook', () => {
  test('it runs before any room is loaded and can refuse with its own reason', async () => {
    const seen: Array<{ room: string; rooms: number }> = []
    const { server, lines } = await start({
      authSecret: null,
      authenticate: async (req, room) => {
        seen.push({ room, rooms: server.rooms.size })
        return req.headers.cookie === 'session=ok'
          ? { ok: true, user: 'cookie-user', access: 'write' }
          : { ok: false, status: 403, reason: 'no session' }
      },
    })
    expectRefused(await attempt(`${server.url}/doc`), 403, /^no session$/)
    expect(server.rooms.size).toBe(0)
    const ok = await attempt(`${server.url}/doc`, { headers: { cookie: 'session=ok' } })
    expect(ok.open).toBe(true)
    if (ok.open) sockets.push(ok.ws)
    expect(seen).toEqual([{ room: 'doc', rooms: 0 }, { room: 'doc', rooms: 0 }])
    expect(refusalLogs(lines).map((l) => l.reason)).toEqual(['no session'])
  })

  test('a hook that throws refuses with 500 and logs the error; the server carries on', async () => {
    const { server, lines } = await start({
      authSecret: null,
      authenticate: (_req, room) => {
        if (room === 'boom') throw new Error('directory unreachable')
        return { ok: true, user: null, access: 'write' }
      },
    })
    expectRefused(await attempt(`${server.url}/boom`), 500, /authentication failed/)
    expect(lines.some((l) => l.msg === 'authenticate failed' && JSON.stringify(l.err).includes('directory unreachable'))).toBe(true)
    const c = await new TestClient(server.url, 'fine').connect()
    clients.push(c)
  })

  test('verifyToken and tokenOf can be combined inside a hook', async () => {
    const token = await sign({ rooms: ['a/*'], access: 'read', sub: 'bo' })
    const req = { url: `/a/b?token=${token}`, headers: {} } as Parameters<typeof tokenOf>[0]
    const key = { key: new TextEncoder().encode(SECRET), algorithms: ['HS256'] }
    expect(await verifyToken(tokenOf(req), 'a/b', key)).toMatchObject({ ok: true, user: 'bo', access: 'read' })
  })
})

describe('limits at the upgrade affect only the offender', () => {
  test('connections per IP → 429; the others keep working', async () => {
    const { server, lines } = await start({ authSecret: null, maxConnectionsPerIp: 2 })
    const a = await new TestClient(server.url, 'r').connect()
    const b = await new TestClient(server.url, 'r').connect()
    clients.push(a, b)
    expectRefused(await attempt(`${server.url}/r`), 429, /too many connections from this address/)
    expect(refusalLogs(lines)[0]).toMatchObject({ status: 429, ip: '127.0.0.1' })
    a.doc.getText('t').insert(0, 'still here')
    await waitFor(() => b.text === 'still here', 'b to see a')
    a.destroy()
    await waitFor(() => server.connections.size === 1, 'the slot to be released')
    const c = await new TestClient(server.url, 'r').connect()
    clients.push(c)
    expect(c.text).toBe('still here')
  })

  test('connections per room → 429, other rooms open', async () => {
    const { server } = await start({ authSecret: null, maxConnectionsPerRoom: 1 })
    clients.push(await new TestClient(server.url, 'full').connect())
    expectRefused(await attempt(`${server.url}/full`), 429, /too many connections to this room/)
    clients.push(await new TestClient(server.url, 'other').connect())
  })

  test('rooms loaded → 503 for a new room, existing rooms still join', async () => {
    const { server } = await start({ authSecret: null, maxRooms: 1 })
    clients.push(await new TestClient(server.url, 'one').connect())
    expectRefused(await attempt(`${server.url}/two`), 503, /too many rooms loaded/)
    expect(server.rooms.size).toBe(1)
    clients.push(await new TestClient(server.url, 'one').connect())
  })
})

test('TLS: --tls-cert and --tls-key serve wss://', async () => {
  const dir = tempDir()
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' })
  const { server } = await start({ tlsCert: cert, tlsKey: key })
  expect(server.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/)
  const token = await sign({ rooms: ['secure'], access: 'write' })
  const ok = await attempt(`${server.url}/secure?token=${token}`, { ca: readFileSync(cert) })
  expect(ok.open).toBe(true)
  if (ok.open) ok.ws.terminate()
  expectRefused(await attempt(`${server.url}/secure`, { ca: readFileSync(cert) }), 401, /missing token/)
})
