// Storage in process memory: for tests and for deployments that accept losing documents on
// restart. Rooms still survive being unloaded while the process lives.
//
// A room's log is its updates' bytes packed one after another into shared chunks, with where
// each lies: an append copies a few bytes, where one object and one small array per update
// gave the garbage collector thousands of live entries to trace and promote, only for a
// compaction to drop them from the old space.
import { compareNames, keepLimit, mergeAuthors } from './listing.js'
import { NOT_COMPACTED, type AppendEntry, type Storage, type VersionInfo } from './types.js'

/// Bytes of one chunk of a room's log. An update of a quarter of that or more is kept in a
/// chunk of its own size, so a room wastes at most the unfilled end of one chunk.
const CHUNK_BYTES = 16 * 1024
const OWN_CHUNK_BYTES = CHUNK_BYTES / 4
const FIRST_CHUNK_BYTES = 256

/// Packed update bytes: entry `i` is `chunks[index[3i]][index[3i + 1] .. index[3i + 2]]`. A
/// chunk's filled bytes are never written again, so views handed out by `load` and `compact`
/// stay valid. The index is one typed array: 12 bytes an entry that the garbage collector
/// never traces, where three arrays of numbers took 24 and more.
interface PackedLog {
  chunks: Uint8Array[]
  /// The chunk small updates go to (-1: none yet) and the bytes filled in it.
  filling: number
  used: number
  index: Uint32Array
  count: number
}

interface MemoryRoom {
  snapshot: Uint8Array | null
  /// Bumped by every committed compaction; a compaction commits only over the version it read.
  version: number
  log: PackedLog
  createdAt: number
  updatedAt: number
  /// Distinct authors appended since the room's last version, and whether anything was.
  authors: string[]
  changed: boolean
}

interface MemoryVersion {
  info: VersionInfo
  update: Uint8Array
}

/// What the order of a listing looks at.
interface Listed {
  name: string
  updatedAt: number
}

function newRoom(at: number, snapshot: Uint8Array | null = null): MemoryRoom {
  return { snapshot, version: 0, log: emptyLog(), createdAt: at, updatedAt: at, authors: [], changed: false }
}

/// A copy the caller may change freely.
const infoCopy = (info: VersionInfo): VersionInfo => ({ ...info, authors: [...info.authors] })

const NO_INDEX = new Uint32Array(0)
const FIRST_INDEX_ENTRIES = 16

function emptyLog(): PackedLog {
  return { chunks: [], filling: -1, used: 0, index: NO_INDEX, count: 0 }
}

function addEntry(log: PackedLog, chunk: number, start: number, end: number): void {
  let at = 3 * log.count
  if (at === log.index.length) {
    const grown = new Uint32Array(Math.max(3 * FIRST_INDEX_ENTRIES, 2 * at))
    grown.set(log.index)
    log.index = grown
  }
  const index = log.index
  index[at++] = chunk
  index[at++] = start
  index[at] = end
  log.count++
}

/// Copy `update` to the end of the log.
function push(log: PackedLog, update: Uint8Array): void {
  if (update.length >= OWN_CHUNK_BYTES) {
    // A copy: a Buffer's `slice` is a view.
    addEntry(log, log.chunks.push(new Uint8Array(update)) - 1, 0, update.length)
    return
  }
  const chunk = log.filling < 0 ? null : log.chunks[log.filling]
  if (chunk === null || log.used + update.length > chunk.length) {
    // Chunks double from a small first one: a room with a few edits holds a few hundred bytes.
    const size = Math.min(CHUNK_BYTES, Math.max(FIRST_CHUNK_BYTES, 2 * (chunk?.length ?? 0), update.length))
    log.filling = log.chunks.push(new Uint8Array(size)) - 1
    log.used = 0
  }
  log.chunks[log.filling].set(update, log.used)
  addEntry(log, log.filling, log.used, (log.used += update.length))
}

/// A view of entry `i`.
function entry(log: PackedLog, i: number): Uint8Array {
  const { index } = log
  return log.chunks[index[3 * i]].subarray(index[3 * i + 1], index[3 * i + 2])
}

/// Views of the log's first `count` entries.
function entries(log: PackedLog, count = log.count): Uint8Array[] {
  const out = new Array<Uint8Array>(count)
  for (let i = 0; i < count; i++) out[i] = entry(log, i)
  return out
}

/// Bytes of the log's first `count` entries.
function bytesOf(log: PackedLog, count: number): number {
  let bytes = 0
  for (let i = 0; i < count; i++) bytes += log.index[3 * i + 2] - log.index[3 * i + 1]
  return bytes
}

/// The log without its first `count` entries, the rest copied into chunks of its own.
function withoutFirst(log: PackedLog, count: number): PackedLog {
  const rest = emptyLog()
  for (let i = count; i < log.count; i++) push(rest, entry(log, i))
  return rest
}

