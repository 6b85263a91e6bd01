// Attacks on the plain HTTP side (issue 21, items 4–6), each replayed against a real server
// on 127.0.0.1: a foreign page's POST, reads that would fill --max-rooms, request floods from
// one address, slow and aborted bodies, room listing with partial grants. A second source
// address is 127.0.0.2 (Linux routes all of 127.0.0.0/8 to loopback).
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import type { ConcordServer } from '../../server/server.js'
import { memoryStorage } from '../../server/storage/memory.js'
import { captureLog, SECRET, sign } from '../authHelpers.js'
import { sleep, startServer, TestClient, waitFor } from '../helpers.js'

const servers: ConcordServer[] = []
const clients: TestClient[] = []
const sockets: net.Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
})

async function start(options: Parameters<typeof startServer>[0]): Promise<ConcordServer> {
  const server = await startServer(options)
  servers.push(server)
  return server
}

const portOf = (server: ConcordServer) => (server.http.address() as AddressInfo).port

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/// One HTTP request on its own connection, from `from` (a local address) if given.
function request(
  server: ConcordServer,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: Uint8Array; from?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: portOf(server), path, method: init.method ?? 'GET', headers: init.headers, localAddress: init.from, agent: false },
      (res) => {
        let body = ''
        res.setEncoding('latin1')
        res.on('data', (chunk: string) => { body += chunk })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(init.body)
  })
}

