// PostgreSQL storage (`pg`): for production and for several instances sharing rooms. Each
// append batch is one statement (atomic on its own); compaction commits only over the
// snapshot version it read, so instances racing to compact a room cannot lose each other's
// rows. Tables and statements are in postgresSchema.ts.
import pg from 'pg'
import { keepLimit, mergeAuthors, prefixEnd } from './listing.js'
import {
  ADD_COLUMNS,
  ADD_MISSING_FACTS,
  APPEND,
  INSERT_VERSION,
  LOAD,
  MISSING_COLUMNS,
  PRUNE_VERSIONS,
  PUT_FACTS,
  PUT_SNAPSHOT,
  PUT_TOMBSTONE,
  SCHEMA,
  VERSION_INFO,
  listQuery,
} from './postgresSchema.js'
import { NOT_COMPACTED, type Storage, type VersionInfo } from './types.js'

// Any constant: serialises schema creation between instances starting together
// (CREATE TABLE IF NOT EXISTS is not safe against itself).
const SCHEMA_LOCK = 0x636f6e63
// First key of the room locks (the second is the name's hash): a compaction's commit, a
// deletion and a replacement of one room take turns, in any instance.
const ROOM_LOCK = 0x636f6e64

interface VersionRow {
  id: string
  created_at: string
  label: string | null
  authors: string[]
  bytes: number
}

const infoOf = (r: VersionRow): VersionInfo => ({
  id: Number(r.id),
  createdAt: Number(r.created_at),
  label: r.label,
  authors: r.authors,
  bytes: r.bytes,
})

const toBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength))

