// Groups appends, across rooms, into one storage call (one transaction) and keeps calls in
// order, so acknowledgements are monotonic. A batch is written `commitDelayMs` after its
// first append (at the end of the event-loop turn with 0); while a write is in flight
// (PostgreSQL, a slow disk) further appends gather into the next batch, which goes as soon as
// the store answers: one write in flight at a time, and never more writes than the store can
// take (group commit). The delay lets one commit (one fsync for SQLite) cover the updates of
// many turns: broadcasts never wait for it, only acknowledgements do.
//
// Appends take a callback rather than returning a promise: a live edit costs one array slot
// here, not a promise and its reactions (measured with bench/: they were a tenth of the
// server's own work per keystroke). A store without I/O (`appendNow`: memory) is written at
// once, its callback called before `append` returns.
import type { AppendEntry, Storage } from './types.js'

/// Called once an append is stored (no argument), or with the store's error.
export type Stored = (error?: unknown) => void

/// Append through a batch; each append's callback runs when its entry is stored.
export interface WriteBatcher {
  /// Queue `update` for `room` (null: nothing, only wait for what is queued before), made by
  /// `author` (see `AppendEntry`). `done` must not throw.
  append(room: string, update: Uint8Array | null, done: Stored, author?: string | null): void
  /// Resolves when everything appended so far is stored (or failed).
  drain(): Promise<void>
}

/// Create a batcher over a store; a batch is written `commitDelayMs` after its first append.
/// `stored` hears of every entry of each batch the store accepted.
export function writeBatcher(
  storage: Storage,
  commitDelayMs = 0,
  stored?: (entries: readonly AppendEntry[]) => void,
): WriteBatcher {
  let batch: AppendEntry[] = []
  let waiters: Stored[] = []
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
    const finish = (error?: unknown): void => {
      inFlight = null
      if (error === undefined && entries.length > 0) stored?.(entries)
      for (const callback of done) callback(error)
      if (waiters.length) write()
    }
    let written: Promise<void>
    try {
      written = entries.length ? storage.append(entries) : Promise.resolve()
    } catch (error) {
      written = Promise.reject(error)
    }
    inFlight = written.then(() => finish(), (error: unknown) => finish(error ?? new Error('storage append failed')))
  }

  const appendNow = storage.appendNow?.bind(storage)

  return {
    append(room, update, done, author = null) {
      // A store that needs no I/O takes the update at once, unless older ones still wait.
      if (appendNow && !inFlight && waiters.length === 0) {
        try {
          if (update) {
            const entries = [{ room, update, author }]
            appendNow(entries)
            stored?.(entries)
          }
        } catch (error) {
          queueMicrotask(() => done(error ?? new Error('storage append failed'))) // as a write would fail: later
          return
        }
        done()
        return
      }
      if (update) batch.push({ room, update, author })
      waiters.push(done)
      if (scheduled === null && !inFlight) scheduled = commitDelayMs > 0 ? setTimeout(write, commitDelayMs) : setImmediate(write)
    },
    async drain() {
      while (inFlight || waiters.length) {
        if (!inFlight) write()
        await inFlight
      }
    },
  }
}

/// `append` as a promise, for callers off the hot path (the HTTP API, seeding a room).
export function appendStored(writes: WriteBatcher, room: string, update: Uint8Array | null): Promise<void> {
  return new Promise((resolve, reject) => writes.append(room, update, (error) => (error === undefined ? resolve() : reject(error))))
}