/// A POST that sends its headers and 10 of the 1000 bytes it announces, then nothing more.
/// `handled` resolves once the server's handler has the request (Node answers
/// `Expect: 100-continue` as it hands the request over); `reply` resolves with whatever the
/// server sent once the connection closes.
function slowPost(server: ConcordServer, path: string): { socket: net.Socket; handled: Promise<void>; reply: Promise<string> } {
  const socket = net.connect(portOf(server), '127.0.0.1')
  sockets.push(socket)
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n` +
      `Expect: 100-continue\r\n\r\n${'x'.repeat(10)}`,
  )
  let got = ''
  socket.setEncoding('latin1')
  socket.on('error', () => undefined)
  const handled = new Promise<void>((resolve) => {
    socket.on('data', (chunk: string) => {
      got += chunk
      if (got.startsWith('HTTP/1.1 100 ')) resolve()
    })
  })
  const reply = new Promise<string>((resolve) => socket.on('close', () => resolve(got)))
  return { socket, handled, reply }
}

/// Fail with `what` unless `promise` settles within `ms` (a bound on the wait, not a measurement).
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => { throw new Error(`no ${what} within ${ms} ms`) })])
}

/// A binary Yjs update inserting `text` into the editor's Y.Text.
function updateWith(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('codemirror').insert(0, text)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

test('with --allowed-origins, a POST from a foreign page is refused with 403 and nothing is stored', async () => {
  const store = memoryStorage()
  const server = await start({ store, allowedOrigins: ['https://notes.example'], unloadAfterMs: 0 })
  const post = (headers: Record<string, string>) =>
    request(server, '/api/rooms/target/update', { method: 'POST', headers, body: updateWith('forged') })
  const foreign: Array<Record<string, string>> = [
    { origin: 'https://evil.example' },
    { origin: 'null' }, // a sandboxed frame or a file:// page
    { 'sec-fetch-site': 'cross-site' }, // a browser that withheld Origin
  ]
  for (const headers of foreign) {
    const res = await post(headers)
    expect(res.status, JSON.stringify(headers)).toBe(403)
    expect(JSON.parse(res.body)).toEqual({ error: expect.stringMatching(/not allowed/) })
  }
  expect(await store.load('target')).toEqual([])
  expect((await request(server, '/api/rooms/target/text')).status).toBe(404)

  // The allowed origin, and clients that are not browsers, may write.
  expect((await post({ origin: 'https://notes.example' })).status).toBe(200)
  expect((await post({})).status).toBe(200)
  // Reads stay open to any origin: a page cannot read the answer without CORS headers.
  expect((await request(server, '/api/rooms/target/text', { headers: { origin: 'https://evil.example' } })).status).toBe(200)
})

test('reads of rooms that do not exist answer 404 and take no room slot: a new room still opens', async () => {
  const server = await start({ maxRooms: 2 })
  for (let i = 0; i < 10; i++) {
    for (const action of ['text', 'update']) {
      const res = await request(server, `/api/rooms/ghost-${i}/${action}`)
      expect(res.status).toBe(404)
      expect(JSON.parse(res.body)).toEqual({ error: 'no such room' })
    }
  }
  expect(server.rooms.size).toBe(0)
  const legit = new TestClient(server.url, 'legit')
  clients.push(legit)
  await legit.connect()
  expect(legit.closeCode).toBe(null)
})

test('one address over --api-requests-per-second gets 429 with Retry-After; another address does not', async () => {
  const server = await start({ apiRequestsPerSecond: 1, apiRequestBurst: 2 })
  const replies = await Promise.all(Array.from({ length: 10 }, () => request(server, '/api/rooms')))
  const refused = replies.filter((r) => r.status === 429)
  expect(replies.filter((r) => r.status === 200).length).toBeLessThanOrEqual(4)
  expect(refused.length).toBeGreaterThanOrEqual(6)
  expect(Number(refused[0].headers['retry-after'])).toBeGreaterThanOrEqual(1)
  expect(JSON.parse(refused[0].body)).toEqual({ error: 'too many requests from this address' })
  expect((await request(server, '/api/rooms', { from: '127.0.0.2' })).status).toBe(200)
  // Health checks are not API requests.
  expect((await request(server, '/healthz')).status).toBe(200)
})

test('one address may hold --max-http-requests-per-ip requests in progress; more get 429, others go on', async () => {
  const server = await start({ maxHttpRequestsPerIp: 2 })
  const held = [slowPost(server, '/api/rooms/a/update'), slowPost(server, '/api/rooms/b/update')]
  await within(Promise.all(held.map((h) => h.handled)), 5000, 'held requests')
  const refused = await request(server, '/healthz')
  expect(refused.status).toBe(429)
  expect(JSON.parse(refused.body)).toEqual({ error: 'too many requests in progress from this address' })
  expect((await request(server, '/healthz', { from: '127.0.0.2' })).status).toBe(200)
  // Giving up the held requests frees the address's slots.
  for (const h of held) h.socket.destroy()
  await Promise.all(held.map((h) => h.reply))
  let status = 0
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await request(server, '/healthz')).status
    if (status !== 200) await sleep(10)
  }
  expect(status).toBe(200)
})

test('a slow body gets 408 and its connection closed; the server carries on', async () => {
  const server = await start({ requestTimeoutMs: 300 })
  const slow = slowPost(server, '/api/rooms/slow/update')
  expect(await within(slow.reply, 5000, 'answer to the slow body')).toMatch(/\r\n\r\nHTTP\/1\.1 408 /) // after the 100
  expect((await request(server, '/api/rooms/fine/update', { method: 'POST', body: updateWith('ok') })).status).toBe(200)
  expect(server.rooms.get('slow')).toBe(undefined)
})

test('request bodies still arriving count in --max-incomplete-bytes: the one over it gets 503, the server carries on', async () => {
  const server = await start({ maxIncompleteBytes: 1024 })
  const first = slowPost(server, '/api/rooms/held/update') // holds 10 bytes, promises 1000
  await within(first.handled, 5000, 'the first request to reach the API')
  const socket = net.connect(portOf(server), '127.0.0.1')
  sockets.push(socket)
  let got = ''
  socket.setEncoding('latin1').on('data', (c: string) => { got += c }).on('error', () => undefined)
  socket.write(`POST /api/rooms/big/update HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n${'x'.repeat(2000)}`)
  await waitFor(() => / 503 /.test(got), 'the request over the budget to be refused')
  first.socket.destroy()
  expect((await request(server, '/api/rooms/fine/update', { method: 'POST', body: updateWith('ok') })).status).toBe(200)
})

test('a POST aborted mid-body is logged at debug, not as an error', async () => {
  const { logger, lines } = captureLog()
  const server = await start({ logger })
  const aborted = slowPost(server, '/api/rooms/aborted/update')
  await within(aborted.handled, 5000, 'the request to reach the API')
  aborted.socket.destroy()
  await waitFor(() => lines.some((l) => /HTTP API request/.test(String(l.msg))), 'the request to be logged')
  expect(lines.filter((l) => Number(l.level) >= 50)).toEqual([])
  expect(lines.find((l) => /HTTP API request/.test(String(l.msg)))).toMatchObject({ level: 20, msg: 'HTTP API request aborted by the client' })
  expect((await request(server, '/api/rooms/fine/update', { method: 'POST', body: updateWith('ok') })).status).toBe(200)
  expect(server.rooms.get('aborted')).toBe(undefined)
})

test('a token granting */** or ?/** lists only the rooms it grants', async () => {
  const server = await start({ authSecret: SECRET })
  // The list holds stored rooms: each gets an edit.
  for (const room of ['top', 'a/b', 'team/notes']) {
    const c = new TestClient(server.url, room, `?token=${await sign({ rooms: room, access: 'write' })}`)
    clients.push(c)
    await c.connect()
    c.doc.getText('t').insert(0, room)
    await waitFor(() => server.rooms.get(room)?.document.version !== undefined && server.rooms.get(room)!.document.doc.getText('t').length > 0, 'the edit')
  }
  const list = async (rooms: string[]) => {
    const res = await request(server, '/api/rooms', { headers: { authorization: `Bearer ${await sign({ rooms })}` } })
    expect(res.status).toBe(200)
    return (JSON.parse(res.body) as { rooms: Array<{ name: string }> }).rooms.map((r) => r.name)
  }
  expect(await list(['*/**'])).toEqual(['a/b', 'team/notes'])
  expect(await list(['?/**'])).toEqual(['a/b'])
  expect(await list(['*'])).toEqual(['top'])
  expect(await list(['nothing/here'])).toEqual([])
  expect(await list(['**'])).toEqual(['a/b', 'team/notes', 'top'])
})
