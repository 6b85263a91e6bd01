// What a browser page learns over HTTP that a refused WebSocket cannot tell it (the access
// preflight), and share tokens minted for a room at most at the sharer's own access.
import { decodeJwt } from 'jose'
import { afterEach, expect, test } from 'vitest'
import { shareSigner } from '../server/auth/token.js'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import { SECRET, sign } from './authHelpers.js'
import { startServer, TestClient } from './helpers.js'

const servers: ConcordServer[] = []
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
})

const httpOf = (server: ConcordServer) => server.url.replace('ws:', 'http:')
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

async function answer(res: Response): Promise<[number, Record<string, unknown>]> {
  return [res.status, (await res.json()) as Record<string, unknown>]
}

test('the access preflight answers what the upgrade would: name, token, room, origin, capacity', async () => {
  const server = await startServer({ store: memoryStorage(), authSecret: SECRET, maxConnectionsPerRoom: 1, allowedOrigins: ['https://app.example'] })
  servers.push(server)
  const http = httpOf(server)
  const access = (room: string, headers: Record<string, string> = {}) => fetch(`${http}/api/rooms/${room}/access`, { headers })
  expect(await answer(await access('a%01b'))).toEqual([400, { error: expect.stringMatching(/control characters/) }])
  expect(await answer(await access('notes'))).toEqual([401, { error: 'missing token' }])
  const expired = await sign({ rooms: 'notes', access: 'write' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })
  expect(await answer(await access('notes', bearer(expired)))).toEqual([401, { error: 'token expired' }])
  const other = await sign({ rooms: 'other' })
  expect(await answer(await access('notes', bearer(other)))).toEqual([403, { error: 'token does not grant this room' }])
  const writer = await sign({ rooms: 'notes', access: 'write', sub: 'ada' })
  expect(await answer(await access('notes', { ...bearer(writer), origin: 'https://evil.example' }))).toEqual([403, { error: 'origin not allowed' }])
  const [status, body] = await answer(await access('notes', bearer(writer)))
  expect(status).toBe(200)
  expect(body).toMatchObject({ room: 'notes', access: 'write', user: 'ada' })
  expect(body.expiresAt).toBeGreaterThan(Date.now())
  // The room's one slot taken: the preflight says what the upgrade would.
  const c = await new TestClient(server.url, 'notes', `?token=${writer}`).connect()
  clients.push(c)
  expect(await answer(await access('notes', bearer(writer)))).toEqual([429, { error: 'too many connections to this room' }])
})

test('share tokens: for the room alone, at most the sharer\'s access and lifetime; plain links without auth', async () => {
  const server = await startServer({ store: memoryStorage(), authSecret: SECRET })
  servers.push(server)
  const http = httpOf(server)
  const share = (room: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${http}/api/rooms/${room}/share`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const reader = await sign({ rooms: 'notes/*' })
  const writer = await sign({ rooms: 'notes/*', access: 'write' }, { expiresIn: '2h' })
  expect((await answer(await share('notes%2Fa', { access: 'write' }, bearer(reader))))).toEqual([403, { error: 'your access is read: you cannot share write access' }])
  expect((await share('notes%2Fa', { access: 'read' }, {})).status).toBe(401)
  expect((await answer(await share('notes%2Fa', { access: 'admin' }, bearer(writer))))[0]).toBe(400)
  expect((await answer(await share('notes%2Fa', { ttlSeconds: 5 }, bearer(writer))))[0]).toBe(400)
  const [status, body] = await answer(await share('notes%2Fa', { access: 'read', ttlSeconds: 7 * 86_400 }, bearer(writer)))
  expect(status).toBe(200)
  const claims = decodeJwt(body.token as string)
  expect(claims).toMatchObject({ rooms: ['notes/a'], access: 'read' })
  // Capped at the sharer's own expiry (2 h), not the 7 days asked for.
  expect(claims.exp! * 1000).toBeLessThanOrEqual(decodeJwt(writer).exp! * 1000)
  // The shared token opens that room read-only, and no other room.
  const shared = body.token as string
  expect(await answer(await fetch(`${http}/api/rooms/notes%2Fa/access`, { headers: bearer(shared) }))).toMatchObject([200, { access: 'read' }])
  expect((await fetch(`${http}/api/rooms/notes%2Fb/access`, { headers: bearer(shared) })).status).toBe(403)

  const open = await startServer({ store: memoryStorage() })
  servers.push(open)
  expect(await answer(await fetch(`${httpOf(open)}/api/rooms/x/share`, { method: 'POST', body: '{"access":"write"}' })))
    .toEqual([200, { room: 'x', token: null, access: 'write', expiresAt: null }])
  const hooked = await startServer({ store: memoryStorage(), authenticate: () => ({ ok: true, user: 'u', access: 'write' }) })
  servers.push(hooked)
  const [hookStatus, hookBody] = await answer(await fetch(`${httpOf(hooked)}/api/rooms/x/share`, { method: 'POST', body: '{}' }))
  expect(hookStatus).toBe(501)
  expect(hookBody.error).toMatch(/hook/)
})

test('a share link asked for a day lasts a day from its issue second, whatever millisecond it is signed in', async () => {
  const signer = shareSigner({ hook: false, publicKey: false, secret: SECRET })
  if (signer.kind !== 'sign') throw new Error('expected a signer')
  const asked = 1_700_000_000_000 // the request's instant, on a second boundary
  const signedAt = asked + 7 // signing happens a few milliseconds later
  const claims = decodeJwt(await signer.sign('r', 'read', asked + 86_400_000, signedAt))
  expect(claims.iat).toBe(1_700_000_000)
  expect(claims.exp! - claims.iat!).toBe(86_400)
})
