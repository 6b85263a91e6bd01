// The storage contract, run over every store: memory, SQLite (a temp file) and PostgreSQL (a
// database of its own on 127.0.0.1, dropped afterwards).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { mergeInSlices, mergeToSnapshot } from '../server/storage/merge.js'
import { workerMerge } from '../server/storage/mergeWorker.js'
import { memoryStorage } from '../server/storage/memory.js'
import { openStorage } from '../server/storage/open.js'
import { postgresStorage } from '../server/storage/postgres.js'
import { sqliteStorage } from '../server/storage/sqlite.js'
import type { MergeUpdates, Storage } from '../server/storage/types.js'
import { textOf } from './helpers.js'
import { databaseForFile } from './pgDatabase.js'

const dir = mkdtempSync(join(tmpdir(), 'concord-storage-'))
const database = databaseForFile()

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/// A Yjs text that records every update it produces.
function writer(clientID?: number) {
  const doc = new Y.Doc()
  if (clientID !== undefined) doc.clientID = clientID
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  const text = doc.getText('t')
  return { doc, text, updates, type: (s: string) => text.insert(text.length, s) }
}

/// A merge that waits for `release` before folding, so a test can act in between.
function gatedMerge(): { merge: MergeUpdates; started: Promise<void>; release: () => void } {
  let release!: () => void
  let markStarted!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const started = new Promise<void>((r) => (markStarted = r))
  return {
    started,
    release,
    merge: async (updates) => {
      markStarted()
      await gate
      return mergeToSnapshot(updates)
    },
  }
}

let fileNo = 0
const stores: Array<[string, () => Promise<Storage>]> = [
  ['memory', async () => memoryStorage()],
  ['sqlite', async () => sqliteStorage(join(dir, `nested/folder/s${++fileNo}.db`))],
  ['postgres', async () => postgresStorage(database.url)],
]

describe.each(stores)('%s storage', (kind, open) => {
  const room = (name: string) => `${kind}-${name}-${Math.random().toString(36).slice(2)}`

  test('a new room is empty, and the store answers ping', async () => {
    const s = await open()
    await s.ping()
    expect(await s.load(room('new'))).toEqual([])
    await s.close()
  })

  test('appends come back in order, room by room, byte for byte', async () => {
    const s = await open()
    const a = room('a')
    const b = room('b')
    await s.append([{ room: a, update: Uint8Array.of(1, 2) }, { room: b, update: Uint8Array.of(9) }])
    await s.append([{ room: a, update: Uint8Array.of(3) }])
    expect((await s.load(a)).map((u) => [...u])).toEqual([[1, 2], [3]])
    expect((await s.load(b)).map((u) => [...u])).toEqual([[9]])
    await s.close()
  })

  test('compaction folds the log into one snapshot that holds the same document', async () => {
    const s = await open()
    const r = room('compact')
    const w = writer()
    for (let i = 0; i < 200; i++) w.type(`word${i} `)
    w.text.delete(0, 50) // deleted content is garbage-collected by compaction
    await s.append(w.updates.map((update) => ({ room: r, update })))
    const result = await s.compact!(r, mergeToSnapshot)
    expect(result.compacted).toBe(true)
    expect(result.rows).toBe(201)
    expect(result.bytesAfter).toBeLessThan(result.bytesBefore)
    const loaded = await s.load(r)
    expect(loaded).toHaveLength(1)
    expect(textOf(loaded)).toBe(w.text.toString())
    // Nothing new: nothing to do.
    expect((await s.compact!(r, mergeToSnapshot)).compacted).toBe(false)
    // More edits, compacted again over the snapshot.
    w.updates.length = 0
    w.type('after')
    await s.append(w.updates.map((update) => ({ room: r, update })))
    expect(await s.load(r)).toHaveLength(2)
    expect((await s.compact!(r, mergeToSnapshot)).compacted).toBe(true)
    expect(textOf(await s.load(r))).toBe(w.text.toString())
    await s.close()
  })

  test('updates appended during a compaction are kept', async () => {
    const s = await open()
    const r = room('concurrent')
    const w = writer()
    for (let i = 0; i < 50; i++) w.type(`a${i} `)
    await s.append(w.updates.map((update) => ({ room: r, update })))
    const gate = gatedMerge()
    const compaction = s.compact!(r, gate.merge)
    await gate.started
    const before = w.updates.length
    for (let i = 0; i < 30; i++) {
      w.type(`b${i} `)
      await s.append([{ room: r, update: w.updates[w.updates.length - 1] }])
    }
    gate.release()
    expect((await compaction).rows).toBe(before)
    const loaded = await s.load(r)
    expect(loaded).toHaveLength(1 + 30) // the snapshot, then the rows it did not cover
    expect(textOf(loaded)).toBe(w.text.toString())
    await s.close()
  })

  test('racing compactions of one room: one commits, nothing is lost', async () => {
    // Two handles on the same store stand for two server processes.
    const s1 = await open()
    const s2 = kind === 'memory' ? s1 : kind === 'sqlite' ? sqliteStorage(join(dir, `nested/folder/s${fileNo}.db`)) : await open()
    const r = room('race')
    const w = writer()
    for (let i = 0; i < 40; i++) w.type(`x${i} `)
    await s1.append(w.updates.map((update) => ({ room: r, update })))
    const g1 = gatedMerge()
    const g2 = gatedMerge()
    const c1 = s1.compact!(r, g1.merge)
    const c2 = s2.compact!(r, g2.merge)
    await Promise.all([g1.started, g2.started])
    w.type('late ')
    await s2.append([{ room: r, update: w.updates[w.updates.length - 1] }])
    g1.release()
    g2.release()
    const results = await Promise.all([c1, c2])
    expect(results.filter((x) => x.compacted)).toHaveLength(1)
    expect(textOf(await s1.load(r))).toBe(w.text.toString())
    // A later compaction takes the late row too.
    expect((await s2.compact!(r, mergeToSnapshot)).compacted).toBe(true)
    expect(await s1.load(r)).toHaveLength(1)
    expect(textOf(await s2.load(r))).toBe(w.text.toString())
    if (s2 !== s1) await s2.close()
    await s1.close()
  })

  test('many rooms in one batch each get their own log', async () => {
    const s = await open()
    const names = Array.from({ length: 300 }, (_, i) => room(`many${i}`))
    for (let round = 0; round < 3; round++) {
      await s.append(names.map((name, i) => ({ room: name, update: Uint8Array.of(round, i % 256) })))
    }
    for (const [i, name] of names.entries()) {
      expect((await s.load(name)).map((u) => [...u])).toEqual([[0, i % 256], [1, i % 256], [2, i % 256]])
    }
    await s.close()
  })

  test('updates of several megabytes round-trip and compact', async () => {
    const s = await open()
    const r = room('large')
    const w = writer()
    const big = 'lorem ipsum '.repeat(500_000) // 6 MB of text in one update
    w.type(big)
    w.type('tail')
    expect(w.updates[0].length).toBeGreaterThan(5_000_000)
    await s.append(w.updates.map((update) => ({ room: r, update })))
    const loaded = await s.load(r)
    expect(loaded.map((u) => u.length)).toEqual(w.updates.map((u) => u.length))
    expect(Buffer.from(loaded[0]).equals(Buffer.from(w.updates[0]))).toBe(true)
    expect((await s.compact!(r, mergeToSnapshot)).compacted).toBe(true)
    expect(textOf(await s.load(r))).toBe(big + 'tail')
    await s.close()
  })
})

