// PostgreSQL storage (`pg`): for production and for several instances sharing rooms. Each
// append batch is one INSERT statement (atomic on its own); compaction commits only over the
// snapshot version it read, so instances racing to compact a room cannot lose each other's
// rows.
import pg from 'pg'
import { NOT_COMPACTED, type Storage } from './types.js'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS concord_updates (
  seq bigserial PRIMARY KEY,
  room text NOT NULL,
  data bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS concord_updates_room ON concord_updates (room, seq);
CREATE TABLE IF NOT EXISTS concord_snapshots (
  room text PRIMARY KEY,
  version bigint NOT NULL,
  data bytea NOT NULL
);
`
// Any constant: serialises schema creation between instances starting together
// (CREATE TABLE IF NOT EXISTS is not safe against itself).
const SCHEMA_LOCK = 0x636f6e63

// Snapshot first, then the log, in one statement: one consistent view of the room.
const LOAD = `
SELECT 0 AS part, 0::bigint AS seq, version, data FROM concord_snapshots WHERE room = $1
UNION ALL
SELECT 1, seq, 0, data FROM concord_updates WHERE room = $1
ORDER BY part, seq`

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
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]).catch(() => undefined)
    client.release()
  }

  async function read(room: string) {
    const { rows } = await pool.query<{ part: number; seq: string; version: string; data: Buffer }>(LOAD, [room])
    const snapshot = rows.length && rows[0].part === 0 ? rows[0] : null
    return { snapshot, log: snapshot ? rows.slice(1) : rows }
  }

  return {
    async load(room) {
      const { rows } = await pool.query<{ data: Buffer }>(LOAD, [room])
      return rows.map((r) => r.data)
    },
    async append(entries) {
      if (!entries.length) return
      await pool.query(
        'INSERT INTO concord_updates (room, data) SELECT * FROM unnest($1::text[], $2::bytea[])',
        [entries.map((e) => e.room), entries.map((e) => toBuffer(e.update))],
      )
    },
    async compact(room, merge) {
      const { snapshot, log } = await read(room)
      if (log.length === 0) return NOT_COMPACTED
      const inputs: Uint8Array[] = log.map((r) => r.data)
      if (snapshot) inputs.unshift(snapshot.data)
      const bytesBefore = inputs.reduce((n, u) => n + u.length, 0)
      const merged = toBuffer(await merge(inputs))
      const tx = await pool.connect()
      try {
        await tx.query('BEGIN')
        // A racing compaction blocks on the row (or the key) until it commits, then this
        // statement sees its newer version and changes nothing.
        const changed = snapshot
          ? await tx.query('UPDATE concord_snapshots SET data = $2, version = version + 1 WHERE room = $1 AND version = $3', [room, merged, snapshot.version])
          : await tx.query('INSERT INTO concord_snapshots (room, version, data) VALUES ($1, 1, $2) ON CONFLICT (room) DO NOTHING', [room, merged])
        if (changed.rowCount !== 1) {
          await tx.query('ROLLBACK')
          return NOT_COMPACTED
        }
        // Sequence values are taken at insert, not at commit: a row with a smaller seq may
        // commit after we read. Delete exactly the rows that were folded in, never a range.
        await tx.query('DELETE FROM concord_updates WHERE room = $1 AND seq = ANY($2::bigint[])', [room, log.map((r) => r.seq)])
        await tx.query('COMMIT')
      } catch (error) {
        await tx.query('ROLLBACK').catch(() => undefined)
        throw error
      } finally {
        tx.release()
      }
      return { compacted: true, rows: log.length, bytesBefore, bytesAfter: merged.length }
    },
    async ping() {
      await pool.query('SELECT 1')
    },
    async close() {
      await pool.end()
    },
  }
}
