// The migration readers against stores written by the real packages: y-leveldb's own
// LeveldbPersistence (0.2, and the 0.1 that the y-websocket 1.x server persists with), and a
// real Hocuspocus server with its SQLite extension. Each document read back must have exactly
// the content that was written.
import Database from 'better-sqlite3'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import { Server } from '@hocuspocus/server'
import { SQLite } from '@hocuspocus/extension-sqlite'
import { Level } from 'level'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { LeveldbPersistence } from 'y-leveldb'
import * as Y from 'yjs'
import { readHocuspocusSqlite } from '../server/cli/migrate/hocuspocusSqlite.js'
import type { MigratedDoc } from '../server/cli/migrate/types.js'
import { readYLeveldb } from '../server/cli/migrate/yLeveldb.js'

const root = mkdtempSync(join(tmpdir(), 'concord-migrate-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0
const scratch = (name: string): string => join(root, `${n++}-${name}`)

/// A document to write: its name and its edits, each one transaction (so one stored update).
interface Scenario {
  room: string
  edits: Array<(doc: Y.Doc) => void>
}

type Yjs = typeof Y
/// The root types the scenarios use, by name, so a read document can be asked for the same ones.
const ROOTS: Record<string, 'text' | 'map' | 'array' | 'xml'> = {
  body: 'text', remote: 'text', meta: 'map', log: 'array', list: 'array', prosemirror: 'xml',
}

const SLASH_UNICODE = 'team/プロジェクト/Notizen – ünïcödé 🚀'

/// Documents covering text (with formatting), maps, nested types, XML, and long update logs.
/// `Y` is the Yjs module to build nested types with: the y-websocket 1.x server loads Yjs'
/// CommonJS build, whose types are other classes than the ESM build's.
function scenarios(Y: Yjs): Scenario[] {
  const textEdits: Scenario['edits'] = []
  for (let i = 0; i < 120; i++) {
    textEdits.push((doc) => {
      const t = doc.getText('body')
      t.insert(Math.floor(t.length / 2), `w${i} `)
      if (i % 7 === 6) t.delete(0, 2)
      if (i % 10 === 9) t.format(0, 3, { bold: true })
    })
  }
  return [
    { room: 'notes', edits: textEdits },
    {
      room: 'board',
      edits: [
        (doc) => doc.getMap('meta').set('title', 'Board'),
        (doc) => {
          const cards = new Y.Array<Y.Map<unknown>>()
          doc.getMap('meta').set('cards', cards)
          for (let i = 0; i < 3; i++) {
            const card = new Y.Map<unknown>()
            card.set('id', i)
            const body = new Y.Text(`card ${i}`)
            card.set('body', body)
            card.set('tags', Y.Array.from(['a', `t${i}`]))
            cards.push([card])
          }
        },
        (doc) => {
          const cards = doc.getMap('meta').get('cards') as Y.Array<Y.Map<unknown>>
          ;(cards.get(1).get('body') as Y.Text).insert(0, 'edited ')
          cards.delete(0, 1)
          doc.getMap('meta').set('count', cards.length)
          doc.getMap('meta').delete('title')
        },
        (doc) => {
          const frag = doc.getXmlFragment('prosemirror')
          const p = new Y.XmlElement('paragraph')
          p.setAttribute('align', 'left')
          p.insert(0, [new Y.XmlText('Hello XML')])
          frag.insert(0, [p, new Y.XmlElement('horizontal_rule')])
        },
        (doc) => doc.getArray<number | string>('log').push([1, 'two', 3]),
      ],
    },
    {
      room: SLASH_UNICODE,
      edits: [
        (doc) => doc.getText('body').insert(0, 'Grüße, 世界! 👋'),
        (doc) => doc.getArray<string>('list').push(['α', 'β']),
        (doc) => doc.getText('body').delete(0, 6),
        (doc) => doc.getArray<string>('list').insert(1, ['γ']),
      ],
    },
    // A document that was only ever created, never edited.
    { room: 'empty', edits: [] },
  ]
}

/// The JSON of each root type named in `names`, read from `update` applied to a fresh document.
function contentOf(update: Uint8Array, names: Iterable<string>): Record<string, unknown> {
  const doc = new Y.Doc({ gc: false })
  Y.applyUpdate(doc, update)
  const out: Record<string, unknown> = {}
  for (const name of names) {
    const kind = ROOTS[name]
    const type = kind === 'text' ? doc.getText(name) : kind === 'map' ? doc.getMap(name) : kind === 'array' ? doc.getArray(name) : doc.getXmlFragment(name)
    out[name] = type.toJSON()
  }
  doc.destroy()
  return out
}

/// The JSON of every root type `doc` has defined.
function jsonOf(doc: { share: Map<string, { toJSON(): unknown }> }): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, type] of doc.share) out[name] = type.toJSON()
  return out
}

