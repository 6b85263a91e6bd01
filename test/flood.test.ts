// Floods: a client sending awareness as fast as it can (from its own thread) is slowed to the
// configured rate (counted: what reaches others), and the other clients go on editing. Their
// edit latency with and without the flood is printed, not asserted (durations belong in
// bench/).
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import { CloseCode } from '../server/protocol/closeCodes.js'
import { encodeAwareness } from '../server/protocol/messages.js'
import type { ConcordServer } from '../server/server.js'
import { startServer, TestClient, waitFor } from './helpers.js'

let server: ConcordServer | undefined
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
  server = undefined
})

// The flooder: a raw socket that keeps its send buffer full of awareness updates (each a new
// clock, so each is a real change) until told to stop; reports how many it sent.
const FLOODER = `
const { parentPort, workerData } = require('node:worker_threads')
const WebSocket = require(workerData.ws)
const ws = new WebSocket(workerData.url)
let sent = 0, clock = 0, stop = false, closeCode = null
const frame = (n) => {
  const json = Buffer.from(JSON.stringify({ user: { name: 'flood' }, cursor: n }))
  let c = n; const clk = []; do { let b = c & 0x7f; c = Math.floor(c / 128); if (c) b |= 0x80; clk.push(b) } while (c)
  return Buffer.concat([Buffer.from([1, 2 + clk.length + 1 + json.length]), Buffer.from([1, 0x2a]), Buffer.from(clk), Buffer.from([json.length]), json])
}
function pump() {
  if (stop || ws.readyState !== 1) return
  while (ws.bufferedAmount < 1 << 20) { ws.send(frame(++clock)); sent++ }
  setImmediate(pump)
}
ws.on('open', () => { parentPort.postMessage({ open: true }); pump() })
ws.on('close', (code) => { closeCode = code })
ws.on('error', () => {})
parentPort.on('message', () => { stop = true; parentPort.postMessage({ sent, closeCode }); ws.terminate() })
`

/// Median of a list of numbers.
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/// Time from an insert at `writer` until every reader has applied it, `n` times.
async function latencies(writer: TestClient, readers: TestClient[], n: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const arrived = readers.map((r) => new Promise<void>((resolve) => {
      const onUpdate = (_u: Uint8Array, origin: unknown) => {
        if (origin !== r) return
        r.doc.off('update', onUpdate)
        resolve()
      }
      r.doc.on('update', onUpdate)
    }))
    const t0 = performance.now()
    writer.doc.getText('t').insert(0, 'x')
    await Promise.all(arrived)
    out.push(performance.now() - t0)
    await new Promise((r) => setTimeout(r, 10))
  }
  return out
}

test('an awareness flood is throttled to the rate; other clients keep editing (their latency is logged, not asserted)', async () => {
  const rate = 100
  const burst = 300
  server = await startServer({ messagesPerSecond: rate, messageBurst: burst })
  const a = await new TestClient(server.url, 'flood').connect()
  const b = await new TestClient(server.url, 'flood').connect()
  const c = await new TestClient(server.url, 'flood').connect()
  clients.push(a, b, c)

  await latencies(a, [b, c], 10) // warm up
  const before = await latencies(a, [b, c], 60)

  const worker = new Worker(FLOODER, {
    eval: true,
    workerData: { url: `${server.url}/flood`, ws: createRequire(import.meta.url).resolve('ws') },
  })
  const messages: Array<{ open?: boolean; sent?: number; closeCode?: number | null }> = []
  worker.on('message', (m) => messages.push(m))
  await waitFor(() => messages.some((m) => m.open), 'the flooder to connect')
  const awarenessBefore = b.count('awareness')
  const floodStart = performance.now()
  await waitFor(() => [...server!.connections].some((conn) => conn.throttled), 'the flooder to be throttled', 10_000)
  const during = await latencies(a, [b, c], 60)
  const floodSeconds = (performance.now() - floodStart) / 1000
  const relayed = b.count('awareness') - awarenessBefore
  worker.postMessage('stop')
  await waitFor(() => messages.some((m) => m.sent !== undefined), 'the flooder to report')
  const report = messages.find((m) => m.sent !== undefined)!
  await worker.terminate()

  const ratio = median(during) / median(before)
  console.log(
    `flood: flooder sent ${report.sent} awareness messages in ${floodSeconds.toFixed(1)} s; ` +
    `${relayed} reached another client (limit ${rate}/s + burst ${burst}); ` +
    `edit latency median ${median(before).toFixed(2)} ms without, ${median(during).toFixed(2)} ms with the flood: ` +
    `ratio ${ratio.toFixed(2)}`,
  )
  // Throttled: what got through is bounded by the rate, whatever was sent.
  expect(relayed).toBeLessThanOrEqual(burst + rate * floodSeconds * 1.1 + 20)
  expect(report.sent!).toBeGreaterThan(relayed * 2)
  // Or closed with 4429, never anything else.
  expect([null, CloseCode.RateLimited]).toContain(report.closeCode ?? null)
  for (const x of [a, b, c]) expect(x.closeCode).toBeNull()
  // The flood slowed nobody's edits into loss: everyone agrees.
  await waitFor(() => a.text === b.text && b.text === c.text, 'convergence')
})

test('a throttled client loses nothing: its edits arrive in order, just later', async () => {
  server = await startServer({ messagesPerSecond: 50, messageBurst: 20 })
  const fast = await new TestClient(server.url, 'slow-down').connect()
  const watcher = await new TestClient(server.url, 'slow-down').connect()
  clients.push(fast, watcher)
  const start = performance.now()
  for (let i = 0; i < 100; i++) fast.doc.getText('t').insert(fast.doc.getText('t').length, `${i % 10}`)
  const expected = fast.text
  await waitFor(() => watcher.text === expected, 'every throttled edit to arrive', 20_000)
  const seconds = (performance.now() - start) / 1000
  // 100 updates at 50/s after a burst of 20 take at least ~1.6 s: it was slowed, not dropped.
  expect(seconds).toBeGreaterThan(1.2)
  expect(fast.closeCode).toBeNull()
  expect(server.rooms.get('slow-down')?.document.doc.getText('t').toString()).toBe(expected)
})

test('one frame packing more messages than the burst is closed with 4429; others carry on', async () => {
  server = await startServer({ messagesPerSecond: 100, messageBurst: 50 })
  const honest = await new TestClient(server.url, 'packed').connect()
  const packer = await new TestClient(server.url, 'packed').connect()
  clients.push(honest, packer)
  const one = encodeAwareness(Uint8Array.of(1, 7, 1, 2, 0x7b, 0x7d)) // client 7, clock 1, {}
  const frame = new Uint8Array(one.length * 51)
  for (let i = 0; i < 51; i++) frame.set(one, i * one.length)
  packer.sendRaw(frame)
  expect(await packer.closed()).toBe(CloseCode.RateLimited)
  const other = await new TestClient(server.url, 'packed').connect()
  clients.push(other)
  honest.doc.getText('t').insert(0, 'fine')
  await waitFor(() => other.text === 'fine', 'others to carry on')
  expect(Y.encodeStateAsUpdate(other.doc)).toEqual(Y.encodeStateAsUpdate(honest.doc))
})
