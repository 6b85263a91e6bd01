// Reads the documents of Hocuspocus' SQLite extension (@hocuspocus/extension-sqlite, the same
// schema in its 2.x, 3.x and 4.x releases): one row per document in table "documents", with
// "name" (the documentName) and "data" (a blob: Y.encodeStateAsUpdate of the whole document,
// rewritten on every store). So each row already is the document's full state.
import Database from 'better-sqlite3'
import { existsSync } from 'node:fs'
import type { MigratedDoc } from './types.js'

/// Options of the Hocuspocus SQLite reader.
export interface HocuspocusSqliteOptions {
  /// The table holding the documents (default `documents`, the extension's); for a
  /// deployment that gave the extension its own `schema` and queries.
  table?: string
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/// Every document of Hocuspocus' SQLite extension database `file`.
export async function* readHocuspocusSqlite(file: string, options: HocuspocusSqliteOptions = {}): AsyncGenerator<MigratedDoc> {
  const table = options.table ?? 'documents'
  // The name goes into SQL text (identifiers cannot be bound), so only plain names pass.
  if (!IDENTIFIER.test(table)) throw new Error(`${JSON.stringify(table)}: not a valid table name (letters, digits and _ only)`)
  if (!existsSync(file)) throw new Error(`${file}: no such Hocuspocus SQLite database file`)
  let db: Database.Database
  try {
    // Read-only: a migration leaves its source as it was.
    db = new Database(file, { readonly: true, fileMustExist: true })
  } catch (err) {
    throw new Error(`${file}: cannot open as a SQLite database (${String(err)})`, { cause: err })
  }
  try {
    const columns = tableColumns(db, file, table)
    for (const needed of ['name', 'data']) {
      if (!columns.includes(needed)) {
        throw new Error(`${file}: table "${table}" has no "${needed}" column (it has ${columns.join(', ')}); not a Hocuspocus SQLite store`)
      }
    }
    // The extension's upsert keeps one row per name; should a custom schema have let several
    // in, the newest (highest rowid) wins, which is the row the extension itself would load.
    const rows = db
      .prepare<[], { name: unknown; data: unknown }>(`SELECT "name", "data" FROM "${table}" ORDER BY "name", rowid DESC`)
      .iterate()
    let previous: string | undefined
    for (const row of rows) {
      const room = row.name
      if (typeof room !== 'string') throw new Error(`${file}: a row of "${table}" has a name that is not text`)
      if (room === previous) continue
      previous = room
      // sqlite3 (Hocuspocus ≤ 3) and better-sqlite3 store the Buffer as a BLOB; read back as a Buffer.
      if (!(row.data instanceof Uint8Array)) throw new Error(`${file}: document ${JSON.stringify(room)} has no binary data`)
      // A copy, so the update owns its bytes rather than a view into a pooled Buffer.
      yield { room, update: new Uint8Array(row.data) }
    }
  } finally {
    db.close()
  }
}

/// The columns of `table`, or a clear error if the database is not SQLite or lacks the table.
function tableColumns(db: Database.Database, file: string, table: string): string[] {
  let columns: string[]
  try {
    columns = db.prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)').all(table).map((c) => c.name)
  } catch (err) {
    // SQLITE_NOTADB surfaces at the first read, not at open.
    throw new Error(`${file}: cannot read as a SQLite database (${String(err)})`, { cause: err })
  }
  if (columns.length === 0) throw new Error(`${file}: no table "${table}"; not a Hocuspocus SQLite store (or give its table name)`)
  return columns
}
