// Folding a room's updates into one snapshot update with Yjs, at once or a slice at a time.
import * as Y from 'yjs'

/// Fold updates into one: applied to a fresh garbage-collecting document, so deleted
/// content is dropped (unlike `Y.mergeUpdates`, which keeps it).
export function mergeToSnapshot(updates: Uint8Array[]): Uint8Array {
  const doc = new Y.Doc({ gc: true })
  try {
    doc.transact(() => {
      for (const u of updates) Y.applyUpdate(doc, u)
    })
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}

/// `mergeToSnapshot` spread over event-loop turns: updates are applied for at most
/// `sliceMs` at a time, so that a compaction delays no client's message by more than that.
/// (Rooms fill up together under even load: fifty 500-update merges in a row each held the
/// loop for 4 to 9 ms, seen with perf in the typing benchmark.)
export async function mergeInSlices(updates: Uint8Array[], sliceMs = 1): Promise<Uint8Array> {
  const doc = new Y.Doc({ gc: true })
  try {
    let next = 0
    while (next < updates.length) {
      if (next > 0) await new Promise<void>((resolve) => setImmediate(resolve))
      const start = performance.now()
      doc.transact(() => {
        do Y.applyUpdate(doc, updates[next++])
        while (next < updates.length && performance.now() - start < sliceMs)
      })
    }
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}
