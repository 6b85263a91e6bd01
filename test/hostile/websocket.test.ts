// One connection trying to stall or exhaust the server through the WebSocket: awareness junk,
// half-sent messages, huge state vectors, updates that wait forever for what they build on.
// Each attack must land on the attacker (closed with a documented code, or its input bounded)
// while honest clients keep editing and converge.
import { readFileSync } from 'node:fs'
import { afterEach, expect, test } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { describe, sameHistory } from '../../server/cli/converge/shapes.js'
import { pendingBytes } from '../../server/room/integrate.js'
import { encodeAwareness, encodeSyncStep1, encodeUpdate, uintSize, writeUint } from '../../server/protocol/messages.js'
import type { ConcordServer, ServerOptions } from '../../server/server.js'
import { startServer, updatesOf, waitFor } from '../helpers.js'
import { spawnServer, type ServerProcess } from '../serverProcess.js'
import { YjsPeer } from '../yjsPeer.js'
import { frameHeader, openRaw, type RawSocket } from './rawSocket.js'

let server: ConcordServer | null = null
let proc: ServerProcess | null = null
const peers: YjsPeer[] = []
const sockets: Array<WebSocket | RawSocket> = []
afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy()
  for (const s of sockets.splice(0)) 'socket' in s ? s.socket.destroy() : s.terminate()
  await server?.close()
  server = null
  proc?.proc.kill('SIGKILL')
  proc = null
})

/// Varuints one after another.
function varuints(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.reduce((n, v) => n + uintSize(v), 0))
  let at = 0
  for (const v of values) at = writeUint(out, at, v)
  return out
}

/// Two honest peers in `room` that type and must converge with each other.
async function honestPair(url: string, room: string): Promise<[YjsPeer, YjsPeer]> {
  const pair: [YjsPeer, YjsPeer] = [new YjsPeer(url, room), new YjsPeer(url, room)]
  peers.push(...pair)
  await Promise.all(pair.map((p) => p.connect()))
  return pair
}

/// The honest peers type and converge, with no close codes.
async function stillServed([a, b]: [YjsPeer, YjsPeer]): Promise<void> {
  for (let i = 0; i < 10; i++) (i % 2 ? a : b).doc.getText('honest').insert(0, `${i}`)
  const done = () => describe(a.doc) === describe(b.doc) && sameHistory(a.doc, b.doc) && a.doc.getText('honest').length === 10
  await waitFor(done, 'honest peers to converge').catch(() => undefined)
  expect([a.doc.getText('honest').toString(), sameHistory(a.doc, b.doc), a.errors, b.errors]).toEqual([b.doc.getText('honest').toString(), true, [], []])
  expect(a.closeCodes.concat(b.closeCodes)).toEqual([])
}

/// A `ws` client that records the close code it got.
async function attacker(url: string, room: string): Promise<{ ws: WebSocket; closed: Promise<number | null> }> {
  const ws = new WebSocket(`${url}/${room}`)
  sockets.push(ws)
  ws.on('error', () => undefined)
  const closed = new Promise<number | null>((resolve) => {
    ws.on('close', (code) => resolve(code))
    setTimeout(() => resolve(null), 10_000) // still open: the attack was taken
  })
  await new Promise((resolve) => ws.once('open', resolve))
  return { ws, closed }
}

async function start(options: ServerOptions = {}): Promise<ConcordServer> {
  server = await startServer(options)
  return server
}

test('awareness junk: a million unknown clients with null states is refused whole (4400); nothing is kept', async () => {
  const s = await start()
  const pair = await honestPair(s.url, 'aw')
  const junk: number[] = [100_000]
  for (let i = 0; i < 100_000; i++) junk.push(1_000_000 + i, 1, 4, 0x6e, 0x75, 0x6c, 0x6c) // client, clock 1, "null"
  const { ws, closed } = await attacker(s.url, 'aw')
  ws.send(encodeAwareness(Uint8Array.from(junk.flatMap((n) => Array.from(varuints(n))))))
  expect(await closed).toBe(4400)
  expect(s.rooms.get('aw')?.presence.entries.size).toBe(0)
  await stillServed(pair)
})

