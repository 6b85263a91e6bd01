// Storage in process memory: for tests and for deployments that accept losing documents on
// restart. Rooms still survive being unloaded while the process lives.
import { NOT_COMPACTED, type AppendEntry, type Storage } from './types.js'

interface MemoryRoom {
  snapshot: Uint8Array | null
  /// Bumped by every committed compaction; a compaction commits only over the version it read.
  version: number
  log: Array<{ seq: number; update: Uint8Array }>
}

/// The bytes of `update` in a buffer of their own. An update is often a view into a larger
/// socket buffer, which a kept view would pin in memory; one that spans its whole buffer
/// (merged, or already copied by the room) is kept as it is.
function owned(update: Uint8Array): Uint8Array {
  if (update.byteOffset === 0 && update.byteLength === update.buffer.byteLength) return update
  return new Uint8Array(update) // `new Uint8Array`, not `slice`: a Buffer's `slice` is a view
}

/// Create an in-memory store.
export function memoryStorage(): Storage {
  const rooms = new Map<string, MemoryRoom>()
  let seq = 0
  let closed = false
  const check = () => {
    if (closed) throw new Error('memory storage is closed')
  }
  const appendNow = (entries: readonly AppendEntry[]): void => {
    check()
    for (const { room, update } of entries) {
      let r = rooms.get(room)
      if (!r) rooms.set(room, (r = { snapshot: null, version: 0, log: [] }))
      r.log.push({ seq: ++seq, update: owned(update) })
    }
  }
  return {
    appendNow,
    async load(room) {
      check()
      const r = rooms.get(room)
      if (!r) return []
      const out = r.log.map((e) => e.update)
      if (r.snapshot) out.unshift(r.snapshot)
      return out
    },
    async append(entries: readonly AppendEntry[]) {
      appendNow(entries)
    },
    async compact(room, merge) {
      check()
      const r = rooms.get(room)
      if (!r || r.log.length === 0) return NOT_COMPACTED
      const version = r.version
      const rows = [...r.log]
      const inputs = rows.map((e) => e.update)
      if (r.snapshot) inputs.unshift(r.snapshot)
      const bytesBefore = inputs.reduce((n, u) => n + u.length, 0)
      const snapshot = await merge(inputs)
      if (r.version !== version || rooms.get(room) !== r) return NOT_COMPACTED
      const last = rows[rows.length - 1].seq
      r.snapshot = snapshot
      r.version++
      r.log = r.log.filter((e) => e.seq > last)
      return { compacted: true, rows: rows.length, bytesBefore, bytesAfter: snapshot.length }
    },
    async ping() {
      check()
    },
    async close() {
      closed = true
      rooms.clear()
    },
  }
}
