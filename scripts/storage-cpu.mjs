// Server CPU of the typing scenario per store: the real process (bin/concord.js, built),
// 20 clients in 5 rooms each typing one character every 10 ms for 8 s, acknowledgements on.
// Reports the server's user+system CPU seconds (from /proc) for memory, SQLite and PostgreSQL.
// Run: `npm run build && node scripts/storage-cpu.mjs`
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { decodeFrame, encodeSyncStep1, encodeSyncStep2, encodeUpdate } from '../dist/server/protocol/messages.js'

const CLIENTS = 20
const ROOMS = 5
const SECONDS = 8
const dir = mkdtempSync(join(tmpdir(), 'concord-cpu-'))
const dbName = `concord_cpu_${process.pid}`

function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in clock ticks
}

async function start(storage) {
  const proc = spawn(process.execPath, ['bin/concord.js', '--port', '0', '--storage', storage, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', (d) => {
      out += d
      const m = /"listening on (ws:\/\/[^"]+)"/.exec(out)
      if (m) resolve(m[1])
    })
    proc.once('exit', () => reject(new Error('server exited')))
  })
  return { proc, url }
}

function client(url, room) {
  const doc = new Y.Doc()
  const ws = new WebSocket(`${url}/${room}?ack=1`)
  let sent = 0
  let acked = 0
  doc.on('update', (u, origin) => {
    if (origin !== ws && ws.readyState === 1) { sent++; ws.send(encodeUpdate(u)) }
  })
  ws.on('open', () => ws.send(encodeSyncStep1(Y.encodeStateVector(doc))))
  ws.on('message', (data) => {
    for (const m of decodeFrame(new Uint8Array(data))) {
      if (m.type === 'syncStep1') { sent++; ws.send(encodeSyncStep2(Y.encodeStateAsUpdate(doc, m.stateVector))) }
      else if (m.type === 'syncStep2' || m.type === 'update') Y.applyUpdate(doc, m.update, ws)
      else if (m.type === 'ack') acked = m.count
    }
  })
  const opened = new Promise((r) => ws.once('open', r))
  return { doc, ws, opened, get done() { return acked === sent } }
}

async function run(storage) {
  const { proc, url } = await start(storage)
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(url, `room${i % ROOMS}`))
  await Promise.all(clients.map((c) => c.opened))
  await new Promise((r) => setTimeout(r, 300))
  const before = cpuSeconds(proc.pid)
  const t = setInterval(() => {
    for (const c of clients) { const text = c.doc.getText('t'); text.insert(text.length, 'x') }
  }, 10)
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  clearInterval(t)
  while (!clients.every((c) => c.done)) await new Promise((r) => setTimeout(r, 20))
  const cpu = cpuSeconds(proc.pid) - before
  const chars = clients[0].doc.getText('t').length
  for (const c of clients) c.ws.terminate()
  proc.kill('SIGTERM')
  await new Promise((r) => proc.once('exit', r))
  return { cpu, chars }
}

const admin = new pg.Client('postgres://postgres@127.0.0.1:5432/postgres')
await admin.connect()
await admin.query(`CREATE DATABASE ${dbName}`)
const results = {}
for (const [name, storage] of [
  ['memory', 'memory'],
  ['sqlite', `sqlite:${join(dir, 'cpu.db')}`],
  ['postgres', `postgres://postgres@127.0.0.1:5432/${dbName}`],
]) {
  results[name] = await run(storage)
  console.log(`${name.padEnd(9)} server CPU ${results[name].cpu.toFixed(2)} s for ${CLIENTS} clients x ${SECONDS} s of typing (room length ${results[name].chars})`)
}
// Timers slip on a busy machine, so compare CPU per character typed.
const per = (r) => r.cpu / r.chars
console.log(`CPU per character, relative to memory: sqlite ${(per(results.sqlite) / per(results.memory)).toFixed(2)}x, postgres ${(per(results.postgres) / per(results.memory)).toFixed(2)}x`)
await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`)
await admin.end()
rmSync(dir, { recursive: true, force: true })
