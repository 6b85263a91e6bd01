// SQLite storage (better-sqlite3, WAL): the embedded default. One file holds every room.
// better-sqlite3 is synchronous, so each call runs to completion inside one event-loop turn;
// appends of a turn arrive here as one batch and commit as one transaction.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { NOT_COMPACTED, type AppendEntry, type Storage } from './types.js'

/// Options of the SQLite store.
export interface SqliteOptions {
  /// `FULL` (default) syncs the WAL on every commit, so an acknowledged update survives a
  /// power cut too; `NORMAL` survives process crashes only, and is faster.
  synchronous?: 'FULL' | 'NORMAL'
}

// `seq` is the rowid without AUTOINCREMENT, which would write sqlite_sequence's page on every
// commit. A rowid is reused only above the highest remaining row; a compaction deletes rows up
// to one it read, which stays until that delete, so no row appended meanwhile can fall below it.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS concord_updates (
  seq INTEGER PRIMARY KEY,
  room TEXT NOT NULL,
  data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS concord_updates_room ON concord_updates (room, seq);
CREATE TABLE IF NOT EXISTS concord_snapshots (
  room TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  data BLOB NOT NULL
);
`

/// Open (creating it and its folder if needed) a SQLite database file.
export function sqliteStorage(path: string, options: SqliteOptions = {}): Storage {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`)
  // Another process (a second instance, a backup) may hold the write lock for a moment.
  db.pragma('busy_timeout = 5000')
  db.exec(SCHEMA)

  const insert = db.prepare<[string, Uint8Array]>('INSERT INTO concord_updates (room, data) VALUES (?, ?)')
  const selectSnapshot = db.prepare<[string], { version: number; data: Buffer }>(
    'SELECT version, data FROM concord_snapshots WHERE room = ?',
  )
  const selectLog = db.prepare<[string], { seq: number; data: Buffer }>(
    'SELECT seq, data FROM concord_updates WHERE room = ? ORDER BY seq',
  )
  const insertSnapshot = db.prepare<[string, Uint8Array]>(
    'INSERT INTO concord_snapshots (room, version, data) VALUES (?, 1, ?) ON CONFLICT (room) DO NOTHING',
  )
  const updateSnapshot = db.prepare<[Uint8Array, string, number]>(
    'UPDATE concord_snapshots SET data = ?, version = version + 1 WHERE room = ? AND version = ?',
  )
  // SQLite has one writer at a time and hands out rowids in commit order, so "every row up
  // to the last one read" is exactly the rows read (unlike PostgreSQL's sequences).
  const deleteLog = db.prepare<[string, number]>('DELETE FROM concord_updates WHERE room = ? AND seq <= ?')

  const appendAll = db.transaction((entries: readonly AppendEntry[]) => {
    for (const { room, update } of entries) insert.run(room, update)
  })
  // Reads snapshot and log in one transaction, so they are consistent with each other.
  const read = db.transaction((room: string) => ({ snapshot: selectSnapshot.get(room), log: selectLog.all(room) }))
  const commit = db.transaction((room: string, version: number, snapshot: Uint8Array, lastSeq: number): boolean => {
    const changed = version === 0 ? insertSnapshot.run(room, snapshot) : updateSnapshot.run(snapshot, room, version)
    if (changed.changes !== 1) return false
    deleteLog.run(room, lastSeq)
    return true
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
      const { snapshot, log } = read(room)
      if (log.length === 0) return NOT_COMPACTED
      const inputs: Uint8Array[] = log.map((r) => r.data)
      if (snapshot) inputs.unshift(snapshot.data)
      const bytesBefore = inputs.reduce((n, u) => n + u.length, 0)
      const merged = await merge(inputs)
      if (!db.open) return NOT_COMPACTED
      if (!commit(room, snapshot?.version ?? 0, merged, log[log.length - 1].seq)) return NOT_COMPACTED
      return { compacted: true, rows: log.length, bytesBefore, bytesAfter: merged.length }
    },
    async ping() {
      db.prepare('SELECT 1').get()
    },
    async close() {
      if (db.open) db.close()
    },
  }
}
