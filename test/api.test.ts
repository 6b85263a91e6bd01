// The HTTP API against a real server with connected `ws` clients.
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import { SECRET, sign } from './authHelpers.js'
import { startServer, TestClient, waitFor } from './helpers.js'

const servers: ConcordServer[] = []
const clients: TestClient[] = []
const docs: Y.Doc[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const d of docs.splice(0)) d.destroy()
  for (const s of servers.splice(0)) await s.close()
})

const httpOf = (server: ConcordServer) => server.url.replace('ws:', 'http:')
const text = (c: TestClient) => c.doc.getText('codemirror').toString()

/// A backend's edit: fetch the room's state, change it, POST the difference.
async function backendAppend(server: ConcordServer, room: string, suffix: string, headers: Record<string, string> = {}) {
  const doc = new Y.Doc()
  docs.push(doc)
  const current = await fetch(`${httpOf(server)}/api/rooms/${encodeURIComponent(room)}/update`, { headers })
  // 404: nothing stored yet, the room starts empty.
  if (current.status === 404) expect(await current.json()).toEqual({ error: 'no such room' })
  else {
    expect(current.status).toBe(200)
    expect(current.headers.get('content-type')).toBe('application/octet-stream')
    Y.applyUpdate(doc, new Uint8Array(await current.arrayBuffer()))
  }
  const before = Y.encodeStateVector(doc)
  const t = doc.getText('codemirror')
  t.insert(t.length, suffix)
  return fetch(`${httpOf(server)}/api/rooms/${encodeURIComponent(room)}/update`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body: new Uint8Array(Y.encodeStateAsUpdate(doc, before)),
  })
}

