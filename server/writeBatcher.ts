// Groups the appends of one event-loop turn, across rooms, into one storage call (one
// transaction), and keeps calls in order so acknowledgements are monotonic.
import type { AppendEntry, Storage } from './storage/types.js'

/// Append through a per-turn batch; each promise resolves when its entry is stored.
export interface WriteBatcher {
  /// With `update` null, resolves once everything queued before it is stored.
  append(room: string, update: Uint8Array | null): Promise<void>
  /// Resolves when everything appended so far is stored (or failed).
  drain(): Promise<void>
}

/// Create a batcher over a store.
export function writeBatcher(storage: Storage): WriteBatcher {
  let batch: AppendEntry[] = []
  let waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  let scheduled = false
  let chain: Promise<void> = Promise.resolve()

  function write(): void {
    scheduled = false
    const entries = batch
    const done = waiters
    batch = []
    waiters = []
    chain = chain.then(() => (entries.length ? storage.append(entries) : undefined)).then(
      () => { for (const w of done) w.resolve() },
      (error: unknown) => { for (const w of done) w.reject(error) },
    )
  }

  return {
    append(room, update) {
      if (update) batch.push({ room, update })
      if (!scheduled) {
        scheduled = true
        setImmediate(write)
      }
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }))
    },
    async drain() {
      if (scheduled) write()
      await chain
    },
  }
}
