// Cross-instance delivery latency next to single-instance, in the same run.
//
// Starts a private redis-server (free port, no persistence) and two `concord` processes
// (A and B) joined through it. One writer on A sends small Yjs updates at a steady pace; a
// reader on A (single-instance path) and a reader on B (A → Redis → B) time each delivery
// with the same clock. Prints p50/p99/max for both paths.
//
//   npm run build && node bench/cluster-latency.mjs [--updates 2000] [--interval-ms 5]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import * as Y from 'yjs'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const UPDATES = arg('updates', 2000)
const INTERVAL_MS = arg('interval-ms', 5)
const WARMUP = 100
const bin = fileURLToPath(new URL('../bin/concord.js', import.meta.url))
const children = []

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function startRedis() {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  children.push(child)
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (ok) return `redis://127.0.0.1:${port}`
    await sleep(25)
  }
  throw new Error('redis-server did not start')
}

function startConcord(args) {
  const child = spawn(process.execPath, [bin, '--host', '127.0.0.1', '--port', '0', '--editor', 'false', '--log-level', 'info', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (chunk) => {
      buf += chunk
      const m = /listening on (ws:\/\/[0-9.:]+)/.exec(buf)
      if (m) resolve(m[1])
      if (buf.length > 1e5) buf = buf.slice(-1e4)
    })
    child.once('exit', (code) => reject(new Error(`concord exited with ${code}`)))
  })
}

// y-websocket framing: varUint type 0 (sync), subtype 2 (update), varUint length, payload.
function varUint(n) {
  const out = []
  while (n >= 128) { out.push((n % 128) | 128); n = Math.floor(n / 128) }
  out.push(n)
  return out
}
const encodeUpdate = (u) => Buffer.concat([Buffer.from([0, 2, ...varUint(u.length)]), Buffer.from(u)])

function open(url, room) {
  const ws = new WebSocket(`${url}/${room}`)
  ws.binaryType = 'nodebuffer'
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

/// A reader that applies every update it receives and timestamps each newly arrived
/// character: the k-th insert arrived when the text first reached length k (the server may
/// merge several updates into one message under load).
function reader(ws) {
  const times = []
  const doc = new Y.Doc()
  const text = doc.getText('t')
  ws.on('message', (data) => {
    if (data[0] !== 0 || (data[1] !== 1 && data[1] !== 2)) return
    let pos = 2
    let len = 0
    for (let mult = 1; ; mult *= 128) {
      const byte = data[pos++]
      len += (byte & 127) * mult
      if (byte < 128) break
    }
    Y.applyUpdate(doc, data.subarray(pos, pos + len))
    const now = performance.now()
    while (times.length < text.length) times.push(now)
  })
  return times
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

function summary(sent, received) {
  const lat = []
  for (let i = WARMUP; i < sent.length; i++) if (received[i] !== undefined) lat.push(received[i] - sent[i])
  lat.sort((a, b) => a - b)
  const f = (x) => x.toFixed(2)
  return { n: lat.length, p50: f(percentile(lat, 50)), p99: f(percentile(lat, 99)), max: f(lat[lat.length - 1]) }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'concord-cluster-bench-'))
  try {
    const redis = await startRedis()
    const db = `sqlite:${join(dir, 'bench.db')}`
    // No per-connection rate limit: the writer sends faster than the default 100 messages/s.
    const common = ['--storage', db, '--redis', redis, '--redis-prefix', 'bench:', '--messages-per-second', '0']
    const [a, b] = await Promise.all([startConcord(common), startConcord(common)])
    const room = 'latency'
    const writer = await open(a, room)
    const local = await open(a, room)
    const remote = await open(b, room)
    const localTimes = reader(local)
    const remoteTimes = reader(remote)
    await sleep(500) // both instances have loaded the room and exchanged state

    const doc = new Y.Doc()
    const text = doc.getText('t')
    const sent = []
    doc.on('update', (u) => {
      sent.push(performance.now())
      writer.send(encodeUpdate(u))
    })
    for (let i = 0; i < UPDATES; i++) {
      text.insert(text.length, 'x')
      await sleep(INTERVAL_MS)
    }
    const deadline = Date.now() + 10_000
    while ((localTimes.length < UPDATES || remoteTimes.length < UPDATES) && Date.now() < deadline) await sleep(20)

    const single = summary(sent, localTimes)
    const cross = summary(sent, remoteTimes)
    const ratio = (x, y) => (Number(x) / Number(y)).toFixed(2)
    console.log(`cluster delivery latency, ${UPDATES - WARMUP} updates (after ${WARMUP} warm-up), one every ~${INTERVAL_MS} ms, ms:`)
    console.log('| path | n | p50 | p99 | max |')
    console.log('|---|---|---|---|---|')
    console.log(`| single instance (A → A) | ${single.n} | ${single.p50} | ${single.p99} | ${single.max} |`)
    console.log(`| cross instance (A → Redis → B) | ${cross.n} | ${cross.p50} | ${cross.p99} | ${cross.max} |`)
    console.log(`cross/single: p50 ${ratio(cross.p50, single.p50)}×, p99 ${ratio(cross.p99, single.p99)}×`)
    for (const ws of [writer, local, remote]) ws.terminate()
    doc.destroy()
  } finally {
    for (const c of children) c.kill('SIGTERM')
    await sleep(300)
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  for (const c of children) c.kill('SIGKILL')
  process.exitCode = 1
})
