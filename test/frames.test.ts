// The send path writes frames to sockets itself (framed once per broadcast): what clients
// receive must be exactly what ws would have sent, for every frame-length encoding.
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import { startServer, TestClient, waitFor } from './helpers.js'
import type { ConcordServer } from '../server/server.js'

let server: ConcordServer
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
})

test('small, 16-bit and 64-bit length updates reach every receiver intact', async () => {
  server = await startServer()
  const writer = await new TestClient(server.url, 'frames').connect()
  const readers = await Promise.all([1, 2, 3].map(() => new TestClient(server.url, 'frames').connect()))
  clients.push(writer, ...readers)
  const text = writer.doc.getText('t')
  text.insert(0, 'a') // < 126 bytes
  text.insert(1, 'b'.repeat(1000)) // 16-bit length
  text.insert(0, 'c'.repeat(20_000)) // above the copy limit, 16-bit length
  text.insert(5, 'd'.repeat(70_000)) // 64-bit length
  const expected = text.toString()
  for (const r of readers) await waitFor(() => r.text === expected, 'a reader to converge', 10_000)
  expect(writer.count('update')).toBe(0)
})

test('a late joiner gets a large document in its sync step 2, twice in a row the same', async () => {
  server = await startServer()
  const writer = await new TestClient(server.url, 'big').connect()
  clients.push(writer)
  writer.doc.getText('t').insert(0, 'x'.repeat(100_000))
  const first = await new TestClient(server.url, 'big').connect()
  const second = await new TestClient(server.url, 'big').connect()
  clients.push(first, second)
  for (const c of [first, second]) {
    await waitFor(() => c.text.length === 100_000, 'the joiner to hold the document', 10_000)
    expect(Y.encodeStateVector(c.doc)).toEqual(Y.encodeStateVector(writer.doc))
  }
})

test('a connection sent nothing gets the keepalive frame', async () => {
  server = await startServer({ keepaliveMs: 200, pingIntervalMs: 60_000 })
  const idle = await new TestClient(server.url, 'quiet').connect()
  clients.push(idle)
  const before = idle.count('awareness')
  await waitFor(() => idle.count('awareness') > before, 'a keepalive', 5000)
  const keepalive = idle.received.filter((m) => m.type === 'awareness').pop()
  expect(keepalive?.type === 'awareness' && [...keepalive.update]).toEqual([0])
})

test('a busy connection gets no keepalive', async () => {
  server = await startServer({ keepaliveMs: 400, pingIntervalMs: 60_000 })
  const writer = await new TestClient(server.url, 'busy').connect()
  const reader = await new TestClient(server.url, 'busy').connect()
  clients.push(writer, reader)
  const start = reader.count('awareness')
  const text = writer.doc.getText('t')
  const deadline = Date.now() + 1500
  while (Date.now() < deadline) {
    text.insert(0, 'k')
    await new Promise((r) => setTimeout(r, 50))
  }
  expect(reader.count('awareness')).toBe(start)
})
