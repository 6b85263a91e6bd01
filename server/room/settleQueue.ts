// Integrating full held batches (see `HeldBack`) a little at a time, between the event loop's
// reads. One batch takes a fraction of a millisecond, but rooms fill theirs together (typists
// who started together, clients who reconnected together): integrated where they filled,
// fifty rooms' batches made 14 ms busy runs in the typing bench, every keystroke behind them. Queued,
// they run after the turn's sends, at most `BUDGET_MS` of them per event-loop iteration.
import { performance } from 'node:perf_hooks'

/// What has a held batch to integrate (a room).
export interface Settling {
  /// Integrate the held batch if it is still due.
  settleDue(): void
}

/// Integration time per event-loop iteration, after which the rest waits for the next one.
const BUDGET_MS = 0.5

const queue = new Set<Settling>()
let scheduled = false

function drain(): void {
  scheduled = false
  const deadline = performance.now() + BUDGET_MS
  try {
    for (const item of queue) {
      queue.delete(item)
      item.settleDue()
      if (performance.now() >= deadline) break
    }
  } finally {
    if (queue.size > 0) schedule() // one failure must not strand the batches behind it
  }
}

function schedule(): void {
  scheduled = true
  setImmediate(drain)
}

/// Integrate `item`'s batch after this turn's sends, in its place in the queue.
export function settleSoon(item: Settling): void {
  queue.add(item)
  if (!scheduled) schedule()
}
