// A store whose appends and compactions are timed, for metrics.
import { performance } from 'node:perf_hooks'
import type { Storage } from './types.js'

/// Where the times go (seconds); the metrics provide it.
export interface StorageTimings {
  appended(seconds: number): void
  compacted(seconds: number): void
}

/// The store, with each append and compaction timed into the metrics. A plain object built
/// once (appends are on every keystroke's path: no proxy, no binding per call).
export function timedStorage(storage: Storage, metrics: StorageTimings): Storage {
  const timed = <A extends unknown[], R>(method: (...args: A) => Promise<R>, record: (seconds: number) => void) =>
    (...args: A): Promise<R> => {
      const start = performance.now()
      return method.apply(storage, args).finally(() => record((performance.now() - start) / 1000))
    }
  const { appendNow, compact } = storage
  return {
    load: storage.load.bind(storage),
    append: timed(storage.append, metrics.appended),
    appendNow: appendNow && ((entries) => {
      const start = performance.now()
      try {
        appendNow.call(storage, entries)
      } finally {
        metrics.appended((performance.now() - start) / 1000)
      }
    }),
    compact: compact && timed(compact, metrics.compacted),
    // Off the hot path: untimed.
    list: storage.list.bind(storage),
    addVersion: storage.addVersion.bind(storage),
    versions: storage.versions.bind(storage),
    version: storage.version.bind(storage),
    pruneVersions: storage.pruneVersions.bind(storage),
    deleteRoom: storage.deleteRoom.bind(storage),
    tombstone: storage.tombstone.bind(storage),
    putRoom: storage.putRoom.bind(storage),
    volatile: storage.volatile,
    replace: storage.replace?.bind(storage),
    noteChange: storage.noteChange?.bind(storage),
    ping: storage.ping.bind(storage),
    close: storage.close.bind(storage),
  }
}
