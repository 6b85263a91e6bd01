// Bad or slow peers get a defined close code and nobody else notices: malformed frames (4400),
// oversized messages (1009), slow consumers (1013, with buffered bytes capped), keepalive
// frames for idle connections, and ping/pong dropping peers that stopped answering.
import v8 from 'node:v8'
import vm from 'node:vm'
import { afterEach, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { CloseCode } from '../server/protocol/closeCodes.js'
import type { Connection } from '../server/net/connection.js'
import { KEEPALIVE_FRAME, decodeFrame, encodeUpdate } from '../server/protocol/messages.js'
import { memoryStorage } from '../server/storage/memory.js'
import type { ConcordServer } from '../server/server.js'
import { sleep, startServer, TestClient, waitFor } from './helpers.js'

let server: ConcordServer
const clients: TestClient[] = []
const sockets: WebSocket[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const s of sockets.splice(0)) s.terminate()
  await server?.close()
})

async function join(room: string): Promise<TestClient> {
  const c = new TestClient(server.url, room)
  clients.push(c)
  return c.connect()
}

/// A raw socket that records every frame it receives.
async function rawSocket(room: string, options: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; frames: Uint8Array[] }> {
  const ws = new WebSocket(`${server.url}/${room}`, options)
  sockets.push(ws)
  const frames: Uint8Array[] = []
  ws.on('message', (data: Buffer) => frames.push(new Uint8Array(data)))
  ws.on('error', () => undefined)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return { ws, frames }
}

/// The two well-behaved clients keep editing and converging after the offender left.
async function othersCarryOn(room: string, a: TestClient, b: TestClient, tag: string): Promise<void> {
  a.doc.getText('t').insert(0, `${tag}-a `)
  b.doc.getText('t').insert(0, `${tag}-b `)
  const serverText = () => server.rooms.get(room)?.document.doc.getText('t').toString()
  await waitFor(() => a.text === b.text && a.text === serverText() && a.text.includes(`${tag}-a`) && a.text.includes(`${tag}-b`), 'the others to converge')
  expect(a.closeCode).toBeNull()
  expect(b.closeCode).toBeNull()
}

const validUpdate = (): Uint8Array => {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'smuggled')
  return encodeUpdate(Y.encodeStateAsUpdate(doc))
}

describe('malformed frames close only the offender with 4400', () => {
  const cases: Array<[string, () => Buffer | string, RegExp]> = [
    ['garbage bytes', () => Buffer.from([0x2a, 0xde, 0xad, 0xbe, 0xef]), /^malformed message: unknown message type 42$/],
    ['a truncated varint', () => Buffer.from([0xde, 0xad, 0xbe, 0xef]), /^malformed message: truncated varint$/],
    ['a text frame', () => 'hello', /^text frames are not part of the protocol$/],
    ['a truncated frame', () => Buffer.from(validUpdate().subarray(0, 6)), /^malformed message: length \d+ exceeds the frame$/],
    ['an empty frame', () => Buffer.alloc(0), /^malformed message: empty frame$/],
    ['a valid update followed by garbage', () => Buffer.concat([validUpdate(), Buffer.from([0xff])]), /^malformed message: truncated varint$/],
    ['an update that is not Yjs', () => Buffer.from([0, 2, 3, 1, 2, 3]), /^malformed message: invalid Yjs update/],
    ['a state vector that is not Yjs', () => Buffer.from([0, 0, 3, 5, 0xff, 0xff]), /^malformed message: invalid state vector/],
    ['an awareness state that is not JSON', () => Buffer.from([1, 6, 1, 5, 1, 2, 0x7b, 0x21]), /^malformed message: awareness state is not valid JSON$/],
  ]
  test.each(cases)('%s', async (_name, frame, reason) => {
    server = await startServer()
    const a = await join('bad')
    const b = await join('bad')
    await othersCarryOn('bad', a, b, 'before')
    const offender = await join('bad')
    offender.awareness.setLocalState({ name: 'offender' })
    await waitFor(() => a.awareness.getStates().has(offender.doc.clientID), 'the offender to be visible')
    offender.ws.send(frame())
    expect(await offender.closed()).toBe(CloseCode.Malformed)
    expect(offender.closeReason).toMatch(reason)
    // Nothing of the refused frame reached anyone, and the offender's presence is gone.
    await waitFor(() => !a.awareness.getStates().has(offender.doc.clientID), 'the offender\'s presence to go')
    expect(a.text).not.toContain('smuggled')
    expect(server.rooms.get('bad')?.peers.size).toBe(2)
    await othersCarryOn('bad', a, b, 'after')
    expect(a.text).not.toContain('smuggled')
  })
})

