// The PostgreSQL store's tables and statements (see postgres.ts for how they are used).
import type { ListQuery } from './types.js'

// `concord_rooms` holds each stored room's facts: `authors` and `changed` tell who appended
// and whether anything was since the room's last version. Its names compare by code point
// (COLLATE "C"), as SQLite's and the memory store's do, whatever the database's locale.
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS concord_updates (
  seq bigserial PRIMARY KEY,
  room text NOT NULL,
  data bytea NOT NULL,
  author text,
  at bigint
);
CREATE INDEX IF NOT EXISTS concord_updates_room ON concord_updates (room, seq);
CREATE TABLE IF NOT EXISTS concord_snapshots (
  room text PRIMARY KEY,
  version bigint NOT NULL,
  data bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS concord_rooms (
  room text COLLATE "C" PRIMARY KEY,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  authors text[] NOT NULL,
  changed boolean NOT NULL
);
CREATE TABLE IF NOT EXISTS concord_versions (
  id bigserial PRIMARY KEY,
  room text NOT NULL,
  created_at bigint NOT NULL,
  label text,
  authors text[] NOT NULL,
  data bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS concord_versions_room ON concord_versions (room, id);
CREATE TABLE IF NOT EXISTS concord_tombstones (
  room text PRIMARY KEY,
  deleted_at bigint NOT NULL,
  data bytea NOT NULL
);
`

/// Whether `concord_updates` lacks columns added since it was first made (an older schema).
export const MISSING_COLUMNS = `
SELECT count(*) < 2 AS missing FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'concord_updates' AND column_name IN ('author', 'at')`

/// Bring `concord_updates` up to this schema. Only when needed: ALTER TABLE takes the table's
/// strongest lock, and while it waits (for a long read, a dump) appends would queue behind it.
export const ADD_COLUMNS = 'ALTER TABLE concord_updates ADD COLUMN IF NOT EXISTS author text, ADD COLUMN IF NOT EXISTS at bigint'

/// Rooms of databases from before `concord_rooms` get their facts ($1: now).
export const ADD_MISSING_FACTS = `
INSERT INTO concord_rooms (room, created_at, updated_at, authors, changed)
SELECT room, $1, $1, '{}', true FROM (SELECT room FROM concord_snapshots UNION SELECT room FROM concord_updates) r
ON CONFLICT (room) DO NOTHING`

/// Snapshot first, then the log, in one statement: one consistent view of the room.
export const LOAD = `
SELECT 0 AS part, 0::bigint AS seq, version, data FROM concord_snapshots WHERE room = $1
UNION ALL
SELECT 1, seq, 0, data FROM concord_updates WHERE room = $1
ORDER BY part, seq`

/// One append batch ($1 rooms, $2 updates, $3 authors, $4 now) in one statement: the log rows
/// and each room's facts (the time, `changed`, its authors merged in). Rooms are upserted in
/// name order, so batches racing over the same rooms lock their rows in one order (no
/// deadlock); a room being deleted holds its facts row, so the batch waits for the deletion.
export const APPEND = `
WITH log AS (
  INSERT INTO concord_updates (room, data, author, at)
  SELECT room, data, author, $4 FROM unnest($1::text[], $2::bytea[], $3::text[]) AS u(room, data, author)
)
INSERT INTO concord_rooms AS r (room, created_at, updated_at, authors, changed)
SELECT room, $4, $4, coalesce(array_agg(DISTINCT author) FILTER (WHERE author IS NOT NULL), '{}'), true
FROM unnest($1::text[], $3::text[]) AS u(room, author) GROUP BY room ORDER BY room
ON CONFLICT (room) DO UPDATE SET updated_at = excluded.updated_at, changed = true,
  authors = CASE WHEN excluded.authors <@ r.authors THEN r.authors
    ELSE ARRAY(SELECT DISTINCT a FROM unnest(r.authors || excluded.authors) AS a) END`

/// The statement listing the page of rooms a query asks for, and its parameters: a query on
/// `concord_rooms` alone picks the page, and only its rooms' bytes are summed. A prefix is
/// matched by `starts_with`, and bounds an index range (`end`: see `prefixEnd`). Rooms are
/// fetched one past `limit`, to know whether more follow. (`COLLATE "default"` compares as
/// the other tables' indexes on room do.)
export function listQuery(query: ListQuery, limit: number, end: string | null): { text: string; values: Array<string | number> } {
  const values: Array<string | number> = [limit + 1]
  const param = (value: string | number): string => `$${values.push(value)}`
  const where: string[] = []
  if (query.prefix) {
    const prefix = param(query.prefix)
    where.push(`room >= ${prefix}`, `starts_with(room, ${prefix})`)
  }
  if (end !== null) where.push(`room < ${param(end)}`)
  const { after } = query
  if (after && query.order === 'name') where.push(`room > ${param(after.name)}`)
  if (after && query.order === 'recent') where.push(`(updated_at, room) < (${param(after.updatedAt)}, ${param(after.name)})`)
  const orderBy = query.order === 'name' ? 'ORDER BY room' : 'ORDER BY updated_at DESC, room DESC'
  const text = `
WITH page AS (
  SELECT room, created_at, updated_at FROM concord_rooms ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
  ${orderBy} LIMIT $1
)
SELECT room AS name, created_at, updated_at,
  coalesce((SELECT octet_length(data) FROM concord_snapshots s WHERE s.room = page.room COLLATE "default"), 0)
  + coalesce((SELECT sum(octet_length(data)) FROM concord_updates u WHERE u.room = page.room COLLATE "default"), 0) AS bytes
FROM page ${orderBy}`
  return { text, values }
}

/// Add a version ($1 room, $2 created_at, $3 label, $4 authors, $5 data).
export const INSERT_VERSION = 'INSERT INTO concord_versions (room, created_at, label, authors, data) VALUES ($1, $2, $3, $4, $5)'

/// A version's description, without its content.
export const VERSION_INFO = 'id, created_at, label, authors, octet_length(data) AS bytes'

/// Labelled versions stay; of the others, the newest $3 (NULL: any number) of those created
/// at $2 or later.
export const PRUNE_VERSIONS = `
DELETE FROM concord_versions WHERE room = $1 AND label IS NULL AND id NOT IN (
  SELECT id FROM concord_versions WHERE room = $1 AND label IS NULL AND created_at >= $2
  ORDER BY created_at DESC, id DESC LIMIT $3)`

/// `deleted_at` only grows, even within a millisecond: a compaction compares it before and
/// after, to know the room was not deleted in between.
export const PUT_TOMBSTONE = `
INSERT INTO concord_tombstones AS t (room, deleted_at, data) VALUES ($1, $2, $3)
ON CONFLICT (room) DO UPDATE SET deleted_at = greatest(excluded.deleted_at, t.deleted_at + 1), data = excluded.data`

/// A new version number either way: a compaction that read the old one cannot commit.
export const PUT_SNAPSHOT = `
INSERT INTO concord_snapshots AS s (room, version, data) VALUES ($1, 1, $2)
ON CONFLICT (room) DO UPDATE SET version = s.version + 1, data = excluded.data`

/// The facts of a replaced room; taken first, its row lock holds appends off (see APPEND).
export const PUT_FACTS = `
INSERT INTO concord_rooms AS r (room, created_at, updated_at, authors, changed) VALUES ($1, $2, $3, '{}', false)
ON CONFLICT (room) DO UPDATE SET created_at = excluded.created_at, updated_at = excluded.updated_at, authors = '{}', changed = false`
