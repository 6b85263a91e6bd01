// Groups appends, across rooms, into one storage call (one transaction) and keeps calls in
// order, so acknowledgements are monotonic. A batch is written at the end of the event-loop
// turn; while a write is in flight (PostgreSQL, a slow disk) further appends gather into the
// next batch, which goes as soon as the store answers: one write in flight at a time, and
// never more writes than the store can take (group commit).
import type { AppendEntry, Storage } from './storage/types.js'

/// Append through a per-turn batch; each promise resolves when its entry is stored.
export interface WriteBatcher {
  /// With `update` null, resolves once everything queued before it is stored.
  append(room: string, update: Uint8Array | null): Promise<void>
  /// Resolves when everything appended so far is stored (or failed).
  drain(): Promise<void>
}

/// One batch: its entries and the one promise every append in it shares (a batch is stored,
/// or fails, as a whole).
interface Batch {
  entries: AppendEntry[]
  stored: Promise<void>
  resolve: () => void
  reject: (error: unknown) => void
}

function newBatch(): Batch {
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const stored = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  return { entries: [], stored, resolve, reject }
}

/// Create a batcher over a store.
export function writeBatcher(storage: Storage): WriteBatcher {
  let batch: Batch | null = null
  let scheduled = false
  let inFlight: Promise<void> | null = null

  function write(): void {
    scheduled = false
    if (inFlight || batch === null) return // the running write picks this batch up
    const current = batch
    batch = null
    let appended: Promise<void>
    try {
      appended = current.entries.length ? storage.append(current.entries) : Promise.resolve()
    } catch (error) {
      appended = Promise.reject(error)
    }
    inFlight = appended.then(
      () => current.resolve(),
      (error: unknown) => current.reject(error),
    ).then(() => {
      inFlight = null
      if (batch !== null) write()
    })
  }

  return {
    append(room, update) {
      batch ??= newBatch()
      if (update) batch.entries.push({ room, update })
      if (!scheduled && !inFlight) {
        scheduled = true
        setImmediate(write)
      }
      return batch.stored
    },
    async drain() {
      while (inFlight || batch !== null) {
        if (!inFlight) write()
        await inFlight
      }
    },
  }
}
