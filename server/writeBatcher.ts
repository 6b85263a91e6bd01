// Groups appends, across rooms, into one storage call (one transaction) and keeps calls in
// order, so acknowledgements are monotonic. A batch is written `commitDelayMs` after its
// first append (at the end of the event-loop turn with 0); while a write is in flight
// (PostgreSQL, a slow disk) further appends gather into the next batch, which goes as soon as
// the store answers: one write in flight at a time, and never more writes than the store can
// take (group commit). The delay lets one commit (one fsync for SQLite) cover the updates of
// many turns: broadcasts never wait for it, only acknowledgements do.
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

/// Create a batcher over a store; a batch is written `commitDelayMs` after its first append.
export function writeBatcher(storage: Storage, commitDelayMs = 0): WriteBatcher {
  let batch: AppendEntry[] = []
  let waiters: Waiter[] = []
  let scheduled: NodeJS.Timeout | NodeJS.Immediate | null = null
  let inFlight: Promise<void> | null = null

  function unschedule(): void {
    if (scheduled === null) return
    if (commitDelayMs > 0) clearTimeout(scheduled as NodeJS.Timeout)
    else clearImmediate(scheduled as NodeJS.Immediate)
    scheduled = null
  }

  function write(): void {
    unschedule()
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
      if (scheduled === null && !inFlight) scheduled = commitDelayMs > 0 ? setTimeout(write, commitDelayMs) : setImmediate(write)
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