/// Connect to PostgreSQL (a `postgres://` URL) and create the tables if missing.
export async function postgresStorage(url: string, poolOptions: pg.PoolConfig = {}): Promise<Storage> {
  const pool = new pg.Pool({ connectionString: url, max: 4, ...poolOptions })
  // An idle client's error (server restart) must not crash the process; the next query fails.
  pool.on('error', () => undefined)
  const client = await pool.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK])
    await client.query(SCHEMA)
    if ((await client.query<{ missing: boolean }>(MISSING_COLUMNS)).rows[0].missing) await client.query(ADD_COLUMNS)
    await client.query(ADD_MISSING_FACTS, [Date.now()])
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]).catch(() => undefined)
    client.release()
  }

  async function read(room: string) {
    const { rows } = await pool.query<{ part: number; seq: string; version: string; data: Buffer }>(LOAD, [room])
    const snapshot = rows.length && rows[0].part === 0 ? rows[0] : null
    return { snapshot, log: snapshot ? rows.slice(1) : rows }
  }

  /// `work` in a transaction: committed when it returns (having written nothing, if it gave
  /// up), rolled back when it throws.
  async function transaction<T>(work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
    const tx = await pool.connect()
    try {
      await tx.query('BEGIN')
      const result = await work(tx)
      await tx.query('COMMIT')
      return result
    } catch (error) {
      await tx.query('ROLLBACK').catch(() => undefined)
      throw error
    } finally {
      tx.release()
    }
  }

  const lockRoom = (tx: pg.PoolClient, room: string) => tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ROOM_LOCK, room])
  /// When the room was last deleted (a bigint's text), or null.
  const deletedAt = async (db: pg.Pool | pg.PoolClient, room: string): Promise<string | null> =>
    (await db.query<{ deleted_at: string }>('SELECT deleted_at FROM concord_tombstones WHERE room = $1', [room])).rows[0]?.deleted_at ?? null

  return {
    async load(room) {
      const { rows } = await pool.query<{ data: Buffer }>(LOAD, [room])
      return rows.map((r) => r.data)
    },
    async append(entries) {
      if (!entries.length) return
      await pool.query(APPEND, [entries.map((e) => e.room), entries.map((e) => toBuffer(e.update)), entries.map((e) => e.author ?? null), Date.now()])
    },
    async compact(room, merge) {
      // The tombstone before the room: a deletion after this read shows at the commit.
      const deleted = await deletedAt(pool, room)
      const { snapshot, log } = await read(room)
      if (log.length === 0) return NOT_COMPACTED
      const inputs: Uint8Array[] = log.map((r) => r.data)
      if (snapshot) inputs.unshift(snapshot.data)
      const bytesBefore = inputs.reduce((n, u) => n + u.length, 0)
      const merged = toBuffer(await merge(inputs))
      const committed = await transaction(async (tx) => {
        await lockRoom(tx, room)
        // Deleted meanwhile: a snapshot written now would bring the old document back.
        if ((await deletedAt(tx, room)) !== deleted) return false
        // A racing compaction's commit went first (it held the lock): this statement sees
        // its newer version and changes nothing.
        const changed = snapshot
          ? await tx.query('UPDATE concord_snapshots SET data = $2, version = version + 1 WHERE room = $1 AND version = $3', [room, merged, snapshot.version])
          : await tx.query('INSERT INTO concord_snapshots (room, version, data) VALUES ($1, 1, $2) ON CONFLICT (room) DO NOTHING', [room, merged])
        if (changed.rowCount !== 1) return false
        // Sequence values are taken at insert, not at commit: a row with a smaller seq may
        // commit after we read. Delete exactly the rows that were folded in, never a range.
        await tx.query('DELETE FROM concord_updates WHERE room = $1 AND seq = ANY($2::bigint[])', [room, log.map((r) => r.seq)])
        return true
      })
      if (!committed) return NOT_COMPACTED
      return { compacted: true, rows: log.length, bytesBefore, bytesAfter: merged.length }
    },
    async list(query) {
      const limit = Math.max(0, Math.floor(query.limit))
      const { text, values } = listQuery(query, limit, query.prefix ? prefixEnd(query.prefix) : null)
      const { rows } = await pool.query<{ name: string; created_at: string; updated_at: string; bytes: string }>(text, values)
      return {
        rooms: rows.slice(0, limit).map((r) => ({
          name: r.name,
          bytes: Number(r.bytes),
          createdAt: Number(r.created_at),
          updatedAt: Number(r.updated_at),
        })),
        more: rows.length > limit,
      }
    },
    async addVersion(room, version) {
      return transaction(async (tx) => {
        // Locked: instances adding a version at once add one (the other sees nothing changed).
        const { rows } = await tx.query<{ authors: string[]; changed: boolean }>(
          'SELECT authors, changed FROM concord_rooms WHERE room = $1 FOR UPDATE',
          [room],
        )
        const facts = rows[0]
        if (version.onlyIfChanged && !facts?.changed) return null
        const authors = mergeAuthors(facts?.authors ?? [], version.authors)
        const createdAt = version.at ?? Date.now()
        const inserted = await tx.query<{ id: string }>(
          `${INSERT_VERSION} RETURNING id`,
          [room, createdAt, version.label, authors, toBuffer(version.update)],
        )
        if (facts) await tx.query("UPDATE concord_rooms SET authors = '{}', changed = false WHERE room = $1", [room])
        return { id: Number(inserted.rows[0].id), createdAt, label: version.label, authors, bytes: version.update.length }
      })
    },
    async versions(room) {
      const { rows } = await pool.query<VersionRow>(`SELECT ${VERSION_INFO} FROM concord_versions WHERE room = $1 ORDER BY id DESC`, [room])
      return rows.map(infoOf)
    },
    async version(room, id) {
      if (!Number.isSafeInteger(id)) return null
      const { rows } = await pool.query<VersionRow & { data: Buffer }>(
        `SELECT ${VERSION_INFO}, data FROM concord_versions WHERE room = $1 AND id = $2`,
        [room, id],
      )
      return rows.length ? { info: infoOf(rows[0]), update: rows[0].data } : null
    },
    async pruneVersions(room, retention) {
      return (await pool.query(PRUNE_VERSIONS, [room, retention.olderThan, keepLimit(retention)])).rowCount ?? 0
    },
    async deleteRoom(room, tombstone) {
      return transaction(async (tx) => {
        await lockRoom(tx, room)
        // The facts row first: an append of the room holds it until it commits (then its rows
        // are deleted below), or waits for this deletion (then its rows stay, alone).
        let existed = (await tx.query('DELETE FROM concord_rooms WHERE room = $1', [room])).rowCount ?? 0
        existed += (await tx.query('DELETE FROM concord_updates WHERE room = $1', [room])).rowCount ?? 0
        existed += (await tx.query('DELETE FROM concord_snapshots WHERE room = $1', [room])).rowCount ?? 0
        await tx.query('DELETE FROM concord_versions WHERE room = $1', [room])
        await tx.query(PUT_TOMBSTONE, [room, Date.now(), toBuffer(tombstone)])
        return existed > 0
      })
    },
    async tombstone(room) {
      const { rows } = await pool.query<{ data: Buffer }>('SELECT data FROM concord_tombstones WHERE room = $1', [room])
      return rows[0]?.data ?? null
    },
    async putRoom(record) {
      const room = record.name
      await transaction(async (tx) => {
        await lockRoom(tx, room)
        await tx.query(PUT_FACTS, [room, record.createdAt, record.updatedAt]) // first, as in deleteRoom
        await tx.query('DELETE FROM concord_updates WHERE room = $1', [room])
        await tx.query('DELETE FROM concord_versions WHERE room = $1', [room])
        await tx.query(PUT_SNAPSHOT, [room, toBuffer(record.update)])
        // Oldest first: ids increase with time.
        for (const v of record.versions) {
          await tx.query(
            INSERT_VERSION,
            [room, v.createdAt, v.label, mergeAuthors(v.authors, []), toBuffer(v.update)],
          )
        }
      })
    },
    async ping() {
      await pool.query('SELECT 1')
    },
    async close() {
      await pool.end()
    },
  }
}
