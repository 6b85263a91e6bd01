// Memory per loaded room against its document's encoded size, in one process, after full
// garbage collections: JS heap plus array buffers (where encoded updates live), for a large
// text and a large spreadsheet-like map (the storm's documents, `lib/bigdoc.mjs`). Held
// three ways: a bare `Y.Doc` (what the y-websocket server and Hocuspocus keep per room), a
// Concord room awake (its `Y.Doc` and cached encodings) and asleep (encoded updates), each
// after one fresh joiner was answered. Also what a `Y.Doc` spends per struct, which is what
// holds it. Needs the root's dist (`npx tsc -p tsconfig.json`).
// Usage: npm run bench:memory [-- --mb 20 --shapes text,map]
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from '../node_modules/yjs/dist/yjs.mjs' // the server's copy, not bench/'s: one Yjs
import { Room } from '../dist/server/room/room.js'
import { encodeSyncStep1 } from '../dist/server/protocol/messages.js'
import { stormDocument } from './lib/bigdoc.mjs'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? fallback : process.argv[i + 1]
}
const MB = Number(arg('mb', 20))
const SHAPES = arg('shapes', 'text,map').split(',')
const KINDS = ['bare', 'awake', 'asleep']
const MiB = 1024 * 1024

/// Heap plus array buffers after collecting everything collectable.
function held() {
  for (let i = 0; i < 3; i++) globalThis.gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

/// A joiner with nothing: what the room sends it is dropped.
const joiner = { id: 'j', readOnly: false, wantsAck: false, awarenessIds: new Set(), send() {}, close() {} }

/// The document held one way, after one fresh joiner was answered (a bare Y.Doc: built).
function hold(kind, chunks) {
  if (kind === 'bare') {
    const doc = new Y.Doc()
    for (const c of chunks) Y.applyUpdate(doc, c)
    return doc
  }
  const room = new Room('m', { persist: (_n, _u, done) => done(), empty: () => undefined, failed: (_r, e) => { throw e } }, { sleeps: kind === 'asleep' })
  room.document.restore(chunks)
  room.join(joiner)
  room.receive(joiner, encodeSyncStep1(Uint8Array.of(0)))
  return room
}

// Each measurement in a process of its own (what one leaves behind is not the next one's),
// over the document built once and cached on disk.
if (process.argv.includes('--child')) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')
  const [shape, kind, cacheDir] = [arg('shape'), arg('kind'), arg('cache')]
  const { meta, parts } = stormDocument({ mb: MB, shape, cacheDir })
  const before = held()
  const holder = hold(kind, parts.chunks)
  const bytes = held() - before
  let structs = 0
  if (kind === 'bare') for (const list of holder.store.clients.values()) structs += list.length
  process.stdout.write(JSON.stringify({ bytes, structs, encoded: meta.encodedBytes }))
  process.exit(0)
}

const cacheDir = mkdtempSync(join(tmpdir(), 'concord-memory-'))
const rows = []
try {
  for (const shape of SHAPES) {
    stormDocument({ mb: MB, shape, cacheDir }) // built once, here
    const r = { shape }
    for (const kind of KINDS) {
      const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', fileURLToPath(import.meta.url), '--child', '--shape', shape, '--kind', kind, '--mb', String(MB), '--cache', cacheDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      const m = JSON.parse(out)
      r[kind] = m.bytes
      r.encoded = m.encoded
      if (kind === 'bare') r.structs = m.structs
    }
    rows.push(r)
    process.stderr.write(`${shape}: done\n`)
  }
} finally {
  rmSync(cacheDir, { recursive: true, force: true })
}

const f = (n) => (n / MiB).toFixed(1)
const x = (n, d) => `${(n / d).toFixed(2)}×`
const lines = [
  `## Memory per loaded room (${new Date().toISOString()})`, '',
  `Node ${process.version}; \`npm run bench:memory -- --mb ${MB}\`. JS heap plus array buffers after full GCs, less the same before (each in a process of its own); factor: over the document's encoded size.`, '',
  '| document | encoded MB | structs | bare Y.Doc MB | factor | bytes per struct | Concord awake MB | factor | Concord asleep MB | factor |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.shape} | ${f(r.encoded)} | ${r.structs} | ${f(r.bare)} | ${x(r.bare, r.encoded)} | ${Math.round(r.bare / r.structs)} | ${f(r.awake)} | ${x(r.awake, r.encoded)} | ${f(r.asleep)} | ${x(r.asleep, r.encoded)} |`),
  '',
]
const out = lines.join('\n')
process.stdout.write(out + '\n')
const dir = join(dirname(fileURLToPath(import.meta.url)), 'results')
mkdirSync(dir, { recursive: true })
const file = join(dir, `memory-${new Date().toISOString().replace(/[:.]/g, '-')}.md`)
writeFileSync(file, out + '\n')
process.stderr.write(`written to ${file}\n`)
