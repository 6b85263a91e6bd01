// SQLite storage (better-sqlite3, WAL): the embedded default. One file holds every room.
// better-sqlite3 is synchronous, so each call runs to completion inside one event-loop turn;
// appends of a turn arrive here as one batch and commit as one transaction. Tables and
// statements are in sqliteSchema.ts.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { keepLimit, mergeAuthors, prefixEnd } from './listing.js'
import { SQL, createSchema, listSql } from './sqliteSchema.js'
import { NOT_COMPACTED, type AppendEntry, type NewVersion, type RoomInfo, type RoomRecord, type Storage, type VersionInfo } from './types.js'

/// Options of the SQLite store.
export interface SqliteOptions {
  /// `FULL` (default) syncs the WAL on every commit, so an acknowledged update survives a
  /// power cut too; `NORMAL` survives process crashes only, and is faster.
  synchronous?: 'FULL' | 'NORMAL'
}

interface VersionRow {
  id: number
  createdAt: number
  label: string | null
  /// A JSON array.
  authors: string
  bytes: number
}

const authorsOf = (json: string): string[] => JSON.parse(json) as string[]
const infoOf = (row: VersionRow): VersionInfo => ({ ...row, authors: authorsOf(row.authors) })

/// Open (creating it and its folder if needed) a SQLite database file.
export function sqliteStorage(path: string, options: SqliteOptions = {}): Storage {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`)
  // Another process (a second instance, a backup) may hold the write lock for a moment.
  db.pragma('busy_timeout = 5000')
  createSchema(db)

  const insert = db.prepare<[string, Uint8Array, string | null, number]>(SQL.insertUpdate)
  const touch = db.prepare<[{ room: string; at: number; author: string | null }]>(SQL.touchRoom)
  const selectSnapshot = db.prepare<[string], { version: number; data: Buffer }>(SQL.selectSnapshot)
  const selectLog = db.prepare<[string], { seq: number; data: Buffer }>(SQL.selectLog)
  const selectDeletedAt = db.prepare<[string], { deletedAt: number }>(SQL.selectDeletedAt)
  const insertSnapshot = db.prepare<[string, Uint8Array]>(SQL.insertSnapshot)
  const updateSnapshot = db.prepare<[Uint8Array, string, number]>(SQL.updateSnapshot)
  const putSnapshot = db.prepare<[string, Uint8Array]>(SQL.putSnapshot)
  const deleteLogUpTo = db.prepare<[string, number]>(SQL.deleteLogUpTo)
  const deleteLog = db.prepare<[string]>(SQL.deleteLog)
  const deleteSnapshot = db.prepare<[string]>(SQL.deleteSnapshot)
  const selectFacts = db.prepare<[string], { authors: string; changed: number }>(SQL.selectFacts)
  const resetFacts = db.prepare<[string]>(SQL.resetFacts)
  const putFacts = db.prepare<[string, number, number]>(SQL.putFacts)
  const deleteFacts = db.prepare<[string]>(SQL.deleteFacts)
  const insertVersion = db.prepare<[string, number, string | null, string, Uint8Array]>(SQL.insertVersion)
  const selectVersions = db.prepare<[string], VersionRow>(SQL.selectVersions)
  const selectVersion = db.prepare<[string, number], VersionRow & { data: Buffer }>(SQL.selectVersion)
  const pruneVersions = db.prepare<[{ room: string; olderThan: number; keep: number }]>(SQL.pruneVersions)
  const deleteVersions = db.prepare<[string]>(SQL.deleteVersions)
  const putTombstone = db.prepare<[string, number, Uint8Array]>(SQL.putTombstone)
  const selectTombstone = db.prepare<[string], { data: Buffer }>(SQL.selectTombstone)
  /// List statements by the shape of the query (see `listSql`).
  const listStatements = new Map<string, Database.Statement<[Record<string, string | number>], RoomInfo>>()

  const appendAll = db.transaction((entries: readonly AppendEntry[]) => {
    const at = Date.now()
    let room: string | undefined
    let author: string | null | undefined
    for (const entry of entries) {
      const by = entry.author ?? null
      insert.run(entry.room, entry.update, by, at)
      // One facts upsert per run of a room and author: a batch is mostly one room's keystrokes.
      if (entry.room !== room || by !== author) touch.run({ room: (room = entry.room), at, author: (author = by) })
    }
  })
  const deletedAt = (room: string): number | null => selectDeletedAt.get(room)?.deletedAt ?? null
  // Reads snapshot and log in one transaction, so they are consistent with each other.
  const read = db.transaction((room: string) => ({
    deletedAt: deletedAt(room),
    snapshot: selectSnapshot.get(room),
    log: selectLog.all(room),
  }))
  const commit = db.transaction((room: string, deleted: number | null, version: number, snapshot: Uint8Array, lastSeq: number): boolean => {
    // Deleted meanwhile: the rows read are gone, and their rowids may be reused already.
    if (deletedAt(room) !== deleted) return false
    const changed = version === 0 ? insertSnapshot.run(room, snapshot) : updateSnapshot.run(snapshot, room, version)
    if (changed.changes !== 1) return false
    deleteLogUpTo.run(room, lastSeq)
    return true
  })
  const addVersion = db.transaction((room: string, v: NewVersion): VersionInfo | null => {
    const facts = selectFacts.get(room)
    if (v.onlyIfChanged && !facts?.changed) return null
    const authors = mergeAuthors(facts ? authorsOf(facts.authors) : [], v.authors)
    const createdAt = v.at ?? Date.now()
    const { lastInsertRowid } = insertVersion.run(room, createdAt, v.label, JSON.stringify(authors), v.update)
    resetFacts.run(room)
    return { id: Number(lastInsertRowid), createdAt, label: v.label, authors, bytes: v.update.length }
  })
  const deleteRoom = db.transaction((room: string, tombstone: Uint8Array): boolean => {
    const existed = deleteLog.run(room).changes + deleteSnapshot.run(room).changes + deleteFacts.run(room).changes > 0
    deleteVersions.run(room)
    putTombstone.run(room, Date.now(), tombstone)
    return existed
  })
  const putRoom = db.transaction((record: RoomRecord) => {
    const room = record.name
    deleteLog.run(room)
    deleteVersions.run(room)
    putSnapshot.run(room, record.update)
    putFacts.run(room, record.createdAt, record.updatedAt)
    for (const v of record.versions) insertVersion.run(room, v.createdAt, v.label, JSON.stringify(mergeAuthors(v.authors, [])), v.update)
  })

  return {
    async load(room) {
      const { snapshot, log } = read(room)
      const out: Uint8Array[] = log.map((r) => r.data)
      if (snapshot) out.unshift(snapshot.data)
      return out
    },
    async append(entries) {
      if (entries.length) appendAll(entries)
    },
    async compact(room, merge) {
      const { deletedAt, snapshot, log } = read(room)
      if (log.length === 0) return NOT_COMPACTED
      const inputs: Uint8Array[] = log.map((r) => r.data)
      if (snapshot) inputs.unshift(snapshot.data)
      const bytesBefore = inputs.reduce((n, u) => n + u.length, 0)
      const merged = await merge(inputs)
      if (!db.open) return NOT_COMPACTED
      // IMMEDIATE: it reads before it writes, and another process may write in between.
      if (!commit.immediate(room, deletedAt, snapshot?.version ?? 0, merged, log[log.length - 1].seq)) return NOT_COMPACTED
      return { compacted: true, rows: log.length, bytesBefore, bytesAfter: merged.length }
    },
    async list({ prefix, order, limit, after }) {
      const end = prefix ? prefixEnd(prefix) : null
      const n = Math.max(0, Math.floor(limit))
      const params: Record<string, string | number> = { limit: n + 1 } // one more: are there more?
      if (prefix) params.prefix = prefix
      if (end !== null) params.end = end
      if (after) params.afterName = after.name
      if (after && order === 'recent') params.afterAt = after.updatedAt
      const key = `${order} ${Object.keys(params).join(' ')}`
      let statement = listStatements.get(key)
      if (!statement) listStatements.set(key, (statement = db.prepare(listSql(order, !!prefix, end !== null, !!after))))
      const rooms = statement.all(params)
      return { rooms: rooms.slice(0, n), more: rooms.length > n }
    },
    async addVersion(room, version) {
      return addVersion.immediate(room, version)
    },
    async versions(room) {
      return selectVersions.all(room).map(infoOf)
    },
    async version(room, id) {
      if (!Number.isSafeInteger(id)) return null
      const row = selectVersion.get(room, id)
      if (!row) return null
      const { data, ...info } = row
      return { info: infoOf(info), update: data }
    },
    async pruneVersions(room, retention) {
      return pruneVersions.run({ room, olderThan: retention.olderThan, keep: keepLimit(retention) ?? -1 }).changes
    },
    async deleteRoom(room, tombstone) {
      return deleteRoom.immediate(room, tombstone)
    },
    async tombstone(room) {
      return selectTombstone.get(room)?.data ?? null
    },
    async putRoom(record) {
      putRoom.immediate(record)
    },
    async ping() {
      db.prepare('SELECT 1').get()
    },
    async close() {
      if (db.open) db.close()
    },
  }
}
