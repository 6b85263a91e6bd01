// The SQLite store's tables and statements (see sqlite.ts for how they are used).
import type Database from 'better-sqlite3'

// `seq` is the rowid without AUTOINCREMENT, which would write sqlite_sequence's page on every
// commit. A rowid is reused only above the highest remaining row; a compaction deletes rows up
// to one it read, which stays until that delete, so no row appended meanwhile can fall below it
// (a deletion or replacement of the room in between makes the compaction give up).
// `concord_rooms` holds each stored room's facts: `authors` (a JSON array) and `changed` tell
// who appended and whether anything was since the room's last version. Versions do take
// AUTOINCREMENT: their ids must never be reused.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS concord_updates (
  seq INTEGER PRIMARY KEY,
  room TEXT NOT NULL,
  data BLOB NOT NULL,
  author TEXT,
  at INTEGER
);
CREATE INDEX IF NOT EXISTS concord_updates_room ON concord_updates (room, seq);
CREATE TABLE IF NOT EXISTS concord_snapshots (
  room TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS concord_rooms (
  room TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  authors TEXT NOT NULL,
  changed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS concord_versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  room TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  label TEXT,
  authors TEXT NOT NULL,
  data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS concord_versions_room ON concord_versions (room, id);
CREATE TABLE IF NOT EXISTS concord_tombstones (
  room TEXT PRIMARY KEY,
  deleted_at INTEGER NOT NULL,
  data BLOB NOT NULL
);
`

// Rooms of databases from before `concord_rooms` get their facts. (`WHERE true` keeps SQLite
// from reading ON CONFLICT as a join's ON.)
const ADD_MISSING_FACTS = `
INSERT INTO concord_rooms (room, created_at, updated_at, authors, changed)
SELECT room, @now, @now, '[]', 1 FROM (SELECT room FROM concord_snapshots UNION SELECT room FROM concord_updates) WHERE true
ON CONFLICT (room) DO NOTHING`

/// Create the tables, and bring a database of an older schema up to this one, in one write
/// transaction (instances opening the same file at once do it one after the other).
export function createSchema(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA)
    const columns = new Set(db.prepare<[], { name: string }>('SELECT name FROM pragma_table_info(\'concord_updates\')').all().map((c) => c.name))
    if (!columns.has('author')) db.exec('ALTER TABLE concord_updates ADD COLUMN author TEXT')
    if (!columns.has('at')) db.exec('ALTER TABLE concord_updates ADD COLUMN at INTEGER')
    db.prepare(ADD_MISSING_FACTS).run({ now: Date.now() })
  }).immediate()
}

/// The statements `sqliteStorage` runs, by what they do.
export const SQL = {
  insertUpdate: 'INSERT INTO concord_updates (room, data, author, at) VALUES (?, ?, ?, ?)',
  // An append's facts: `changed`, the time, and its author merged into the room's authors.
  touchRoom: `
INSERT INTO concord_rooms (room, created_at, updated_at, authors, changed)
VALUES (@room, @at, @at, CASE WHEN @author IS NULL THEN '[]' ELSE json_array(@author) END, 1)
ON CONFLICT (room) DO UPDATE SET updated_at = excluded.updated_at, changed = 1,
  authors = CASE
    WHEN @author IS NULL OR EXISTS (SELECT 1 FROM json_each(concord_rooms.authors) WHERE value = @author) THEN concord_rooms.authors
    ELSE json_insert(concord_rooms.authors, '$[#]', @author) END`,
  selectSnapshot: 'SELECT version, data FROM concord_snapshots WHERE room = ?',
  selectLog: 'SELECT seq, data FROM concord_updates WHERE room = ? ORDER BY seq',
  selectDeletedAt: 'SELECT deleted_at AS deletedAt FROM concord_tombstones WHERE room = ?',
  insertSnapshot: 'INSERT INTO concord_snapshots (room, version, data) VALUES (?, 1, ?) ON CONFLICT (room) DO NOTHING',
  updateSnapshot: 'UPDATE concord_snapshots SET data = ?, version = version + 1 WHERE room = ? AND version = ?',
  // A new version number either way: a compaction that read the old one cannot commit.
  putSnapshot: `INSERT INTO concord_snapshots (room, version, data) VALUES (?, 1, ?)
ON CONFLICT (room) DO UPDATE SET version = version + 1, data = excluded.data`,
  // SQLite has one writer at a time and hands out rowids in commit order, so "every row up
  // to the last one read" is exactly the rows read (unlike PostgreSQL's sequences).
  deleteLogUpTo: 'DELETE FROM concord_updates WHERE room = ? AND seq <= ?',
  deleteLog: 'DELETE FROM concord_updates WHERE room = ?',
  deleteSnapshot: 'DELETE FROM concord_snapshots WHERE room = ?',
  selectFacts: 'SELECT authors, changed FROM concord_rooms WHERE room = ?',
  resetFacts: "UPDATE concord_rooms SET authors = '[]', changed = 0 WHERE room = ?",
  putFacts: `INSERT INTO concord_rooms (room, created_at, updated_at, authors, changed) VALUES (?, ?, ?, '[]', 0)
ON CONFLICT (room) DO UPDATE SET created_at = excluded.created_at, updated_at = excluded.updated_at, authors = '[]', changed = 0`,
  deleteFacts: 'DELETE FROM concord_rooms WHERE room = ?',
  insertVersion: 'INSERT INTO concord_versions (room, created_at, label, authors, data) VALUES (?, ?, ?, ?, ?)',
  selectVersions: `SELECT id, created_at AS createdAt, label, authors, length(data) AS bytes
FROM concord_versions WHERE room = ? ORDER BY id DESC`,
  selectVersion: `SELECT id, created_at AS createdAt, label, authors, length(data) AS bytes, data
FROM concord_versions WHERE room = ? AND id = ?`,
  // Labelled versions stay; of the others, the newest `keep` of those young enough (a
  // negative LIMIT is none).
  pruneVersions: `
DELETE FROM concord_versions WHERE room = @room AND label IS NULL AND id NOT IN (
  SELECT id FROM concord_versions WHERE room = @room AND label IS NULL AND created_at >= @olderThan
  ORDER BY created_at DESC, id DESC LIMIT @keep)`,
  deleteVersions: 'DELETE FROM concord_versions WHERE room = ?',
  // `deleted_at` only grows, even within a millisecond: a compaction compares it before and
  // after, to know the room was not deleted in between.
  putTombstone: `INSERT INTO concord_tombstones (room, deleted_at, data) VALUES (?, ?, ?)
ON CONFLICT (room) DO UPDATE SET deleted_at = max(excluded.deleted_at, deleted_at + 1), data = excluded.data`,
  selectTombstone: 'SELECT data FROM concord_tombstones WHERE room = ?',
}

/// The statement listing one page of rooms: a query on `concord_rooms` alone picks the page,
/// and only its rooms' bytes are summed. Parameters: @prefix, @end (the prefix's index range;
/// `substr` is the exact test), @afterName, @afterAt, @limit.
export function listSql(order: 'name' | 'recent', prefix: boolean, end: boolean, after: boolean): string {
  const where: string[] = []
  if (prefix) where.push('room >= @prefix', 'substr(room, 1, length(@prefix)) = @prefix')
  if (end) where.push('room < @end')
  if (after) where.push(order === 'name' ? 'room > @afterName' : '(updated_at, room) < (@afterAt, @afterName)')
  const orderBy = order === 'name' ? 'ORDER BY room' : 'ORDER BY updated_at DESC, room DESC'
  return `
SELECT p.room AS name, p.created_at AS createdAt, p.updated_at AS updatedAt,
  coalesce((SELECT length(data) FROM concord_snapshots s WHERE s.room = p.room), 0)
  + coalesce((SELECT sum(length(data)) FROM concord_updates u WHERE u.room = p.room), 0) AS bytes
FROM (SELECT room, created_at, updated_at FROM concord_rooms ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
  ${orderBy} LIMIT @limit) p
${orderBy}`
}