test('awareness: what a connection set or removed goes when it leaves, removals included', async () => {
  const s = await start()
  const pair = await honestPair(s.url, 'aw2')
  const { ws, closed } = await attacker(s.url, 'aw2')
  // Ten clients announced, then removed by the sender itself (each removal keeps a clock).
  const state = new TextEncoder().encode('{"x":1}')
  const set = [10, ...Array.from({ length: 10 }, (_, i) => [100 + i, 1, state.length, ...state]).flat()]
  const removed = [10, ...Array.from({ length: 10 }, (_, i) => [100 + i, 2, 4, 0x6e, 0x75, 0x6c, 0x6c]).flat()]
  ws.send(encodeAwareness(Uint8Array.from(set)))
  ws.send(encodeAwareness(Uint8Array.from(removed)))
  await waitFor(() => s.rooms.get('aw2')?.presence.entries.size === 10, 'the entries')
  ws.close()
  await closed
  await waitFor(() => s.rooms.get('aw2')?.presence.entries.size === 0, 'the leaver\'s entries to go')
  await stillServed(pair)
})

test('half-sent messages: bytes held in unfinished messages stay within --max-incomplete-bytes (RSS), the one over it gets 1013', async () => {
  proc = await spawnServer(['--storage', 'memory', '--port', '0', '--max-message-bytes', String(4 << 20), '--max-incomplete-bytes', String(16 << 20)])
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readStatus(proc!.proc.pid!))![1]) * 1024
  const before = rss()
  const pair = await honestPair(proc.url, 'half')
  const codes: Array<number | null> = []
  const open: RawSocket[] = []
  for (let i = 0; i < 40; i++) {
    const raw = await openRaw(proc.port, 'half')
    sockets.push(raw)
    open.push(raw)
    raw.closed.then((c) => codes.push(c))
    // 3 MiB of a 3 MiB + 1 message: all but its last byte.
    raw.socket.write(Buffer.concat([frameHeader((3 << 20) + 1), Buffer.alloc(3 << 20)]))
  }
  await waitFor(() => codes.filter((c) => c === 1013).length >= 30, 'the connections over the budget to be closed', 20_000)
  const grown = rss() - before
  // 40 × 3 MiB would be 120 MiB held; the budget is 16 MiB (plus what one chunk brings).
  expect(grown).toBeLessThan(64 << 20)
  await stillServed(pair)
})

function readStatus(pid: number): string {
  return readFileSync(`/proc/${pid}/status`, 'utf8')
}

test('a message not finished within --message-timeout-ms closes its sender with 4408 (a frame, or fragments)', async () => {
  const s = await start({ messageTimeoutMs: 300, keepaliveMs: 200 })
  const pair = await honestPair(s.url, 'slow')
  const port = Number(new URL(s.url).port)
  const frame = await openRaw(port, 'slow')
  const fragments = await openRaw(port, 'slow')
  sockets.push(frame, fragments)
  frame.socket.write(Buffer.concat([frameHeader(1000), Buffer.alloc(10)]))
  // A first fragment, complete, whose message never ends; pings answered meanwhile.
  fragments.socket.write(Buffer.concat([frameHeader(10, { fin: false }), Buffer.alloc(10)]))
  const trickle = setInterval(() => frame.socket.write(Buffer.alloc(1)), 50)
  try {
    expect(await frame.closed).toBe(4408)
    expect(await fragments.closed).toBe(4408)
  } finally {
    clearInterval(trickle)
  }
  await stillServed(pair)
})

test('a state vector naming far more clients than the room has is refused (4400) before Yjs reads it', async () => {
  const s = await start()
  const pair = await honestPair(s.url, 'sv')
  const { ws, closed } = await attacker(s.url, 'sv')
  const entries: Uint8Array[] = [varuints(200_000)]
  for (let i = 0; i < 200_000; i++) entries.push(varuints(i + 1, 1))
  ws.send(encodeSyncStep1(Buffer.concat(entries)))
  expect(await closed).toBe(4400)
  await stillServed(pair)
})

test('updates whose dependencies never come: a room holds at most --max-pending-bytes of them, the sender gets 1013', async () => {
  const limit = 64 * 1024
  const s = await start({ maxPendingBytes: limit })
  const pair = await honestPair(s.url, 'pending')
  const { ws, closed } = await attacker(s.url, 'pending')
  // Ten pieces of one client's typing, sent without the first: each waits for it.
  const doc = new Y.Doc()
  const pieces = updatesOf(doc, (d) => {
    for (let i = 0; i < 10; i++) d.getText('text').insert(d.getText('text').length, 'x'.repeat(20_000))
  })
  expect(pieces.length).toBe(10)
  for (const piece of pieces.slice(1)) ws.send(encodeUpdate(piece))
  expect(await closed).toBe(1013)
  expect(pendingBytes(s.rooms.get('pending')!.document.doc)).toBeLessThanOrEqual(limit)
  await stillServed(pair)
})