describe('oversized messages', () => {
  test('a message above maxMessageBytes closes that connection with 1009; a large one below passes', async () => {
    const limit = 64 * 1024
    server = await startServer({ maxMessageBytes: limit })
    const a = await join('big')
    const b = await join('big')
    const sender = await join('big')

    // Just under the limit: relayed as usual.
    sender.doc.getText('t').insert(0, 'u'.repeat(limit - 100))
    await waitFor(() => a.text.length === limit - 100, 'the large edit to arrive')
    expect(sender.closeCode).toBeNull()

    const offender = await join('big')
    offender.ws.send(Buffer.alloc(limit + 1, 1))
    expect(await offender.closed()).toBe(CloseCode.TooLarge)
    await waitFor(() => server.rooms.get('big')?.peers.size === 3, 'the room to forget the offender')
    await othersCarryOn('big', a, b, 'still here')
    expect(sender.text).toBe(a.text)
  })
})

describe('WebSocket framing', () => {
  test('a frame that breaks RFC 6455 closes that connection with 1002; the room carries on', async () => {
    server = await startServer()
    const a = await join('framing')
    const b = await join('framing')
    const offender = await join('framing')
    // FIN, RSV1 and binary, masked with a zero key, empty: RSV1 without an extension is illegal.
    const socket = (offender.ws as unknown as { _socket: import('node:net').Socket })._socket
    socket.write(Buffer.from([0xc2, 0x80, 0, 0, 0, 0]))
    expect(await offender.closed()).toBe(CloseCode.ProtocolViolation)
    await waitFor(() => server.rooms.get('framing')?.peers.size === 2, 'the room to forget the offender')
    await othersCarryOn('framing', a, b, 'after the bad frame')
  })

  test('frames split across reads, and several frames in one read, arrive whole and in order', async () => {
    server = await startServer()
    const reader = await join('split')
    const writer = await join('split')
    const socket = (writer.ws as unknown as { _socket: import('node:net').Socket })._socket
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    for (let i = 0; i < 40; i++) doc.getText('t').insert(i, String.fromCharCode(97 + (i % 26)))
    // Client frames, masked with a zero key (masking is then a no-op), all in one buffer.
    const frames = Buffer.concat(updates.map((u) => {
      const message = encodeUpdate(u)
      return Buffer.concat([Buffer.from([0x82, 0x80 | message.length, 0, 0, 0, 0]), Buffer.from(message)])
    }))
    // Written in pieces of 7 bytes, one per turn (each its own read on the server), then the
    // same document's updates again as one write: every frame boundary falls somewhere else.
    for (let pos = 0; pos < frames.length; pos += 7) {
      socket.write(frames.subarray(pos, pos + 7))
      await sleep(1)
    }
    const expected = doc.getText('t').toString()
    await waitFor(() => reader.text === expected, 'the split frames to arrive')
    socket.write(frames)
    await sleep(50)
    expect(reader.text).toBe(expected)
    expect(writer.closeCode).toBeNull()
    doc.destroy()
  })
})

// Expose the collector so heap figures are live objects only, not garbage waiting.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

function memory(): { heap: number; buffers: number; rss: number } {
  gc()
  gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss }
}

