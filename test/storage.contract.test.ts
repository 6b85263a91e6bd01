// The storage contract, run over every store: memory, SQLite (a temp file) and PostgreSQL (a
// database of its own on 127.0.0.1, dropped afterwards); then what crosses stores (a room
// moved whole from one to another) and databases of the older schema.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { mergeInSlices, mergeToSnapshot } from '../server/storage/merge.js'
import { workerMerge } from '../server/storage/mergeWorker.js'
import { memoryStorage } from '../server/storage/memory.js'
import { openStorage } from '../server/storage/open.js'
import { postgresStorage } from '../server/storage/postgres.js'
import { sqliteStorage } from '../server/storage/sqlite.js'
import type { MergeUpdates, RoomRecord, Storage } from '../server/storage/types.js'
import { sleep, textOf } from './helpers.js'
import { createDatabase, databaseForFile } from './pgDatabase.js'

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

/// A merge that waits for `release` before folding (with `fold`), so a test can act in between.
function gatedMerge(fold: MergeUpdates = mergeToSnapshot): { merge: MergeUpdates; started: Promise<void>; release: () => void } {
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
      return fold(updates)
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

  /// The rooms under `prefix`, all of them, in one order.
  const listAll = async (s: Storage, prefix: string, order: 'name' | 'recent') =>
    (await s.list({ prefix, order, limit: 1000 })).rooms

  test('concurrent batches over the same rooms, in different orders, all commit', async () => {
    const s = await open()
    const names = Array.from({ length: 12 }, (_, i) => room(`lockorder${i}`))
    const batches = Array.from({ length: 60 }, (_, b) => {
      // A different subset of the rooms each time, in a shuffled order, several entries per room.
      const chosen = names.filter((_, i) => (i * 7 + b) % 3 !== 0).sort(() => Math.random() - 0.5)
      return [...chosen, ...chosen.slice().reverse()].map((name) => ({ room: name, update: Uint8Array.of(b), author: `a${b % 4}` }))
    })
    await Promise.all(batches.map((batch) => s.append(batch)))
    for (const [i, name] of names.entries()) {
      const expected = batches.flatMap((batch, b) => batch.filter((e) => e.room === name).map(() => b))
      expect((await s.load(name)).map((u) => u[0]).sort((x, y) => x - y)).toEqual(expected)
      if (i === 0) {
        const v = await s.addVersion(name, { update: Uint8Array.of(0), label: null, authors: [], onlyIfChanged: true })
        expect(v?.authors).toEqual(['a0', 'a1', 'a2', 'a3'])
      }
    }
    await s.close()
  })

  test('list: a plain prefix (no wildcards), by name in code point order and by recent, with bytes', async () => {
    const s = await open()
    const p = room('list')
    const names = [`${p}/a%b`, `${p}/a_c`, `${p}/axb`, `${p}/ab`, `${p}/\ue000`, `${p}/\u{1f600}`, `${p}x`]
    for (const name of names) await s.append([{ room: name, update: Uint8Array.of(1, 2, 3) }])
    // `%` and `_` are characters like any other.
    expect((await listAll(s, `${p}/a%`, 'name')).map((r) => r.name)).toEqual([`${p}/a%b`])
    expect((await listAll(s, `${p}/a_`, 'name')).map((r) => r.name)).toEqual([`${p}/a_c`])
    expect((await listAll(s, `${p}/a`, 'name')).map((r) => r.name)).toEqual([`${p}/a%b`, `${p}/a_c`, `${p}/ab`, `${p}/axb`])
    // By code point: U+E000 before U+1F600 (JavaScript's `sort` puts it after); `x` follows `/`.
    expect((await listAll(s, p, 'name')).map((r) => r.name)).toEqual([
      `${p}/a%b`, `${p}/a_c`, `${p}/ab`, `${p}/axb`, `${p}/\ue000`, `${p}/\u{1f600}`, `${p}x`,
    ])
    expect(await listAll(s, `${p}/nothing`, 'name')).toEqual([])
    // Bytes of the log, then of snapshot plus log.
    const one = names[0]
    await s.append([{ room: one, update: Uint8Array.of(4, 5) }])
    expect((await listAll(s, one, 'name'))[0].bytes).toBe(5)
    expect((await s.compact!(one, async () => Uint8Array.of(9, 9, 9, 9, 9, 9, 9))).compacted).toBe(true)
    await s.append([{ room: one, update: Uint8Array.of(6) }])
    expect((await listAll(s, one, 'name'))[0].bytes).toBe(8)
    expect((await listAll(s, names[1], 'name'))[0].bytes).toBe(3)
    await s.close()
  })

  test('list: created and updated times, and the recent order moving on append', async () => {
    const s = await open()
    const p = room('times')
    const before = Date.now()
    await s.append([{ room: `${p}/a`, update: Uint8Array.of(1) }])
    await sleep(5)
    await s.append([{ room: `${p}/b`, update: Uint8Array.of(1) }])
    const after = Date.now()
    const [b, a] = await listAll(s, p, 'recent')
    expect([b.name, a.name]).toEqual([`${p}/b`, `${p}/a`])
    for (const r of [a, b]) {
      expect(r.createdAt).toBeGreaterThanOrEqual(before)
      expect(r.updatedAt).toBeLessThanOrEqual(after)
      expect(r.createdAt).toBe(r.updatedAt)
    }
    expect(b.updatedAt).toBeGreaterThan(a.updatedAt)
    await sleep(5)
    await s.append([{ room: `${p}/a`, update: Uint8Array.of(2) }])
    const [a2, b2] = await listAll(s, p, 'recent')
    expect(a2.name).toBe(`${p}/a`)
    expect(a2.createdAt).toBe(a.createdAt)
    expect(a2.updatedAt).toBeGreaterThan(b.updatedAt)
    expect(b2).toEqual(b)
    await s.close()
  })

  test('list: paging with `after` and `more`, in both orders, ties of time by name descending', async () => {
    const s = await open()
    const p = room('page')
    // Three batches, each at one time: rooms of a batch tie on updatedAt.
    for (const batch of [['q', 'c', 'x'], ['a', 'm'], ['z', 'b']]) {
      await s.append(batch.map((n) => ({ room: `${p}/${n}`, update: Uint8Array.of(1) })))
      await sleep(5)
    }
    const expected = { name: ['a', 'b', 'c', 'm', 'q', 'x', 'z'], recent: ['z', 'b', 'm', 'a', 'x', 'q', 'c'] }
    for (const order of ['name', 'recent'] as const) {
      expect((await listAll(s, p, order)).map((r) => r.name)).toEqual(expected[order].map((n) => `${p}/${n}`))
      const pages: string[][] = []
      const mores: boolean[] = []
      let after: { name: string; updatedAt: number } | null = null
      for (;;) {
        const page = await s.list({ prefix: p, order, limit: 3, after })
        pages.push(page.rooms.map((r) => r.name.slice(p.length + 1)))
        mores.push(page.more)
        if (!page.more) break
        after = page.rooms[page.rooms.length - 1]
      }
      expect(pages).toEqual([expected[order].slice(0, 3), expected[order].slice(3, 6), expected[order].slice(6)])
      expect(mores).toEqual([true, true, false])
      expect((await s.list({ prefix: p, order, limit: 7 })).more).toBe(false)
      expect((await s.list({ prefix: p, order, limit: 6 })).more).toBe(true)
    }
    await s.close()
  })

  test('authors appended are reported in the next version, with the given ones, then start afresh', async () => {
    const s = await open()
    const r = room('authors')
    await s.append([
      { room: r, update: Uint8Array.of(1), author: 'bob' },
      { room: r, update: Uint8Array.of(2), author: 'alice' },
      { room: r, update: Uint8Array.of(3), author: null },
    ])
    await s.append([{ room: r, update: Uint8Array.of(4), author: 'bob' }, { room: r, update: Uint8Array.of(5) }])
    const v1 = await s.addVersion(r, { update: Uint8Array.of(7, 7), label: null, authors: ['carol', 'alice'], onlyIfChanged: true })
    expect(v1?.authors).toEqual(['alice', 'bob', 'carol'])
    await s.append([{ room: r, update: Uint8Array.of(6), author: 'dave' }])
    const v2 = await s.addVersion(r, { update: Uint8Array.of(7), label: 'mine', authors: [], onlyIfChanged: false })
    expect(v2?.authors).toEqual(['dave'])
    const v3 = await s.addVersion(r, { update: Uint8Array.of(7), label: 'again', authors: [], onlyIfChanged: false })
    expect(v3?.authors).toEqual([])
    expect((await s.versions(r)).map((v) => v.authors)).toEqual([[], ['dave'], ['alice', 'bob', 'carol']])
    await s.close()
  })

  test('addVersion: onlyIfChanged skips a room with nothing appended since its last version', async () => {
    const s = await open()
    const r = room('changed')
    const auto = { update: Uint8Array.of(1, 2, 3), label: null, authors: [], onlyIfChanged: true }
    expect(await s.addVersion(r, auto)).toBeNull() // nothing stored at all
    await s.append([{ room: r, update: Uint8Array.of(1) }])
    const first = await s.addVersion(r, { ...auto, at: 1_000 })
    expect(first).toMatchObject({ createdAt: 1_000, label: null, authors: [], bytes: 3 })
    expect(await s.addVersion(r, auto)).toBeNull()
    // Asked for (a label), it is added anyway, and leaves nothing to version.
    const labelled = await s.addVersion(r, { ...auto, label: 'v1', onlyIfChanged: false })
    expect(labelled?.label).toBe('v1')
    expect(labelled!.id).toBeGreaterThan(first!.id)
    expect(await s.addVersion(r, auto)).toBeNull()
    await s.append([{ room: r, update: Uint8Array.of(2) }])
    expect(await s.addVersion(r, auto)).not.toBeNull()
    expect((await s.versions(r)).map((v) => v.label)).toEqual([null, 'v1', null])
    await s.close()
  })

  test('versions: newest first, content by id, of that room only, untouched by compaction', async () => {
    const s = await open()
    const r = room('versions')
    const other = room('other')
    const w = writer()
    w.type('first ')
    await s.append(w.updates.map((update) => ({ room: r, update })))
    const a = await s.addVersion(r, { update: Y.encodeStateAsUpdate(w.doc), label: 'a', authors: [], onlyIfChanged: false })
    w.updates.length = 0
    w.type('second')
    await s.append(w.updates.map((update) => ({ room: r, update })))
    const stateB = Y.encodeStateAsUpdate(w.doc)
    const b = await s.addVersion(r, { update: stateB, label: null, authors: ['x'], onlyIfChanged: true })
    const o = await s.addVersion(other, { update: Uint8Array.of(5), label: 'o', authors: [], onlyIfChanged: false })
    const listed = await s.versions(r)
    expect(listed).toEqual([b, a])
    expect(listed[1].bytes).toBeLessThan(listed[0].bytes)
    expect(Buffer.from((await s.version(r, b!.id))!.update).equals(Buffer.from(stateB))).toBe(true)
    expect((await s.version(r, b!.id))!.info).toEqual(b)
    expect(textOf([(await s.version(r, a!.id))!.update])).toBe('first ')
    // Another room's version, or none at all.
    expect(await s.version(r, o!.id)).toBeNull()
    expect(await s.version(other, a!.id)).toBeNull()
    expect(await s.version(r, o!.id + 1000)).toBeNull()
    // Compaction folds the log, not the versions.
    expect((await s.compact!(r, mergeToSnapshot)).compacted).toBe(true)
    expect(await s.versions(r)).toEqual(listed)
    expect(textOf([(await s.version(r, a!.id))!.update])).toBe('first ')
    expect(Buffer.from((await s.version(r, b!.id))!.update).equals(Buffer.from(stateB))).toBe(true)
    await s.close()
  })

  test('pruneVersions: labelled kept, unlabelled kept while young enough and among the newest `keep`', async () => {
    const s = await open()
    const r = room('prune')
    const now = Date.now()
    const add = (label: string | null, ago: number) =>
      s.addVersion(r, { update: Uint8Array.of(ago / 1000), label, authors: [], onlyIfChanged: false, at: now - ago })
    await add(null, 6000) // u6
    await add('old label', 5000)
    await add(null, 4000) // u4
    await add(null, 3000) // u3
    await add(null, 2000) // u2
    await add(null, 1000) // u1
    const ages = async () => (await s.versions(r)).map((v) => (v.label ?? '') + (now - v.createdAt))
    // Young enough: u4 .. u1; of those, the newest three: u6 (too old) and u4 go.
    expect(await s.pruneVersions(r, { olderThan: now - 4500, keep: 3 })).toBe(2)
    expect(await ages()).toEqual(['1000', '2000', '3000', 'old label5000'])
    expect(await s.pruneVersions(r, { olderThan: now - 4500, keep: 3 })).toBe(0)
    // No age limit; a count limit only.
    expect(await s.pruneVersions(r, { olderThan: 0, keep: 2 })).toBe(1)
    expect(await ages()).toEqual(['1000', '2000', 'old label5000'])
    // An age limit only.
    expect(await s.pruneVersions(r, { olderThan: now - 1500, keep: Infinity })).toBe(1)
    expect(await ages()).toEqual(['1000', 'old label5000'])
    expect(await s.pruneVersions(r, { olderThan: now, keep: 10 })).toBe(1)
    expect(await ages()).toEqual(['old label5000'])
    await s.close()
  })

  test('deleteRoom: everything goes, the tombstone stays and is replaced; unknown rooms give false', async () => {
    const s = await open()
    const r = room('delete')
    await s.append([{ room: r, update: Uint8Array.of(1) }, { room: r, update: Uint8Array.of(2) }])
    await s.compact!(r, async () => Uint8Array.of(3))
    await s.append([{ room: r, update: Uint8Array.of(4) }])
    const v = await s.addVersion(r, { update: Uint8Array.of(5), label: 'kept?', authors: [], onlyIfChanged: false })
    expect(await s.tombstone(r)).toBeNull()
    const before = Date.now()
    expect(await s.deleteRoom(r, Uint8Array.of(1, 1))).toBe(true)
    expect(await s.load(r)).toEqual([])
    expect(await s.versions(r)).toEqual([])
    expect(await s.version(r, v!.id)).toBeNull()
    expect(await listAll(s, r, 'name')).toEqual([])
    expect([...(await s.tombstone(r))!]).toEqual([1, 1])
    expect(await s.addVersion(r, { update: Uint8Array.of(5), label: null, authors: [], onlyIfChanged: true })).toBeNull()
    // Nothing left to delete; the newer tombstone replaces the older.
    expect(await s.deleteRoom(r, Uint8Array.of(2, 2))).toBe(false)
    expect([...(await s.tombstone(r))!]).toEqual([2, 2])
    const unknown = room('never')
    expect(await s.deleteRoom(unknown, Uint8Array.of(3))).toBe(false)
    expect([...(await s.tombstone(unknown))!]).toEqual([3])
    // Appending again makes a new room; the tombstone stays for the server to judge.
    await s.append([{ room: r, update: Uint8Array.of(6), author: 'new' }])
    expect((await s.load(r)).map((u) => [...u])).toEqual([[6]])
    const [info] = await listAll(s, r, 'name')
    expect(info).toMatchObject({ name: r, bytes: 1 })
    expect(info.createdAt).toBeGreaterThanOrEqual(before)
    expect([...(await s.tombstone(r))!]).toEqual([2, 2])
    expect((await s.addVersion(r, { update: Uint8Array.of(6), label: null, authors: [], onlyIfChanged: true }))?.authors).toEqual(['new'])
    await s.close()
  })

  test('deleteRoom racing appends: what stays is only what came after, never the old content', async () => {
    const s = await open()
    for (let round = 0; round < 5; round++) {
      const r = room(`delrace${round}`)
      await s.append(Array.from({ length: 20 }, (_, i) => ({ room: r, update: Uint8Array.of(0, i), author: 'old' })))
      if (round % 2) await s.compact!(r, async () => Uint8Array.of(0, 255))
      await s.append([{ room: r, update: Uint8Array.of(0, 100) }])
      const work: Array<Promise<unknown>> = []
      let deleted!: Promise<boolean>
      for (let i = 0; i < 60; i++) {
        work.push(s.append([{ room: r, update: Uint8Array.of(1, i), author: 'new' }]))
        if (i === 30) work.push((deleted = s.deleteRoom(r, Uint8Array.of(9))))
      }
      await Promise.all(work)
      expect(await deleted).toBe(true)
      const loaded = (await s.load(r)).map((u) => [...u])
      expect(loaded.filter(([first]) => first !== 1)).toEqual([])
      const seen = loaded.map(([, i]) => i)
      expect(new Set(seen).size).toBe(seen.length)
      // Memory and SQLite run each call at once, in call order.
      if (kind !== 'postgres') expect(seen).toEqual(Array.from({ length: 29 }, (_, i) => 31 + i))
      // What stays is a room again, listed, its authors only the new ones.
      const listed = await listAll(s, r, 'name')
      if (loaded.length) {
        expect(listed.map((x) => x.bytes)).toEqual([2 * loaded.length])
        expect((await s.addVersion(r, { update: Uint8Array.of(1), label: null, authors: [], onlyIfChanged: true }))?.authors).toEqual(['new'])
      }
    }
    await s.close()
  })

  test('a compaction racing deleteRoom (and a putRoom) commits nothing', async () => {
    const s = await open()
    for (const withSnapshot of [false, true]) {
      const r = room(`compdel${withSnapshot}`)
      await s.append([{ room: r, update: Uint8Array.of(0, 1) }, { room: r, update: Uint8Array.of(0, 2) }])
      if (withSnapshot) {
        await s.compact!(r, async () => Uint8Array.of(0, 3))
        await s.append([{ room: r, update: Uint8Array.of(0, 4) }])
      }
      const gate = gatedMerge(async (inputs) => Uint8Array.of(0, 99, inputs.length))
      const compaction = s.compact!(r, gate.merge)
      await gate.started
      expect(await s.deleteRoom(r, Uint8Array.of(9))).toBe(true)
      // A room of the same name again: a snapshot at the version the compaction read, and a log.
      await s.putRoom({ name: r, createdAt: 1, updatedAt: 2, update: Uint8Array.of(1, 1), versions: [] })
      await s.append([{ room: r, update: Uint8Array.of(1, 2) }])
      gate.release()
      expect((await compaction).compacted).toBe(false)
      expect((await s.load(r)).map((u) => [...u])).toEqual([[1, 1], [1, 2]])
    }
    await s.close()
  })

  test('putRoom replaces the room whole; the tombstone stays, and compaction goes on from it', async () => {
    const s = await open()
    const r = room('put')
    const w = writer()
    w.type('old text')
    await s.append(w.updates.map((update) => ({ room: r, update, author: 'old' })))
    await s.addVersion(r, { update: Y.encodeStateAsUpdate(w.doc), label: 'old', authors: [], onlyIfChanged: false })
    await s.deleteRoom(r, Uint8Array.of(4, 4))
    await s.append(w.updates.map((update) => ({ room: r, update, author: 'old' })))
    const oldId = (await s.addVersion(r, { update: Uint8Array.of(1), label: null, authors: [], onlyIfChanged: true }))!.id
    const gate = gatedMerge()
    const compaction = s.compact!(r, gate.merge)
    await gate.started

    const v = writer()
    v.type('v1 ')
    const state1 = Y.encodeStateAsUpdate(v.doc)
    v.type('v2')
    const state2 = Y.encodeStateAsUpdate(v.doc)
    await s.putRoom({
      name: r,
      createdAt: 1_000,
      updatedAt: 5_000,
      update: state2,
      versions: [
        { createdAt: 2_000, label: 'first', authors: ['b', 'a'], update: state1 },
        { createdAt: 3_000, label: null, authors: [], update: state2 },
      ],
    })
    gate.release()
    expect((await compaction).compacted).toBe(false) // it read the old room
    expect(await listAll(s, r, 'name')).toEqual([{ name: r, createdAt: 1_000, updatedAt: 5_000, bytes: state2.length }])
    expect(textOf(await s.load(r))).toBe('v1 v2')
    const versions = await s.versions(r)
    expect(versions.map(({ id: _, ...rest }) => rest)).toEqual([
      { createdAt: 3_000, label: null, authors: [], bytes: state2.length },
      { createdAt: 2_000, label: 'first', authors: ['a', 'b'], bytes: state1.length },
    ])
    expect(versions[0].id).toBeGreaterThan(versions[1].id)
    expect(versions[1].id).toBeGreaterThan(oldId)
    expect(await s.version(r, oldId)).toBeNull()
    expect(textOf([(await s.version(r, versions[1].id))!.update])).toBe('v1 ')
    expect([...(await s.tombstone(r))!]).toEqual([4, 4])
    // Nothing appended since: no automatic version. Then an edit, and a compaction over it.
    expect(await s.addVersion(r, { update: state2, label: null, authors: [], onlyIfChanged: true })).toBeNull()
    v.updates.length = 0
    v.type('!')
    await s.append(v.updates.map((update) => ({ room: r, update, author: 'new' })))
    expect((await s.compact!(r, mergeToSnapshot)).compacted).toBe(true)
    expect(await s.load(r)).toHaveLength(1)
    expect(textOf(await s.load(r))).toBe('v1 v2!')
    expect((await s.addVersion(r, { update: state2, label: null, authors: [], onlyIfChanged: true }))?.authors).toEqual(['new'])
    await s.close()
  })
})

