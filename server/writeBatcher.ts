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

interface Waiter {
  resolve: () => void
  reject: (error: unknown) => void
}

/// Create a batcher over a store.
export function writeBatcher(storage: Storage): WriteBatcher {
  let batch: AppendEntry[] = []
  let waiters: Waiter[] = []
  let scheduled = false
  let inFlight: Promise<void> | null = null

  function write(): void {
    scheduled = false
    if (inFlight || waiters.length === 0) return // the running write picks this batch up
    const entries = batch
    const done = waiters
    batch = []
    waiters = []
    inFlight = Promise.resolve()
      .then(() => (entries.length ? storage.append(entries) : undefined))
      .then(
        () => { for (const w of done) w.resolve() },
        (error: unknown) => { for (const w of done) w.reject(error) },
      )
      .finally(() => {
        inFlight = null
        if (waiters.length) write()
      })
  }

  return {
    append(room, update) {
      if (update) batch.push({ room, update })
      const stored = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }))
      if (!scheduled && !inFlight) {
        scheduled = true
        setImmediate(write)
      }
      return stored
    },
    async drain() {
      while (inFlight || waiters.length) {
        if (!inFlight) write()
        await inFlight
      }
    },
  }
}