const MiB = 1024 * 1024
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`

describe('slow consumers', () => {
  test('a client that never reads is closed with 1013 while another floods; buffered bytes stay capped', { timeout: 120_000 }, async () => {
    const maxBufferedBytes = 256 * 1024
    // The real memory store, so what it keeps can be told apart from what the server buffers.
    const store = memoryStorage()
    // No compaction: its merges run on a worker thread whose garbage this process's gc()
    // cannot collect, and would blur what the slow consumer's queue retains.
    server = await startServer({ maxBufferedBytes, store, compactAfterUpdates: 1e9, compactAfterBytes: 1e12 })
    // Raw sockets on the client side: TestClient keeps every frame it sees, which would blur
    // the server's figures (all of this runs in one process).
    const reader = await rawSocket('flood')
    const readerDoc = new Y.Doc()
    reader.ws.removeAllListeners('message')
    reader.ws.on('message', (data: Buffer) => {
      for (const m of decodeFrame(new Uint8Array(data))) if (m.type === 'update') Y.applyUpdate(readerDoc, m.update)
    })
    const flooder = await rawSocket('flood')
    flooder.ws.removeAllListeners('message')
    const known = new Set(server.connections)
    const slow = await rawSocket('flood')
    await waitFor(() => server.rooms.get('flood')?.peers.size === 3, 'the slow client to join')
    const slowConn = [...server.connections].find((c) => !known.has(c)) as Connection
    // Watch the slow connection's queue right after every frame the room hands it.
    let maxBuffered = 0
    let largestFrame = 0
    const send = slowConn.send.bind(slowConn)
    slowConn.send = (frame: Uint8Array) => {
      send(frame)
      largestFrame = Math.max(largestFrame, frame.length)
      maxBuffered = Math.max(maxBuffered, slowConn.ws.bufferedAmount)
    }
    slow.ws.pause() // stop reading from the socket: the kernel buffers fill, then ws's queue

    const floodDoc = new Y.Doc()
    let pending: Uint8Array[] = []
    floodDoc.on('update', (u: Uint8Array) => pending.push(u))
    const text = floodDoc.getText('t')
    const before = memory()
    const chunk = 64 * 1024
    let flooded = 0
    let floodedAtClose = 0
    // Flood until the slow client is cut off, then on to at least 48 MiB, so an uncapped queue
    // would show as some 40 MiB of growth beyond what the store keeps.
    while (floodedAtClose === 0 || flooded < Math.max(2 * floodedAtClose, 48 * MiB)) {
      text.insert(0, String.fromCharCode(97 + ((flooded / chunk) % 26)).repeat(chunk))
      text.delete(0, chunk) // keep the documents small: what grows must be buffers
      for (const u of pending) flooder.ws.send(encodeUpdate(u))
      pending = []
      flooded += chunk
      if (slowConn.closeCode !== null && floodedAtClose === 0) floodedAtClose = flooded
      // Respect the flooder's own backpressure; give the server turns to relay. The reader,
      // in this same process, is let catch up every two chunks: on a busy machine it would
      // otherwise fall behind by more than maxBufferedBytes and be closed as slow itself.
      while (flooder.ws.bufferedAmount > MiB) await sleep(1)
      if ((flooded / chunk) % 2 === 0) {
        const caughtUp = () => reader.ws.readyState !== WebSocket.OPEN || Buffer.from(Y.encodeStateVector(readerDoc)).equals(Buffer.from(Y.encodeStateVector(floodDoc)))
        await waitFor(caughtUp, 'the reader to take in the flood', 30_000)
      }
      if (flooded > 160 * MiB) throw new Error('the slow consumer was never closed')
    }
    const serverDoc = () => server.rooms.get('flood')?.document.doc as Y.Doc
    const sameState = (a: Y.Doc, b: Y.Doc) => Buffer.from(Y.encodeStateVector(a)).equals(Buffer.from(Y.encodeStateVector(b)))
    await waitFor(() => sameState(readerDoc, floodDoc) && sameState(serverDoc(), floodDoc), 'the reader to keep up', 30_000)
    await server.rooms.flushAll()
    const after = memory()
    const stored = (await store.load('flood')).reduce((n, u) => n + u.byteLength, 0)
    const growth = after.heap + after.buffers - (before.heap + before.buffers)
    console.log(
      `slow consumer: closed with ${slowConn.closeCode} after ${mib(floodedAtClose)} of ${mib(flooded)} flooded; ` +
        `its ws queue peaked at ${mib(maxBuffered)} (largest frame ${mib(largestFrame)}); ` +
        `heap ${mib(before.heap)} → ${mib(after.heap)}, array buffers ${mib(before.buffers)} → ${mib(after.buffers)}, ` +
        `rss ${mib(before.rss)} → ${mib(after.rss)}; the store holds ${mib(stored)}; growth beyond it ${mib(growth - stored)}`,
    )

    expect(slowConn.closeCode).toBe(CloseCode.TryAgainLater)
    // The cap holds: the queue never went beyond the limit plus the frame that crossed it.
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferedBytes + largestFrame + 16)
    expect(growth - stored).toBeLessThan(16 * MiB)
    expect(reader.ws.readyState).toBe(WebSocket.OPEN)
    expect(flooder.ws.readyState).toBe(WebSocket.OPEN)
    expect(server.rooms.get('flood')?.peers.size).toBe(2)

    // When it reads again, the slow client finds the 1013 close after what was buffered.
    const code = new Promise<number>((resolve) => slow.ws.once('close', (c: number) => resolve(c)))
    slow.ws.removeAllListeners('message')
    slow.ws.resume()
    expect(await code).toBe(CloseCode.TryAgainLater)
    readerDoc.destroy()
    floodDoc.destroy()
  })
})

describe('large frames to healthy peers', () => {
  test('a joiner whose sync reply alone exceeds maxBufferedBytes is not cut off as slow', async () => {
    server = await startServer({ maxBufferedBytes: 64 * 1024 })
    const writer = await join('large')
    for (let i = 0; i < 8; i++) writer.doc.getText('t').insert(0, String(i).repeat(1024 * 1024))
    await waitFor(() => server.rooms.get('large')?.document.doc.getText('t').length === 8 * 1024 * 1024, 'the server to hold 8 MiB', 20_000)
    const joiner = await join('large')
    expect(joiner.text).toBe(writer.text)
    await sleep(200)
    writer.doc.getText('t').insert(0, 'after')
    await waitFor(() => joiner.text.startsWith('after'), 'the next update')
    expect(joiner.closeCode).toBeNull()
  })
})

describe('keepalive', () => {
  test('an idle client receives only keepalive frames, about every keepaliveMs', async () => {
    server = await startServer({ keepaliveMs: 200 })
    const idle = await rawSocket('idle')
    const arrivals: number[] = []
    idle.ws.on('message', () => arrivals.push(performance.now()))
    await waitFor(() => idle.frames.length >= 6, 'five keepalive frames', 10_000)
    expect(idle.frames[0][0]).toBe(0) // sync step 1, then nothing but keepalives
    for (const frame of idle.frames.slice(1)) expect(frame).toEqual(KEEPALIVE_FRAME)
    // Paced by keepaliveMs, not sent on every heartbeat tick (50 ms): judge the mean gap, as a
    // busy event loop may deliver two frames together.
    const meanGap = (arrivals[arrivals.length - 1] - arrivals[0]) / (arrivals.length - 1)
    expect(meanGap).toBeGreaterThanOrEqual(180)
    expect(server.connections.size).toBe(1)
  })

  test('a client that is being sent updates gets no keepalive', async () => {
    server = await startServer({ keepaliveMs: 500 })
    const writer = await join('busy')
    const busy = await join('busy')
    const deadline = Date.now() + 1500
    while (Date.now() < deadline) {
      writer.doc.getText('t').insert(0, 'x')
      await sleep(50)
    }
    await waitFor(() => busy.text === writer.text, 'the reader to catch up')
    expect(busy.count('update')).toBeGreaterThan(10)
    expect(busy.count('awareness')).toBe(0)
  })
})

describe('ping/pong', () => {
  test('a client that stops answering pings is terminated; one that answers stays', async () => {
    server = await startServer({ pingIntervalMs: 200 })
    const watcher = await join('ping')
    const alive = await rawSocket('ping')
    const dead = await rawSocket('ping', { autoPong: false })
    dead.ws.send(Uint8Array.of(1, 6, 1, 0x65, 1, 2, 0x7b, 0x7d)) // an awareness state for client 101
    await waitFor(() => watcher.awareness.getStates().has(101), 'the silent client\'s presence')
    let pings = 0
    dead.ws.on('ping', () => pings++)
    const start = performance.now()
    const code = await new Promise<number>((resolve) => dead.ws.once('close', (c: number) => resolve(c)))
    const ms = performance.now() - start
    console.log(`unanswered pings: terminated after ${ms.toFixed(0)} ms and ${pings} pings`)
    expect(code).toBe(1006) // terminated, no closing handshake
    expect(pings).toBeGreaterThanOrEqual(1)
    await waitFor(() => !watcher.awareness.getStates().has(101), 'the silent client\'s presence to go')
    await sleep(600) // three more ping rounds
    expect(alive.ws.readyState).toBe(WebSocket.OPEN)
    expect(watcher.closeCode).toBeNull()
    expect(server.connections.size).toBe(2)
  })
})
