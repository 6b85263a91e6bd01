// Large documents for the storm and cold-load scenarios, built deterministically (one seed)
// to an encoded size near a target, and the figures a joiner's copy is checked against.
//
//   text: one long Y.Text ('t') typed by 16 clients: runs of 20-120 characters, half of them
//         where the client's previous run ended (Yjs joins those into one item), half at a
//         random position (splitting an item), one operation in twelve a deletion of 1-30
//         characters.
//   map:  a spreadsheet of small cells: a Y.Array ('rows') of Y.Maps, each row 8 short
//         string, number and boolean cells, pushed 100 rows a transaction by 8 clients; one
//         operation in twenty overwrites a cell of an earlier row.
//
// The document is also cut into `chunks`: each the update of the operations since the previous
// chunk (Y.encodeStateAsUpdate against the previous state vector), about `chunkBytes` each, so
// that a seeder sends it in messages far below any server's message limit (Concord: 32 MiB).
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as Y from 'yjs'

export const MiB = 1024 * 1024
/// Bump when a builder changes: cached documents (run.mjs passes a fresh cache folder per run,
/// but a folder may be reused by hand) are then rebuilt.
const BUILD_VERSION = 1

/// A deterministic random source in [0, 1).
export function lcg(seed) {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296)
}

/// What a joiner's copy is compared with: the text, or the rows as JSON.
export function contentOf(doc, shape) {
  return shape === 'text' ? doc.getText('t').toString() : JSON.stringify(doc.getArray('rows').toJSON())
}

export const contentHash = (doc, shape) => createHash('sha256').update(contentOf(doc, shape)).digest('hex')

/// A state vector as [[client, clock], …], sorted (JSON-safe, comparable).
export function vectorOf(doc) {
  return [...Y.decodeStateVector(Y.encodeStateVector(doc))].sort((a, b) => a[0] - b[0])
}

/// Does an update carry exactly the state `vector` (from `vectorOf`), from clock 0 of every
/// client? (The check of every joiner; the full content is checked for a few.)
export function updateHasVector(update, vector) {
  const { from, to } = Y.parseUpdateMeta(update)
  if (to.size !== vector.length) return false
  for (const [client, clock] of vector) if (to.get(client) !== clock || from.get(client) !== 0) return false
  return true
}

/// Apply `update` to a fresh document and compare its content's hash.
export function updateHasContent(update, shape, hash) {
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, update)
    return contentHash(doc, shape) === hash
  } finally {
    doc.destroy()
  }
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz      \n'
function run(rand, n) {
  let s = ''
  for (let i = 0; i < n; i++) s += LETTERS[Math.floor(rand() * LETTERS.length)]
  return s
}

/// Text: `ops` operations (see the file's head).
function textOps(doc, rand, state) {
  const text = doc.getText('t')
  return (ops) => {
    for (let i = 0; i < ops; i++, state.op++) {
      if (state.op % 500 === 0) {
        doc.clientID = 1000 + ((state.op / 500) % 16)
        state.cursor = -1
      }
      const len = text.length
      const r = rand()
      if (r < 1 / 12 && len > 200) {
        const pos = Math.floor(rand() * (len - 30))
        text.delete(pos, 1 + Math.floor(rand() * 30))
        state.cursor = -1
      } else {
        const s = run(rand, 20 + Math.floor(rand() * 100))
        const pos = r < 0.55 && state.cursor >= 0 && state.cursor <= len ? state.cursor : Math.floor(rand() * (len + 1))
        text.insert(pos, s)
        state.cursor = pos + s.length
      }
    }
  }
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'north', 'south', 'east', 'west', 'open', 'done', 'todo']
function row(rand, n) {
  const m = new Y.Map()
  m.set('id', n)
  m.set('name', `${WORDS[Math.floor(rand() * WORDS.length)]}-${n % 1000}`)
  m.set('qty', Math.floor(rand() * 1000))
  m.set('price', Math.round(rand() * 100000) / 100)
  m.set('sku', `S${Math.floor(rand() * 1e6)}`)
  m.set('ok', rand() < 0.5)
  m.set('state', WORDS[Math.floor(rand() * WORDS.length)])
  m.set('day', Math.floor(rand() * 365))
  return m
}

/// Map: `ops` operations (see the file's head): each 100 new rows, or one cell overwritten.
function mapOps(doc, rand, state) {
  const rows = doc.getArray('rows')
  state.rows ??= []
  return (ops) => {
    for (let i = 0; i < ops; i++, state.op++) {
      if (state.op % 50 === 0) doc.clientID = 2000 + ((state.op / 50) % 8)
      if (rand() < 0.05 && state.rows.length > 0) {
        state.rows[Math.floor(rand() * state.rows.length)].set('qty', Math.floor(rand() * 1000))
      } else {
        const batch = Array.from({ length: 100 }, () => row(rand, state.rows.length + 1))
        doc.transact(() => rows.push(batch))
        state.rows.push(...batch)
      }
    }
  }
}