async function collect(docs: AsyncGenerator<MigratedDoc>): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  for await (const { room, update } of docs) {
    expect(out.has(room), `${room} read twice`).toBe(false)
    out.set(room, update)
  }
  return out
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function errorOf(docs: AsyncGenerator<MigratedDoc>): Promise<string> {
  try {
    await collect(docs)
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
  throw new Error('expected the reader to fail')
}

describe('readYLeveldb', () => {
  test('reads every document y-leveldb stored, each as its full state', async () => {
    const dir = scratch('yleveldb')
    const persistence = new LeveldbPersistence(dir)
    const written = new Map<string, Y.Doc>()
    const lastClock = new Map<string, number>()
    for (const { room, edits } of scenarios(Y)) {
      // gc off, like the reader, so the written and read states can be compared byte for byte.
      const doc = new Y.Doc({ gc: false })
      written.set(room, doc)
      const stores: Array<Promise<number>> = []
      doc.on('update', (update: Uint8Array) => { stores.push(persistence.storeUpdate(room, update)) })
      if (edits.length === 0) stores.push(persistence.storeUpdate(room, Y.encodeStateAsUpdate(doc)))
      edits.forEach((edit, i) => {
        doc.transact(() => edit(doc))
        // Halfway through the long log, let y-leveldb merge it, as its getYDoc does past 500
        // updates: the log then starts with one merged update and goes on with single ones.
        if (room === 'notes' && i === 60) void persistence.flushDocument(room)
      })
      const clocks = await Promise.all(stores)
      lastClock.set(room, Math.max(...clocks))
    }
    // y-leveldb's own update log holds many entries per edited document.
    expect(lastClock.get('notes')).toBeGreaterThan(100)
    expect(lastClock.get('board')).toBe(4)
    await persistence.destroy()

    const read = await collect(readYLeveldb(dir))
    expect([...read.keys()].sort()).toEqual([...written.keys()].sort())
    for (const [room, doc] of written) {
      const update = read.get(room)!
      expect(contentOf(update, doc.share.keys()), room).toEqual(jsonOf(doc))
      const fresh = new Y.Doc({ gc: false })
      Y.applyUpdate(fresh, update)
      expect(Y.encodeStateVector(fresh), room).toEqual(Y.encodeStateVector(doc))
      // Byte for byte the writer's state, but for the document y-leveldb merged: its merge
      // (a Y.Doc with gc on) turned the deleted text written before it into GC ranges.
      if (room !== 'notes') expect(Y.encodeStateAsUpdate(fresh), room).toEqual(Y.encodeStateAsUpdate(doc))
      fresh.destroy()
    }
    expect(jsonOf(written.get(SLASH_UNICODE)!)).toEqual({ body: ' 世界! 👋', list: ['α', 'γ', 'β'] })

    // Reading leaves the store as it was: a second read gives the same bytes, and y-leveldb
    // itself still lists the same documents.
    expect(await collect(readYLeveldb(dir))).toEqual(read)
    const again = new LeveldbPersistence(dir)
    expect((await again.getAllDocNames()).sort()).toEqual([...written.keys()].sort())
    await again.destroy()
    for (const doc of written.values()) doc.destroy()
  })

  // What users actually have: the y-websocket 1.x server persisting through y-leveldb 0.1
  // (level 6, leveldown), which that package installs as an optional dependency.
  const v1Require = createRequire(import.meta.resolve('y-websocket-v1/bin/utils'))
  const v1HasLeveldb = ((): boolean => {
    try {
      v1Require.resolve('y-leveldb')
      return true
    } catch {
      return false
    }
  })()
  test.skipIf(!v1HasLeveldb)('reads a store the y-websocket 1.x server wrote (YPERSISTENCE)', async () => {
    const dir = scratch('y-websocket-v1')
    interface V1Persistence { provider: { getAllDocNames(): Promise<string[]>; destroy(): Promise<void> } }
    interface V1Utils { getYDoc(name: string): Y.Doc; getPersistence(): V1Persistence | null }
    // The server reads YPERSISTENCE when its module loads, as `YPERSISTENCE=dir npx y-websocket` does.
    process.env.YPERSISTENCE = dir
    // Quiet its "Persisting documents to" line and Yjs' warning that a second build (the
    // CommonJS one the server requires) was loaded beside the ESM one.
    const { info, error } = console
    console.info = console.error = () => {}
    let utils: V1Utils
    let YCjs: Yjs
    try {
      utils = v1Require('y-websocket-v1/bin/utils') as V1Utils
      YCjs = v1Require('yjs') as Yjs
    } finally {
      Object.assign(console, { info, error })
      delete process.env.YPERSISTENCE
    }
    const ldb = utils.getPersistence()!.provider

    const expected = new Map<string, Record<string, unknown>>()
    for (const { room, edits } of scenarios(YCjs)) {
      const doc = utils.getYDoc(room)
      // The server binds the document to y-leveldb asynchronously; its first write lists it.
      for (let i = 0; !(await ldb.getAllDocNames()).includes(room); i++) {
        if (i > 500) throw new Error(`${room} never bound to y-leveldb`)
        await new Promise((r) => setTimeout(r, 10))
      }
      for (const edit of edits) doc.transact(() => edit(doc))
      expected.set(room, jsonOf(doc))
    }
    // y-leveldb runs its writes in order: destroy() closes the store after every update is in.
    await ldb.destroy()

    const read = await collect(readYLeveldb(dir))
    expect([...read.keys()].sort()).toEqual([...expected.keys()].sort())
    for (const [room, json] of expected) {
      expect(contentOf(read.get(room)!, Object.keys(json)), room).toEqual(json)
      utils.getYDoc(room).destroy() // also destroys its y-protocols Awareness and that one's timer
    }
    expect(expected.get(SLASH_UNICODE)).toEqual({ body: ' 世界! 👋', list: ['α', 'γ', 'β'] })
  })

  test('stopping early closes the store, so it can be opened again', async () => {
    const dir = scratch('early')
    const persistence = new LeveldbPersistence(dir)
    for (const room of ['a', 'b', 'c']) {
      const doc = new Y.Doc()
      doc.getText('t').insert(0, room)
      await persistence.storeUpdate(room, Y.encodeStateAsUpdate(doc))
    }
    await persistence.destroy()
    for await (const { room } of readYLeveldb(dir)) {
      expect(room).toBe('a')
      break
    }
    expect([...(await collect(readYLeveldb(dir))).keys()]).toEqual(['a', 'b', 'c'])
  })

  test('a missing folder, a file, a folder that is not LevelDB, and a LevelDB that is not y-leveldb', async () => {
    const missing = join(root, 'no-such-folder')
    expect(await errorOf(readYLeveldb(missing))).toMatch(/no such y-leveldb folder/)

    const file = scratch('a-file')
    writeFileSync(file, 'hello')
    expect(await errorOf(readYLeveldb(file))).toMatch(/not a folder/)

    const plain = scratch('plain-folder')
    mkdirSync(plain)
    writeFileSync(join(plain, 'notes.txt'), 'hello')
    expect(await errorOf(readYLeveldb(plain))).toMatch(/cannot open as a LevelDB store \(not a LevelDB store/)

    const other = scratch('other-leveldb')
    const db = new Level<string, string>(other)
    await db.put('user:1', 'ada')
    await db.close()
    expect(await errorOf(readYLeveldb(other))).toMatch(/not y-leveldb's/)
  })

  test('a store still open elsewhere (a running server) says so', async () => {
    const dir = scratch('locked')
    const persistence = new LeveldbPersistence(dir)
    await persistence.storeUpdate('a', Y.encodeStateAsUpdate(new Y.Doc()))
    try {
      expect(await errorOf(readYLeveldb(dir))).toMatch(/still running/)
    } finally {
      await persistence.destroy()
    }
  })
})

describe('readHocuspocusSqlite', () => {
  test('reads every document a Hocuspocus server stored with its SQLite extension', async () => {
    const file = scratch('hocuspocus.sqlite')
    const sqlite = new SQLite({ database: file })
    const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, extensions: [sqlite] })
    await server.listen()
    const expected = new Map<string, Record<string, unknown>>()
    try {
      // Server-side edits through Hocuspocus' direct connections, one transaction per edit.
      for (const { room, edits } of scenarios(Y)) {
        const conn = await server.hocuspocus.openDirectConnection(room)
        const local = new Y.Doc()
        for (const edit of edits) {
          await conn.transact((doc) => edit(doc))
          local.transact(() => edit(local))
        }
        await conn.disconnect()
        expected.set(room, jsonOf(local))
        local.destroy()
      }
      // And a real client over the WebSocket: it edits a document the server already stored.
      const socket = new HocuspocusProviderWebsocket({ url: `ws://127.0.0.1:${server.address.port}`, WebSocketPolyfill: WebSocket })
      const clientDoc = new Y.Doc()
      const provider = new HocuspocusProvider({ websocketProvider: socket, name: 'board', document: clientDoc })
      provider.attach()
      try {
        await waitFor(() => provider.isSynced, 'the provider to sync')
        expect(jsonOf(clientDoc)).toEqual({}) // roots are only known once asked for
        clientDoc.getMap('meta').set('by', 'provider')
        clientDoc.getText('remote').insert(0, 'typed over the wire')
        await waitFor(() => !provider.hasUnsyncedChanges, 'the server to take the edits')
        expect(clientDoc.getMap('meta').get('count')).toBe(2)
      } finally {
        provider.destroy()
        socket.destroy()
      }
      const board = expected.get('board')!
      expected.set('board', { ...board, meta: { ...(board.meta as object), by: 'provider' }, remote: 'typed over the wire' })
    } finally {
      // Closing the server stores and unloads every document.
      await server.destroy()
      sqlite.db?.close()
    }

    const read = await collect(readHocuspocusSqlite(file))
    expect([...read.keys()].sort()).toEqual([...expected.keys()].sort())
    for (const [room, json] of expected) expect(contentOf(read.get(room)!, Object.keys(json)), room).toEqual(json)
    expect(expected.get(SLASH_UNICODE)).toEqual({ body: ' 世界! 👋', list: ['α', 'γ', 'β'] })
  })

  test('a custom table name, and the newest row when a name repeats', async () => {
    const file = scratch('custom.sqlite')
    const db = new Database(file)
    // The extension's schema under another name, without UNIQUE so a name can repeat.
    db.exec('CREATE TABLE "yjs_docs" ("name" varchar(255) NOT NULL, "data" blob NOT NULL)')
    const state = (text: string): Uint8Array => {
      const doc = new Y.Doc()
      doc.getText('body').insert(0, text)
      return Y.encodeStateAsUpdate(doc)
    }
    const insert = db.prepare('INSERT INTO "yjs_docs" ("name", "data") VALUES (?, ?)')
    insert.run('a', state('old'))
    insert.run('b', state('bee'))
    insert.run('a', state('new'))
    db.close()

    const read = await collect(readHocuspocusSqlite(file, { table: 'yjs_docs' }))
    expect([...read.keys()]).toEqual(['a', 'b'])
    expect(contentOf(read.get('a')!, ['body'])).toEqual({ body: 'new' })
    expect(contentOf(read.get('b')!, ['body'])).toEqual({ body: 'bee' })
    expect(await errorOf(readHocuspocusSqlite(file))).toMatch(/no table "documents"/)
    // Stopping early ends the row iteration before closing the database.
    for await (const { room } of readHocuspocusSqlite(file, { table: 'yjs_docs' })) {
      expect(room).toBe('a')
      break
    }
  })

  test('a missing file, a file that is not SQLite, a wrong table, a bad table name', async () => {
    expect(await errorOf(readHocuspocusSqlite(join(root, 'missing.sqlite')))).toMatch(/no such Hocuspocus SQLite database file/)

    const text = scratch('text.sqlite')
    writeFileSync(text, 'this is not a database, just text that is long enough to have a header '.repeat(20))
    expect(await errorOf(readHocuspocusSqlite(text))).toMatch(/SQLite database.*not a database/)

    const wrong = scratch('wrong.sqlite')
    const db = new Database(wrong)
    db.exec('CREATE TABLE documents (id INTEGER PRIMARY KEY, body TEXT)')
    db.close()
    expect(await errorOf(readHocuspocusSqlite(wrong))).toMatch(/table "documents" has no "name" column/)

    expect(await errorOf(readHocuspocusSqlite(wrong, { table: 'documents"; DROP TABLE x; --' }))).toMatch(/not a valid table name/)
  })
})