test('openStorage understands memory, sqlite:PATH (creating folders) and postgres URLs', async () => {
  const m = await openStorage('memory')
  await m.ping()
  await m.close()
  const sq = await openStorage(`sqlite:${join(dir, 'made/by/open/x.db')}`)
  await sq.append([{ room: 'r', update: Uint8Array.of(7) }])
  await sq.close()
  const again = await openStorage(`sqlite:${join(dir, 'made/by/open/x.db')}`)
  expect((await again.load('r')).map((u) => [...u])).toEqual([[7]])
  await again.close()
  const p = await openStorage(database.url)
  await p.ping()
  await p.close()
  await expect(openStorage('redis://nope')).rejects.toThrow(/not supported/)
})

test('small merges on the main thread yield to the event loop between millisecond slices, with the same document', async () => {
  const w = writer()
  for (let i = 0; i < 3000; i++) w.text.insert(Math.floor(Math.random() * (w.text.length + 1)), 'xyz'[i % 3])
  w.text.delete(0, 100)
  let turns = 0
  const spin = () => {
    turns++
    if (!done) setImmediate(spin)
  }
  let done = false
  setImmediate(spin)
  const merged = await mergeInSlices(w.updates)
  done = true
  expect(turns).toBeGreaterThan(3) // other work ran while 3,000 updates were folded
  expect(textOf([merged])).toBe(w.text.toString())
  expect(textOf([merged])).toBe(textOf([mergeToSnapshot(w.updates)]))
})

test('large merges run on a worker thread: same snapshot, and the event loop keeps turning', async () => {
  const w = writer()
  for (let i = 0; i < 10_000; i++) w.text.insert(Math.floor(Math.random() * (w.text.length + 1)), 'xyz'[i % 3])
  w.text.delete(0, 1000)
  const merger = workerMerge(1024)
  try {
    let ticks = 0
    const ticker = setInterval(() => ticks++, 1)
    const fromWorker = await merger.merge(w.updates)
    clearInterval(ticker)
    expect(ticks).toBeGreaterThan(0) // the main thread was free while the worker merged
    expect(Buffer.from(fromWorker).equals(Buffer.from(mergeToSnapshot(w.updates)))).toBe(true)
    expect(textOf([fromWorker])).toBe(w.text.toString())
    // Small inputs stay on the main thread, with the same result.
    const small = w.updates.slice(0, 3)
    expect(textOf([await merger.merge(small.map((u) => u.subarray(0)))])).toBe(textOf([mergeToSnapshot(small)]))
    await expect(merger.merge([Uint8Array.of(1, 2, 3), new Uint8Array(2000)])).rejects.toThrow()
  } finally {
    await merger.close()
  }
})
