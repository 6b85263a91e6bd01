// Reads the documents of a y-websocket server's persistence: y-leveldb, a LevelDB folder.
// y-leveldb keeps per document a log of updates (['v1', name, 'update', clock] → update) and
// one state-vector record (['v1_sv', name]) that lists the document. We open the folder with
// `level` and y-leveldb's own key encoding and read it with y-leveldb's own read helpers, but
// not through its `LeveldbPersistence`: that class swallows errors (a failed open would read
// as "no documents") and rewrites a document's log when it reads a long one, while a
// migration must fail loudly and leave its source as it was. Both packages are imported only
// when a migration runs, so a server that never migrates never loads LevelDB's native binding.
import { stat } from 'node:fs/promises'
import * as Y from 'yjs'
import type { MigratedDoc } from './types.js'

type YLeveldbKey = Array<string | number>

/// Every document of a y-websocket server's LevelDB persistence (y-leveldb) in `dir`: its name and its whole state as one Yjs update.
export async function* readYLeveldb(dir: string): AsyncGenerator<MigratedDoc> {
  await expectFolder(dir)
  const { Level } = await import('level')
  const yleveldb = await import('y-leveldb')
  // createIfMissing: false, so a wrong path fails here instead of becoming a new, empty store.
  const db = new Level<YLeveldbKey, Uint8Array>(dir, {
    keyEncoding: yleveldb.keyEncoding,
    valueEncoding: 'view',
    createIfMissing: false,
  })
  try {
    await db.open()
  } catch (err) {
    throw new Error(`${dir}: cannot open as a LevelDB store (${openProblem(err)})`, { cause: err })
  }
  try {
    const names: string[] = []
    for (const key of await yleveldb.getAllDocsKeys(db)) {
      const name: unknown = key[1]
      if (typeof name === 'string') names.push(name)
    }
    if (names.length === 0 && (await hasAnyKey(db))) {
      throw new Error(`${dir}: a LevelDB store, but not y-leveldb's (it lists no documents, yet holds other keys)`)
    }
    for (const room of names) {
      // Read one document at a time, so memory holds one document's log, not the store's.
      const updates = await yleveldb.getLevelUpdates(db, room)
      yield { room, update: mergeLog(dir, room, updates) }
    }
  } finally {
    await db.close()
  }
}

/// One update holding everything `updates` hold, in the order y-leveldb stored them.
function mergeLog(dir: string, room: string, updates: Uint8Array[]): Uint8Array {
  // gc: false keeps deleted content as the store had it; a migration should not drop history
  // that the source server kept (y-websocket can run with GC off).
  const doc = new Y.Doc({ gc: false })
  try {
    doc.transact(() => {
      for (const update of updates) Y.applyUpdate(doc, update)
    })
    return Y.encodeStateAsUpdate(doc)
  } catch (err) {
    throw new Error(`${dir}: document ${JSON.stringify(room)} holds an update Yjs cannot read (${String(err)})`, { cause: err })
  } finally {
    doc.destroy()
  }
}

async function expectFolder(dir: string): Promise<void> {
  let isDir: boolean
  try {
    isDir = (await stat(dir)).isDirectory()
  } catch (err) {
    throw new Error(`${dir}: no such y-leveldb folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err })
  }
  if (!isDir) throw new Error(`${dir}: not a folder; y-leveldb keeps its documents in a LevelDB folder`)
}

/// Whether the store holds any key at all (read raw, since a foreign key may not decode as y-leveldb's).
async function hasAnyKey(db: import('level').Level<YLeveldbKey, Uint8Array>): Promise<boolean> {
  const first = await db.keys({ limit: 1, keyEncoding: 'buffer' }).all()
  return first.length > 0
}

/// The reason LevelDB gave for refusing to open, in words a user can act on.
function openProblem(err: unknown): string {
  // abstract-level wraps LevelDB's own error as `cause` of LEVEL_DATABASE_NOT_OPEN.
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err
  const code = (cause as { code?: unknown } | null)?.code
  const message = cause instanceof Error ? cause.message : String(cause)
  if (code === 'LEVEL_LOCKED') return `${message}; is the y-websocket server still running on it?`
  if (/does not exist/.test(message)) return `not a LevelDB store: ${message}`
  return message
}