/// A room as a backup holds it, read from a store.
async function recordOf(s: Storage, name: string): Promise<RoomRecord> {
  const [info] = (await s.list({ prefix: name, order: 'name', limit: 1 })).rooms
  const versions = []
  for (const v of (await s.versions(name)).reverse()) {
    versions.push({ createdAt: v.createdAt, label: v.label, authors: v.authors, update: (await s.version(name, v.id))!.update })
  }
  return { name, createdAt: info.createdAt, updatedAt: info.updatedAt, update: mergeToSnapshot(await s.load(name)), versions }
}

/// A room's content, comparable across stores (ids aside).
async function contentOf(s: Storage, name: string) {
  const versions = []
  for (const { id, ...info } of await s.versions(name)) versions.push({ ...info, update: [...(await s.version(name, id))!.update] })
  return { load: (await s.load(name)).map((u) => [...u]), versions, list: (await s.list({ prefix: name, order: 'name', limit: 5 })).rooms }
}

test('putRoom: a room read from SQLite and written to PostgreSQL (and back) is the same room', async () => {
  const sq = sqliteStorage(join(dir, 'roundtrip.db'))
  const pgs = await postgresStorage(database.url)
  const name = `roundtrip-${Math.random().toString(36).slice(2)}`
  const w = writer()
  w.type('hello ')
  await sq.append(w.updates.map((update) => ({ room: name, update, author: 'ann' })))
  await sq.addVersion(name, { update: Y.encodeStateAsUpdate(w.doc), label: 'greeting', authors: [], onlyIfChanged: false })
  w.updates.length = 0
  w.type('world')
  await sq.append(w.updates.map((update) => ({ room: name, update, author: 'ben' })))
  await sq.addVersion(name, { update: Y.encodeStateAsUpdate(w.doc), label: null, authors: ['cy'], onlyIfChanged: true, at: Date.now() + 1 })
  const record = await recordOf(sq, name)
  expect(record.versions.map((v) => [v.label, v.authors])).toEqual([['greeting', ['ann']], [null, ['ben', 'cy']]])

  await pgs.putRoom(record)
  const inPostgres = await contentOf(pgs, name)
  expect(textOf(inPostgres.load.map((u) => Uint8Array.from(u)))).toBe('hello world')
  expect(inPostgres.list).toEqual([{ name, createdAt: record.createdAt, updatedAt: record.updatedAt, bytes: record.update.length }])
  expect(inPostgres.versions.map((v) => v.authors)).toEqual([['ben', 'cy'], ['ann']])
  // Back into another SQLite file: the very same content.
  const sq2 = sqliteStorage(join(dir, 'roundtrip2.db'))
  await sq2.putRoom(await recordOf(pgs, name))
  expect(await contentOf(sq2, name)).toEqual(inPostgres)
  // And into the first file, over the room it came from.
  await sq.putRoom(await recordOf(pgs, name))
  expect(await contentOf(sq, name)).toEqual(inPostgres)
  await Promise.all([sq.close(), sq2.close(), pgs.close()])
})

