// Merging large logs off the main thread. Folding a big room (hundreds of KB of updates)
// into a snapshot takes Yjs tens to hundreds of milliseconds; on a worker thread every other
// room keeps being served meanwhile. Small merges stay on the main thread, where they cost
// less than the hand-over, in slices of a millisecond (see `mergeInSlices`).
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { mergeInSlices } from './merge.js'
import type { MergeUpdates } from './types.js'

// The worker's code, as a script so it runs the same from dist/ and under the test runner.
// Its merge is `mergeToSnapshot`'s (kept in step by the storage contract tests).
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Y = require(workerData.yjs)
parentPort.on('message', ({ id, packed, lengths }) => {
  try {
    const bytes = new Uint8Array(packed)
    const doc = new Y.Doc({ gc: true })
    doc.transact(() => {
      let pos = 0
      for (const n of lengths) { Y.applyUpdate(doc, bytes.subarray(pos, pos + n)); pos += n }
    })
    const out = Y.encodeStateAsUpdate(doc)
    doc.destroy()
    parentPort.postMessage({ id, out }, [out.buffer])
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) })
  }
})
`

/// Inputs of at least this many bytes are merged on a worker thread by default.
export const WORKER_MIN_BYTES = 64 * 1024

/// A merge function that uses a worker thread for inputs of at least `minBytes`.
export interface WorkerMerge {
  merge: MergeUpdates
  /// Stop the worker (it is started again if needed).
  close(): Promise<void>
}

/// Create the merger; the worker starts on first use and does not keep the process alive.
export function workerMerge(minBytes = WORKER_MIN_BYTES): WorkerMerge {
  let worker: Worker | null = null
  let nextId = 1
  const pending = new Map<number, { resolve: (u: Uint8Array) => void; reject: (e: Error) => void }>()

  function start(): Worker {
    const w = new Worker(SOURCE, { eval: true, workerData: { yjs: createRequire(import.meta.url).resolve('yjs') } })
    w.unref()
    w.on('message', (m: { id: number; out?: Uint8Array; error?: string }) => {
      const p = pending.get(m.id)
      if (!p) return
      pending.delete(m.id)
      if (pending.size === 0) w.unref()
      if (m.out) p.resolve(m.out)
      else p.reject(new Error(m.error ?? 'merge failed'))
    })
    const fail = (error: Error) => {
      if (worker === w) worker = null
      for (const p of pending.values()) p.reject(error)
      pending.clear()
    }
    w.on('error', fail)
    w.on('exit', (code) => fail(new Error(`merge worker exited with code ${code}`)))
    return w
  }

  return {
    async merge(updates) {
      let total = 0
      for (const u of updates) total += u.length
      if (total < minBytes) return mergeInSlices(updates)
      // One packed buffer, handed over without a copy (the store's buffers may be views
      // into larger ones that must not be cloned whole).
      const packed = new Uint8Array(total)
      let pos = 0
      for (const u of updates) {
        packed.set(u, pos)
        pos += u.length
      }
      worker ??= start()
      worker.ref() // a compaction in progress keeps the process alive until it is done
      const id = nextId++
      const w = worker
      return new Promise<Uint8Array>((resolve, reject) => {
        pending.set(id, { resolve, reject })
        w.postMessage({ id, packed: packed.buffer, lengths: updates.map((u) => u.length) }, [packed.buffer])
      })
    },
    async close() {
      const w = worker
      worker = null
      if (w) await w.terminate()
    },
  }
}
