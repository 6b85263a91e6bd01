// Compaction: folding a room's log into one snapshot update. Rooms ask for it when their log
// passes a count or byte threshold; one compaction runs at a time, so the synchronous part
// (merging with Yjs) blocks the event loop for one room's merge at most, never for a queue.
import { WORKER_MIN_BYTES, workerMerge } from './mergeWorker.js'
import type { CompactionResult, Storage } from './types.js'

/// Whether inputs are below the size whose merge goes to the worker: a snapshot offered by
/// `CompactorEvents.snapshot` is encoded on the main thread, so a large one is not asked for.
function small(inputs: readonly Uint8Array[]): boolean {
  let bytes = 0
  for (const u of inputs) bytes += u.length
  return bytes < WORKER_MIN_BYTES
}

/// Runs compactions one after another.
export interface Compactor {
  /// Queue a room (once, however often asked while it waits).
  request(room: string): void
  /// Resolves when the queue is empty and nothing runs.
  idle(): Promise<void>
  /// Stop taking work and abandon a compaction in progress; resolves when it is over.
  stop(): Promise<void>
}

/// What the compactor reports.
export interface CompactorEvents {
  /// A compaction ended; `inputs` is how many stored updates it read (snapshot included).
  compacted?(room: string, result: CompactionResult, ms: number, inputs: number): void
  failed?(room: string, error: unknown): void
  /// A snapshot covering every one of `inputs` (the stored snapshot and rows about to be
  /// folded), when the caller has one at hand, or null: the inputs are then merged.
  snapshot?(room: string, inputs: readonly Uint8Array[]): Uint8Array | null
}

/// A compactor over a store; a store without `compact` makes requests no-ops. Large merges
/// run on a worker thread (see mergeWorker.ts).
export function compactor(storage: Storage, events: CompactorEvents = {}): Compactor {
  const merger = workerMerge()
  const queue = new Set<string>()
  let running: Promise<void> | null = null
  let stopped = false

  async function run(): Promise<void> {
    for (;;) {
      const next = queue.values().next()
      if (next.done || stopped) return
      const name = next.value
      queue.delete(name)
      const started = performance.now()
      try {
        let read = 0
        const result = await storage.compact!(name, (inputs) => {
          read = inputs.length
          return (small(inputs) ? events.snapshot?.(name, inputs) : null) ?? merger.merge(inputs)
        })
        events.compacted?.(name, result, performance.now() - started, read)
      } catch (error) {
        if (!stopped) events.failed?.(name, error) // else: abandoned by stop()
      }
      // Let sockets and other rooms' writes through between two rooms.
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }

  function start(): void {
    if (running || stopped) return
    running = run().finally(() => {
      running = null
      if (queue.size && !stopped) start()
    })
  }

  return {
    request(room) {
      if (stopped || !storage.compact) return
      queue.add(room)
      start()
    },
    async idle() {
      while (running) await running
    },
    async stop() {
      stopped = true
      queue.clear()
      // Stopping the worker fails a merge in progress: that compaction then commits
      // nothing, which is safe (it is atomic), and shutdown does not wait for a big merge.
      await merger.close()
      while (running) await running
    },
  }
}