/// Create an in-memory store. A `volatile` one (what `--storage memory` opens) asks the server
/// for a room's state when the room unloads instead of each update (see `Storage.volatile`);
/// one that is not logs every update as a durable store does (tests inspect that).
export function memoryStorage({ volatile = false }: { volatile?: boolean } = {}): Storage {
  const rooms = new Map<string, MemoryRoom>()
  /// Each room's versions, oldest first.
  const versions = new Map<string, MemoryVersion[]>()
  const tombstones = new Map<string, Uint8Array>()
  let nextVersionId = 1
  let closed = false
  const check = () => {
    if (closed) throw new Error('memory storage is closed')
  }
  const appendNow = (batch: readonly AppendEntry[]): void => {
    check()
    const now = Date.now()
    for (const { room, update, author } of batch) {
      let r = rooms.get(room)
      if (!r) rooms.set(room, (r = newRoom(now)))
      push(r.log, update)
      r.updatedAt = now
      r.changed = true
      if (author != null && !r.authors.includes(author)) r.authors.push(author)
    }
  }
  const storeVersion = (room: string, update: Uint8Array, label: string | null, createdAt: number, authors: string[]): VersionInfo => {
    const info: VersionInfo = { id: nextVersionId++, createdAt, label, authors, bytes: update.length }
    let list = versions.get(room)
    if (!list) versions.set(room, (list = []))
    list.push({ info, update: new Uint8Array(update) })
    return infoCopy(info)
  }
  return {
    volatile,
    appendNow,
    replace(room, snapshot) {
      check()
      const now = Date.now()
      const r = rooms.get(room)
      if (!r) return void rooms.set(room, { ...newRoom(now, snapshot), changed: true })
      r.snapshot = snapshot
      r.log = emptyLog()
      r.version++ // a compaction running now must not commit over this
      r.updatedAt = now
      r.changed = true
    },
    noteChange(room, author) {
      check()
      const now = Date.now()
      let r = rooms.get(room)
      if (!r) rooms.set(room, (r = newRoom(now, null)))
      r.updatedAt = now
      r.changed = true
      if (author !== null && !r.authors.includes(author)) r.authors.push(author)
    },
    async load(room) {
      check()
      const r = rooms.get(room)
      if (!r) return []
      const out = entries(r.log)
      if (r.snapshot) out.unshift(r.snapshot)
      return out
    },
    async append(batch: readonly AppendEntry[]) {
      appendNow(batch)
    },
    async compact(room, merge) {
      check()
      const r = rooms.get(room)
      if (!r || r.log.count === 0) return NOT_COMPACTED
      const { version, log } = r
      const rows = log.count
      const inputs = entries(log, rows)
      if (r.snapshot) inputs.unshift(r.snapshot)
      const bytesBefore = (r.snapshot?.length ?? 0) + bytesOf(log, rows)
      const snapshot = await merge(inputs)
      // A deleted or replaced room (`deleteRoom`, `putRoom`) is another object, or none.
      if (r.version !== version || rooms.get(room) !== r) return NOT_COMPACTED
      // Appends meanwhile went to the end of the same log (only a compaction replaces it).
      r.snapshot = snapshot
      r.version++
      r.log = withoutFirst(r.log, rows)
      return { compacted: true, rows, bytesBefore, bytesAfter: snapshot.length }
    },
    async list({ prefix, order, limit, after }) {
      check()
      const recent = order === 'recent'
      // Negative: a comes first in the query's order.
      const cmp = (a: Listed, b: Listed): number =>
        recent ? b.updatedAt - a.updatedAt || compareNames(b.name, a.name) : compareNames(a.name, b.name)
      const matching: Listed[] = []
      for (const [name, r] of rooms) {
        if (prefix && !name.startsWith(prefix)) continue
        const room = { name, updatedAt: r.updatedAt }
        if (!after || cmp(after, room) < 0) matching.push(room)
      }
      matching.sort(cmp)
      const page = matching.slice(0, Math.max(0, limit))
      return {
        more: matching.length > page.length,
        rooms: page.map(({ name }) => {
          const r = rooms.get(name)!
          const bytes = (r.snapshot?.length ?? 0) + bytesOf(r.log, r.log.count)
          return { name, bytes, createdAt: r.createdAt, updatedAt: r.updatedAt }
        }),
      }
    },
    async addVersion(room, version) {
      check()
      const r = rooms.get(room)
      // A volatile store is never appended to: it cannot tell, and always adds.
      if (version.onlyIfChanged && !volatile && !r?.changed) return null
      const authors = mergeAuthors(r?.authors ?? [], version.authors)
      const info = storeVersion(room, version.update, version.label, version.at ?? Date.now(), authors)
      if (r) {
        r.authors = []
        r.changed = false
      }
      return info
    },
    async versions(room) {
      check()
      return (versions.get(room) ?? []).map((v) => infoCopy(v.info)).reverse()
    },
    async version(room, id) {
      check()
      const v = versions.get(room)?.find((x) => x.info.id === id)
      return v ? { info: infoCopy(v.info), update: v.update } : null
    },
    async pruneVersions(room, retention) {
      check()
      const list = versions.get(room)
      if (!list) return 0
      const limit = keepLimit(retention) ?? Infinity
      // Counted newest first; the list is kept oldest first.
      const newestFirst = [...list].sort((a, b) => b.info.createdAt - a.info.createdAt || b.info.id - a.info.id)
      const keep = new Set<MemoryVersion>()
      let unlabelled = 0
      for (const v of newestFirst) {
        const kept = v.info.label !== null || (v.info.createdAt >= retention.olderThan && unlabelled++ < limit)
        if (kept) keep.add(v)
      }
      versions.set(room, list.filter((v) => keep.has(v)))
      return list.length - keep.size
    },
    async deleteRoom(room, tombstone) {
      check()
      const existed = rooms.delete(room)
      versions.delete(room)
      tombstones.set(room, new Uint8Array(tombstone))
      return existed
    },
    async tombstone(room) {
      check()
      return tombstones.get(room) ?? null
    },
    async putRoom(record) {
      check()
      // A new object: a compaction of the old one in progress will not commit.
      rooms.set(record.name, { ...newRoom(record.createdAt, new Uint8Array(record.update)), updatedAt: record.updatedAt })
      versions.delete(record.name)
      for (const v of record.versions) storeVersion(record.name, v.update, v.label, v.createdAt, mergeAuthors(v.authors, []))
    },
    async ping() {
      check()
    },
    async close() {
      closed = true
      rooms.clear()
      versions.clear()
      tombstones.clear()
    },
  }
}