test('a POSTed update reaches connected clients and survives a restart', async () => {
  const store = memoryStorage()
  const first = await startServer({ store })
  servers.push(first)
  const a = await new TestClient(first.url, 'notes/today').connect()
  const b = await new TestClient(first.url, 'notes/today').connect()
  clients.push(a, b)
  a.doc.getText('codemirror').insert(0, 'hello')
  await waitFor(() => text(b) === 'hello', 'b to see a')

  const res = await backendAppend(first, 'notes/today', ' world')
  expect(res.status).toBe(200)
  expect(await res.json()).toMatchObject({ room: 'notes/today', stored: true })
  await waitFor(() => text(a) === 'hello world' && text(b) === 'hello world', 'both clients to receive the API edit')

  // GET returns what the clients have, by either spelling of the room.
  const http = httpOf(first)
  for (const path of ['notes/today', 'notes%2Ftoday']) {
    const got = await fetch(`${http}/api/rooms/${path}/text`)
    expect(got.status).toBe(200)
    expect(got.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(await got.text()).toBe('hello world')
  }
  const list = await (await fetch(`${http}/api/rooms`)).json()
  expect(list).toEqual({ rooms: [{ name: 'notes/today', connections: 2, bytes: expect.any(Number), createdAt: expect.any(Number), updatedAt: expect.any(Number) }], next: null })
  expect(list.rooms[0].bytes).toBeGreaterThan(10)

  for (const c of clients.splice(0)) c.destroy()
  await first.close()
  servers.splice(0)

  // A second server on the same store: the room is not loaded; reads come from the store
  // and do not load it.
  const second = await startServer({ store, unloadAfterMs: 50 })
  servers.push(second)
  expect(second.rooms.size).toBe(0)
  expect(await (await fetch(`${httpOf(second)}/api/rooms/notes%2Ftoday/text`)).text()).toBe('hello world')
  const whole = await fetch(`${httpOf(second)}/api/rooms/notes%2Ftoday/update`)
  const doc = new Y.Doc()
  docs.push(doc)
  Y.applyUpdate(doc, new Uint8Array(await whole.arrayBuffer()))
  expect(doc.getText('codemirror').toString()).toBe('hello world')
  expect(second.rooms.size).toBe(0)
})

test('GET returns what several clients typed; POST to an unloaded room is stored for later joiners', async () => {
  const server = await startServer({ unloadAfterMs: 20 })
  servers.push(server)
  const a = await new TestClient(server.url, 'shared').connect()
  const b = await new TestClient(server.url, 'shared').connect()
  clients.push(a, b)
  a.doc.getText('codemirror').insert(0, 'Grüße ')
  await waitFor(() => text(b) === 'Grüße ', 'b to see a')
  b.doc.getText('codemirror').insert(6, '😀 from b')
  await waitFor(() => text(a) === 'Grüße 😀 from b', 'a to see b')
  expect(await (await fetch(`${httpOf(server)}/api/rooms/shared/text`)).text()).toBe('Grüße 😀 from b')

  // Nobody is in "cold": it loads for the POST, stores, and unloads.
  expect((await backendAppend(server, 'cold', 'from the backend')).status).toBe(200)
  await waitFor(() => server.rooms.get('cold') === undefined, 'cold to unload')
  const late = await new TestClient(server.url, 'cold').connect()
  clients.push(late)
  expect(text(late)).toBe('from the backend')
})

test('bad room names, paths, methods and bodies get a JSON error and change nothing', async () => {
  const server = await startServer({ maxMessageBytes: 2048, maxRooms: 1 })
  servers.push(server)
  const a = await new TestClient(server.url, 'kept').connect()
  clients.push(a)
  a.doc.getText('codemirror').insert(0, 'intact')
  await waitFor(() => server.rooms.get('kept')?.document.doc.getText('codemirror').toString() === 'intact', 'the edit')
  const http = httpOf(server)
  const valid = (() => {
    const d = new Y.Doc()
    docs.push(d)
    d.getText('codemirror').insert(0, 'x')
    return new Uint8Array(Y.encodeStateAsUpdate(d))
  })()
  const cases: Array<[string, RequestInit, number, RegExp]> = [
    ['/api/rooms/%ZZ/text', {}, 400, /percent-encoding/],
    ['/api/rooms/a%01b/text', {}, 400, /control characters/],
    [`/api/rooms/${'x'.repeat(600)}/text`, {}, 400, /longer than 512 bytes/],
    ['/api/rooms/kept/nothing', {}, 404, /no such room/],
    ['/api/rooms/kept/versions/1/text', {}, 404, /no such version/],
    ['/api/rooms/kept/versions/1/restore', {}, 405, /not allowed/],
    ['/api/rooms/kept/versions', { method: 'POST', body: '{"label": 5}' }, 400, /label must be/],
    ['/api/rooms/kept/versions', { method: 'POST', body: '[' }, 400, /not JSON/],
    ['/api/rooms?order=sideways', {}, 400, /order must be/],
    ['/api/rooms?limit=0', {}, 400, /limit must be/],
    ['/api/rooms?cursor=nonsense', {}, 400, /bad cursor/],
    ['/api/rooms/kept/text', { method: 'POST', body: 'x' }, 405, /not allowed/],
    ['/api/rooms', { method: 'DELETE' }, 405, /not allowed/],
    ['/api/rooms/kept/update', { method: 'POST' }, 400, /empty body/],
    ['/api/rooms/kept/update', { method: 'POST', body: 'not a yjs update at all' }, 400, /not a Yjs update/],
    ['/api/rooms/kept/update', { method: 'POST', body: new Uint8Array(4096) }, 413, /larger than 2048 bytes/],
    ['/api/rooms/another/text', {}, 404, /no such room/],
    ['/api/rooms/another/update', { method: 'POST', body: valid }, 503, /too many rooms loaded/],
  ]
  for (const [path, init, status, message] of cases) {
    const res = await fetch(http + path, init)
    expect(res.status, `${init.method ?? 'GET'} ${path.slice(0, 40)}`).toBe(status)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect((await res.json()).error).toMatch(message)
  }
  expect((await fetch(`${http}/api/rooms/kept/text`, { method: 'PUT' })).headers.get('allow')).toBe('GET, HEAD')
  // The room and its client are untouched.
  expect(await (await fetch(`${http}/api/rooms/kept/text`)).text()).toBe('intact')
  expect(a.closeCode).toBe(null)
  expect(a.count('update')).toBe(0)
})

test('without a token 401, with a token for another room or read-only 403; a good token works', async () => {
  const server = await startServer({ authSecret: SECRET })
  servers.push(server)
  const a = await new TestClient(server.url, 'secret', `?token=${await sign({ rooms: 'secret', access: 'write' })}`).connect()
  clients.push(a)
  const http = httpOf(server)
  const bearer = async (claims: Parameters<typeof sign>[0], options?: Parameters<typeof sign>[1]) =>
    ({ authorization: `Bearer ${await sign(claims, options)}` })
  const body = (() => {
    const d = new Y.Doc()
    docs.push(d)
    d.getText('codemirror').insert(0, 'signed')
    return new Uint8Array(Y.encodeStateAsUpdate(d))
  })()
  const post = (headers: Record<string, string> = {}, query = '') =>
    fetch(`${http}/api/rooms/secret/update${query}`, { method: 'POST', body, headers })
  const expectError = async (res: Response, status: number, message: RegExp) => {
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect((await res.json()).error).toMatch(message)
  }
  await expectError(await fetch(`${http}/api/rooms/secret/text`), 401, /missing token/)
  await expectError(await fetch(`${http}/api/rooms`), 401, /missing token/)
  await expectError(await post(), 401, /missing token/)
  await expectError(await post({ authorization: 'Bearer not.a.token' }), 401, /invalid token/)
  await expectError(await post(await bearer({ rooms: 'secret', access: 'write' }, { secret: 'another-secret-another-secret-another-secret' })), 401, /bad signature/)
  await expectError(await post(await bearer({ rooms: 'secret', access: 'write' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })), 401, /expired/)
  await expectError(await post(await bearer({ rooms: 'other', access: 'write' })), 403, /does not grant this room/)
  await expectError(await post(await bearer({ rooms: 'secret', access: 'read' })), 403, /read-only/)
  await expectError(await fetch(`${http}/api/rooms/secret/text`, { headers: await bearer({ rooms: 'other/*' }) }), 403, /does not grant/)
  // A token lists only the rooms it grants.
  const granted = async (rooms: string[]) => (await fetch(`${http}/api/rooms`, { headers: await bearer({ rooms }) })).json()
  // Rooms are listed once something of them is stored: nothing yet.
  expect(await granted(['s*'])).toEqual({ rooms: [], next: null })
  expect(a.count('update')).toBe(0)

  expect((await post(await bearer({ rooms: 'secret', access: 'write', sub: 'backend' }))).status).toBe(200)
  await waitFor(() => text(a) === 'signed', 'the client to receive the authorised edit')
  // ?token= works as on the WebSocket; a read token may read.
  const read = await fetch(`${http}/api/rooms/secret/text?token=${await sign({ rooms: 's*' })}`)
  expect(read.status).toBe(200)
  expect(await read.text()).toBe('signed')
  const list = await fetch(`${http}/api/rooms`, { headers: await bearer({ rooms: '**' }) })
  expect(await list.json()).toMatchObject({ rooms: [{ name: 'secret', connections: 1 }], next: null })
  expect(await granted(['other', '*/*', '?/**'])).toEqual({ rooms: [], next: null })
  expect(await granted(['s*'])).toMatchObject({ rooms: [{ name: 'secret', connections: 1 }] })
})