/// Build the document: { doc, chunks, state (the whole document as one update), mutate }.
/// `mutate(ops)` applies more operations of the same kind (unused beyond the build).
export function buildDocument({ mb, shape, seed = 42, chunkBytes = 4 * MiB }) {
  if (shape !== 'text' && shape !== 'map') throw new Error(`unknown shape ${shape} (text or map)`)
  const target = mb * MiB
  const rand = lcg(seed)
  const doc = new Y.Doc()
  const st = { op: 0, cursor: -1 }
  const step = shape === 'text' ? textOps(doc, rand, st) : mapOps(doc, rand, st)
  const chunks = []
  let vector = Y.encodeStateVector(doc)
  let estimate = 0
  let bytesPerOp = shape === 'text' ? 75 : 14000
  // Batches of about a chunk's worth (the first smaller, to learn the bytes per operation),
  // then smaller as the target nears.
  while (estimate < target * 0.995 && target - estimate > 1024) {
    const want = chunks.length === 0 ? Math.min(chunkBytes, target) / 8 : Math.min(chunkBytes, (target - estimate) * 0.9)
    const ops = Math.max(1, Math.ceil(want / bytesPerOp))
    const before = estimate
    step(ops)
    chunks.push(Y.encodeStateAsUpdate(doc, vector))
    vector = Y.encodeStateVector(doc)
    // The whole encoding, not the chunks' sum: later inserts split earlier items.
    estimate = Y.encodeStateAsUpdate(doc).length
    bytesPerOp = Math.max(1, (estimate - before) / ops)
  }
  const state = Y.encodeStateAsUpdate(doc)
  return { doc, chunks, state, rand, step }
}

// ---- a file cache of built documents -------------------------------------------------
// Layout: 4-byte length, meta JSON, then per part a 4-byte count and per buffer a 4-byte
// length and its bytes.

function writeParts(file, meta, parts) {
  const bufs = []
  const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
  const m = Buffer.from(JSON.stringify({ ...meta, parts: Object.keys(parts) }))
  bufs.push(u32(m.length), m)
  for (const list of Object.values(parts)) {
    bufs.push(u32(list.length))
    for (const b of list) bufs.push(u32(b.length), Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  }
  writeFileSync(file, Buffer.concat(bufs))
}

function readParts(file) {
  const buf = readFileSync(file)
  let pos = 0
  const u32 = () => { const n = buf.readUInt32BE(pos); pos += 4; return n }
  const mlen = u32()
  const meta = JSON.parse(buf.subarray(pos, pos + mlen).toString())
  pos += mlen
  const parts = {}
  for (const name of meta.parts) {
    const list = []
    for (let n = u32(); n > 0; n--) {
      const len = u32()
      list.push(buf.subarray(pos, pos + len))
      pos += len
    }
    parts[name] = list
  }
  return { meta, parts }
}

/// `build()` → { meta, parts: { name: [Uint8Array] } }, kept in `dir` under `key` (no dir: no
/// cache).
export function cached(dir, key, build) {
  const file = dir ? join(dir, `${key}-v${BUILD_VERSION}.bin`) : null
  if (file && existsSync(file)) return readParts(file)
  const built = build()
  if (file) writeParts(file, built.meta, built.parts)
  return built
}

/// The storm's document: seeding chunks, the one small recent edit, and what a joiner must
/// hold without and with that edit.
export function stormDocument({ mb, shape, cacheDir }) {
  return cached(cacheDir, `storm-${shape}-${mb}`, () => {
    const t0 = performance.now()
    const { doc, chunks, state } = buildDocument({ mb, shape })
    const meta = { shape, encodedBytes: state.length, buildMs: Math.round(performance.now() - t0), vector: vectorOf(doc), hash: contentHash(doc, shape) }
    // The recent edit: one character, or one cell, by a client of its own.
    let recent = null
    doc.on('update', (u) => { recent = u })
    doc.clientID = 999
    if (shape === 'text') doc.getText('t').insert(Math.floor(doc.getText('t').length / 2), 'X')
    else doc.getArray('rows').get(0).set('qty', -1)
    meta.recentVector = vectorOf(doc)
    meta.recentHash = contentHash(doc, shape)
    doc.destroy()
    return { meta, parts: { chunks, recent: [recent] } }
  })
}

/// The cold load's document: its snapshot (the whole state as one update) and `log` small
/// edits on top of it (inserts of 1-10 characters at random positions, one in ten a short
/// deletion), one update each, by a client of their own.
export function coldloadDocument({ mb, log, cacheDir }) {
  return cached(cacheDir, `coldload-${mb}-${log}`, () => {
    const t0 = performance.now()
    const { doc, state } = buildDocument({ mb, shape: 'text' })
    const updates = []
    doc.on('update', (u) => updates.push(u))
    doc.clientID = 4242
    const rand = lcg(7)
    const text = doc.getText('t')
    for (let i = 0; i < log; i++) {
      const len = text.length
      if (i % 10 === 9 && len > 20) text.delete(Math.floor(rand() * (len - 10)), 1 + Math.floor(rand() * 5))
      else text.insert(Math.floor(rand() * (len + 1)), run(rand, 1 + Math.floor(rand() * 10)))
    }
    const meta = {
      shape: 'text',
      encodedBytes: state.length,
      logBytes: updates.reduce((n, u) => n + u.length, 0),
      buildMs: Math.round(performance.now() - t0),
      vector: vectorOf(doc),
      hash: contentHash(doc, 'text'),
    }
    doc.destroy()
    return { meta, parts: { state: [state], log: updates } }
  })
}
