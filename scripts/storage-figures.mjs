// Storage figures: append latency per store and compaction time of a large room.
// Run after `npm run build`: `node scripts/storage-figures.mjs` (PostgreSQL on 127.0.0.1:5432,
// user postgres; a throwaway database is created and dropped).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import * as Y from 'yjs'
import { mergeToSnapshot } from '../dist/server/storage/merge.js'
import { workerMerge } from '../dist/server/storage/mergeWorker.js'
import { memoryStorage } from '../dist/server/storage/memory.js'
import { postgresStorage } from '../dist/server/storage/postgres.js'
import { sqliteStorage } from '../dist/server/storage/sqlite.js'

const dir = mkdtempSync(join(tmpdir(), 'concord-figures-'))
const dbName = `concord_figures_${process.pid}`
const admin = new pg.Client('postgres://postgres@127.0.0.1:5432/postgres')
await admin.connect()
await admin.query(`CREATE DATABASE ${dbName}`)

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]

/// One keystroke-sized Yjs update per call.
function keystrokes(n) {
  const doc = new Y.Doc()
  const out = []
  doc.on('update', (u) => out.push(u))
  const t = doc.getText('t')
  for (let i = 0; i < n; i++) t.insert(Math.floor(Math.random() * (t.length + 1)), 'abcdefghij'[i % 10])
  return { out, text: t.toString() }
}

const stores = [
  ['memory', () => memoryStorage()],
  ['sqlite synchronous=FULL (default)', () => sqliteStorage(join(dir, 'full.db'))],
  ['sqlite synchronous=NORMAL', () => sqliteStorage(join(dir, 'normal.db'), { synchronous: 'NORMAL' })],
  ['postgres', () => postgresStorage(`postgres://postgres@127.0.0.1:5432/${dbName}`)],
]

const { out: updates } = keystrokes(2000)
console.log('append latency (one transaction per call), ms:')
for (const [name, open] of stores) {
  const s = await open()
  const one = []
  for (let i = 0; i < 500; i++) {
    const t0 = process.hrtime.bigint()
    await s.append([{ room: 'r', update: updates[i] }])
    one.push(ms(t0))
  }
  const hundred = []
  for (let i = 0; i < 50; i++) {
    const entries = Array.from({ length: 100 }, (_, k) => ({ room: `room${k}`, update: updates[(i * 100 + k) % updates.length] }))
    const t0 = process.hrtime.bigint()
    await s.append(entries)
    hundred.push(ms(t0))
  }
  console.log(`  ${name.padEnd(36)} 1 update: median ${pct(one, 0.5).toFixed(3)}, p99 ${pct(one, 0.99).toFixed(3)}` +
    ` | 100 rooms x 1 update: median ${pct(hundred, 0.5).toFixed(3)}, p99 ${pct(hundred, 0.99).toFixed(3)}`)
  await s.close()
}

console.log('compaction of one large room (N keystroke updates at random positions):')
for (const n of [10_000, 40_000]) {
  const { out, text } = keystrokes(n)
  const bytes = out.reduce((a, u) => a + u.length, 0)
  for (const [name, open] of [stores[1], stores[3]]) {
    const s = await open()
    const room = `big${n}`
    for (let i = 0; i < out.length; i += 1000) await s.append(out.slice(i, i + 1000).map((update) => ({ room, update })))
    let mergeMs = 0
    const t0 = process.hrtime.bigint()
    const result = await s.compact(room, (u) => {
      const m0 = process.hrtime.bigint()
      const merged = mergeToSnapshot(u)
      mergeMs = ms(m0)
      return merged
    })
    const total = ms(t0)
    // The same compaction with the worker-thread merge the server uses: how long is the
    // event loop held up at most?
    for (let i = 0; i < 500; i++) await s.append([{ room, update: out[i] }])
    const merger = workerMerge()
    let last = performance.now()
    let maxGap = 0
    const ticker = setInterval(() => {
      const now = performance.now()
      maxGap = Math.max(maxGap, now - last)
      last = now
    }, 1)
    const w0 = process.hrtime.bigint()
    await s.compact(room, merger.merge)
    const workerTotal = ms(w0)
    clearInterval(ticker)
    await merger.close()
    const l0 = process.hrtime.bigint()
    const loaded = await s.load(room)
    const loadMs = ms(l0)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, loaded[0])
    if (doc.getText('t').toString() !== text) throw new Error('compaction changed the document')
    console.log(`  ${name.padEnd(36)} ${n} rows, ${(bytes / 1e3).toFixed(0)} KB -> ${(result.bytesAfter / 1e3).toFixed(0)} KB:` +
      ` in-thread total ${total.toFixed(0)} ms (merge ${mergeMs.toFixed(0)} ms blocks the loop);` +
      ` snapshot + 500 rows on the worker: total ${workerTotal.toFixed(0)} ms, longest event-loop gap ${maxGap.toFixed(0)} ms;` +
      ` load after ${loadMs.toFixed(1)} ms`)
    await s.close()
  }
}

await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`)
await admin.end()
rmSync(dir, { recursive: true, force: true })
