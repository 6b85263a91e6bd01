// Opens the store named by the `--storage` option. Drivers are imported on demand, so a
// memory-only deployment never loads a native module.
import { memoryStorage } from './memory.js'
import type { Storage } from './types.js'

/// Open `memory`, `sqlite:PATH` (folders created as needed) or `postgres://…`.
export async function openStorage(url: string): Promise<Storage> {
  if (url === 'memory') return memoryStorage({ volatile: true })
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length)
    if (!path) throw new Error('storage sqlite: needs a file path, e.g. sqlite:./data/concord.db')
    const { sqliteStorage } = await import('./sqlite.js')
    return sqliteStorage(path)
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { postgresStorage } = await import('./postgres.js')
    return postgresStorage(url)
  }
  throw new Error(`storage ${JSON.stringify(url)} is not supported (memory, sqlite:PATH or postgres://…)`)
}
