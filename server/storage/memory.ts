// Storage in process memory: for tests and for deployments that accept losing documents on
// restart. Rooms still survive being unloaded while the process lives.
import type { AppendEntry, Storage } from './types.js'

/// Create an in-memory store.
export function memoryStorage(): Storage {
  const logs = new Map<string, Uint8Array[]>()
  return {
    async load(room) {
      return [...(logs.get(room) ?? [])]
    },
    async append(entries: readonly AppendEntry[]) {
      for (const { room, update } of entries) {
        let log = logs.get(room)
        if (!log) logs.set(room, (log = []))
        log.push(update)
      }
    },
    async close() {
      logs.clear()
    },
  }
}