test('a volatile memory store, never appended to, always adds a version; replace keeps the room facts', async () => {
  const s = memoryStorage({ volatile: true })
  const auto = { update: Uint8Array.of(1), label: null, authors: ['me'], onlyIfChanged: true }
  expect((await s.addVersion('v', auto))?.authors).toEqual(['me'])
  expect((await s.addVersion('v', auto))?.authors).toEqual(['me'])
  expect(await s.list({ order: 'name', limit: 5 })).toEqual({ rooms: [], more: false })
  s.replace!('v', Uint8Array.of(1, 2))
  const [first] = (await s.list({ order: 'name', limit: 5 })).rooms
  expect(first).toMatchObject({ name: 'v', bytes: 2 })
  await sleep(5)
  s.replace!('v', Uint8Array.of(1, 2, 3))
  const [second] = (await s.list({ order: 'name', limit: 5 })).rooms
  expect(second).toMatchObject({ name: 'v', bytes: 3, createdAt: first.createdAt })
  expect(second.updatedAt).toBeGreaterThan(first.updatedAt)
  await s.close()
})

// The tables as they were before rooms had facts, versions and tombstones.
const OLD_SQLITE_SCHEMA = `
CREATE TABLE concord_updates (seq INTEGER PRIMARY KEY, room TEXT NOT NULL, data BLOB NOT NULL);
CREATE INDEX concord_updates_room ON concord_updates (room, seq);
CREATE TABLE concord_snapshots (room TEXT PRIMARY KEY, version INTEGER NOT NULL, data BLOB NOT NULL);`
const OLD_POSTGRES_SCHEMA = OLD_SQLITE_SCHEMA.replace('seq INTEGER PRIMARY KEY', 'seq bigserial PRIMARY KEY')
  .replaceAll('BLOB', 'bytea')
  .replace('version INTEGER', 'version bigint')

/// Checks a store opened over a database of the old schema holding rooms `old-log` (rows 1, 2)
/// and `old-snap` (a snapshot 7, 7, 7 of version 3, and a row 8).
async function checkUpgraded(s: Storage, opened: number): Promise<void> {
  expect((await s.load('old-log')).map((u) => [...u])).toEqual([[1], [2]])
  const rooms = (await s.list({ prefix: 'old-', order: 'name', limit: 10 })).rooms
  expect(rooms.map((r) => [r.name, r.bytes])).toEqual([['old-log', 2], ['old-snap', 4]])
  for (const r of rooms) {
    expect(r.createdAt).toBeGreaterThanOrEqual(opened)
    expect(r.updatedAt).toBe(r.createdAt)
  }
  // Nothing of it is in a version yet.
  expect(await s.addVersion('old-log', { update: Uint8Array.of(1), label: null, authors: [], onlyIfChanged: true })).not.toBeNull()
  await s.append([{ room: 'old-snap', update: Uint8Array.of(9), author: 'new' }])
  expect((await s.load('old-snap')).map((u) => [...u])).toEqual([[7, 7, 7], [8], [9]])
  const result = await s.compact!('old-snap', async () => Uint8Array.of(6))
  expect(result).toMatchObject({ compacted: true, rows: 2 })
  expect((await s.load('old-snap')).map((u) => [...u])).toEqual([[6]])
  expect((await s.addVersion('old-snap', { update: Uint8Array.of(6), label: null, authors: [], onlyIfChanged: true }))?.authors).toEqual(['new'])
}

test('a SQLite database of the old schema opens, its rooms get facts and list', async () => {
  const path = join(dir, 'old-schema.db')
  const old = new Database(path)
  old.exec(OLD_SQLITE_SCHEMA)
  old.prepare('INSERT INTO concord_updates (room, data) VALUES (?, ?)').run('old-log', Buffer.of(1))
  old.prepare('INSERT INTO concord_updates (room, data) VALUES (?, ?)').run('old-log', Buffer.of(2))
  old.prepare('INSERT INTO concord_updates (room, data) VALUES (?, ?)').run('old-snap', Buffer.of(8))
  old.prepare('INSERT INTO concord_snapshots (room, version, data) VALUES (?, 3, ?)').run('old-snap', Buffer.of(7, 7, 7))
  old.close()
  const opened = Date.now()
  const s = sqliteStorage(path)
  await checkUpgraded(s, opened)
  await s.close()
  const columns = new Database(path, { readonly: true })
  expect(columns.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('concord_updates')").all().map((c) => c.name)).toEqual(['seq', 'room', 'data', 'author', 'at'])
  expect(columns.prepare('SELECT author FROM concord_updates WHERE room = ?').pluck().all('old-snap')).toEqual([])
  columns.close()
  // Opening it again changes nothing.
  const again = sqliteStorage(path)
  expect((await again.list({ prefix: 'old-', order: 'name', limit: 10 })).rooms.map((r) => r.name)).toEqual(['old-log', 'old-snap'])
  await again.close()
})

test('a PostgreSQL database of the old schema opens, its rooms get facts and list', async () => {
  const db = await createDatabase()
  try {
    const old = new pg.Client({ connectionString: db.url })
    await old.connect()
    await old.query(OLD_POSTGRES_SCHEMA)
    await old.query(`INSERT INTO concord_updates (room, data) VALUES ('old-log', '\\x01'), ('old-log', '\\x02'), ('old-snap', '\\x08')`)
    await old.query(`INSERT INTO concord_snapshots (room, version, data) VALUES ('old-snap', 3, '\\x070707')`)
    await old.end()
    const opened = Date.now()
    const s = await postgresStorage(db.url)
    await checkUpgraded(s, opened)
    await s.append([{ room: 'old-log', update: Uint8Array.of(3), author: 'x' }])
    await s.close()
    const check = new pg.Client({ connectionString: db.url })
    await check.connect()
    const { rows } = await check.query<{ author: string | null; at: string | null }>("SELECT author, at FROM concord_updates WHERE room = 'old-log' ORDER BY seq")
    await check.end()
    expect(rows.map((r) => r.author)).toEqual([null, null, 'x'])
    expect(rows.map((r) => r.at === null)).toEqual([true, true, false])
  } finally {
    await db.drop()
  }
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
