// `concord rooms | export | import | delete | backup | restore`: documents in and out of a
// store, or of a running server (see DOCUMENTS_HELP for which is safe when).
import { readFileSync, writeFileSync } from 'node:fs'
import * as Y from 'yjs'
import { ConfigError, optionTable } from '../ops/config.js'
import { openStorage } from '../storage/open.js'
import type { Storage } from '../storage/types.js'
import { readBackup, writeBackup } from './backup.js'
import { apiStore, directStore, type DocumentStore } from './documentStore.js'

/// Usage of the document commands.
export const DOCUMENTS_HELP = `Usage:
  concord rooms [--prefix P] [--json]            list stored rooms
  concord export ROOM [--text] [--out FILE]      a room as one binary Yjs update (or its text)
  concord import ROOM FILE [--text]              merge a binary Yjs update (or a UTF-8 text) into a room
  concord import --from y-leveldb DIR            every document of a y-websocket server's LevelDB
  concord import --from hocuspocus-sqlite FILE   every document of Hocuspocus' SQLite extension
  concord delete ROOM                            delete a room, its log and its versions
  concord backup FILE                            every room, with its versions, to one file
  concord restore FILE                           put back every room of a backup

Where:
  --storage URL   act on the store directly (default: $CONCORD_STORAGE, else ${optionTable.storage.default})
  --url URL       act through a running server's HTTP API (http://HOST:PORT); with auth on,
                  --token JWT or $CONCORD_TOKEN (delete needs an admin token)
  --field NAME    the Y.Text of --text (default: ${optionTable.textName.default}, the editor's)
  --author NAME   who direct writes are recorded as (the API records the token's subject)

Which to use: reading (rooms, export, backup) is safe on the store while servers run; it sees
what they have stored (they store within milliseconds). Writing (import, delete) while a
server runs must go through --url: a server does not see what is written under it, and its
clients would not be told. restore replaces rooms whole and works on the store only: run it
with every server stopped. backup and restore move between SQLite and PostgreSQL: back up one,
restore into the other. Imports are checked: each room is read back and must hold what was
imported.
`

interface Args {
  command: string
  positional: string[]
  flags: Map<string, string | true>
}

const VALUED = new Set(['storage', 'url', 'token', 'out', 'prefix', 'from', 'field', 'author'])
const SWITCHES = new Set(['text', 'json'])

function parseArgs(argv: readonly string[]): Args {
  const [command, ...rest] = argv
  const args: Args = { command, positional: [], flags: new Map() }
  for (let i = 0; i < rest.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(rest[i])
    if (!m) {
      args.positional.push(rest[i])
      continue
    }
    if (SWITCHES.has(m[1])) args.flags.set(m[1], true)
    else if (VALUED.has(m[1])) {
      const value = m[2] ?? rest[++i]
      if (value === undefined) throw new ConfigError(`--${m[1]}: missing value`)
      args.flags.set(m[1], value)
    } else throw new ConfigError(`unknown option --${m[1]} (see concord ${command} --help)`)
  }
  return args
}

const text = (args: Args, name: string): string | null => {
  const v = args.flags.get(name)
  return typeof v === 'string' ? v : null
}

function positional(args: Args, count: number, usage: string): string[] {
  if (args.positional.length !== count) throw new ConfigError(`usage: concord ${args.command} ${usage}`)
  return args.positional
}

/// The store a command acts on.
async function openTarget(args: Args, env: NodeJS.ProcessEnv): Promise<{ store: DocumentStore; storage: Storage | null }> {
  const url = text(args, 'url')
  if (url) {
    if (!/^https?:\/\//.test(url)) throw new ConfigError('--url: expected http://HOST:PORT or https://…')
    return { store: apiStore(url, text(args, 'token') ?? env.CONCORD_TOKEN ?? null), storage: null }
  }
  const raw = text(args, 'storage') ?? env[optionTable.storage.env] ?? optionTable.storage.default
  const storage = await openStorage(optionTable.storage.parse(raw, '--storage'))
  return { store: directStore(storage), storage }
}

/// A text as an update to the named Y.Text of an empty document.
function textUpdate(content: string, field: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText(field).insert(0, content)
  return Y.encodeStateAsUpdate(doc)
}

/// Whether `doc` holds everything of `update` (applying it again changes nothing).
function holds(stored: Uint8Array, update: Uint8Array): boolean {
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, stored)
    const before = Y.encodeStateAsUpdate(doc)
    Y.applyUpdate(doc, update)
    return Buffer.compare(before, Y.encodeStateAsUpdate(doc)) === 0
  } finally {
    doc.destroy()
  }
}

/// Merge `update` into a room and check that the room then holds it.
async function importOne(store: DocumentStore, room: string, update: Uint8Array, author: string | null): Promise<void> {
  await store.write(room, update, author)
  const stored = await store.read(room)
  if (!stored || !holds(stored, update)) throw new Error(`room ${JSON.stringify(room)}: read back without all that was imported`)
}

/// The documents of another server's store.
async function* migrationSource(kind: string, path: string): AsyncGenerator<{ room: string; update: Uint8Array }> {
  if (kind === 'y-leveldb') yield* (await import('./migrate/yLeveldb.js')).readYLeveldb(path)
  else if (kind === 'hocuspocus-sqlite') yield* (await import('./migrate/hocuspocusSqlite.js')).readHocuspocusSqlite(path)
  else throw new ConfigError(`--from: expected y-leveldb or hocuspocus-sqlite, got ${JSON.stringify(kind)}`)
}

async function run(args: Args, env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<void> {
  const field = text(args, 'field') ?? optionTable.textName.default
  const author = text(args, 'author')
  if (args.command === 'restore' && text(args, 'url')) throw new ConfigError('restore works on the store only (--storage), with servers stopped')
  if (args.command === 'backup' && text(args, 'url')) throw new ConfigError('backup reads the store (--storage); it is safe while servers run')
  const { store, storage } = await openTarget(args, env)
  try {
    switch (args.command) {
      case 'rooms': {
        const json = args.flags.has('json')
        for await (const room of store.rooms(text(args, 'prefix') ?? undefined)) {
          out(json ? JSON.stringify(room) : `${room.name}\t${room.bytes}\t${new Date(room.updatedAt).toISOString()}`)
        }
        return
      }
      case 'export': {
        const [room] = positional(args, 1, 'ROOM [--text] [--out FILE]')
        const update = await store.read(room)
        if (!update) throw new Error(`no such room: ${room}`)
        let body: Uint8Array = update
        if (args.flags.has('text')) {
          const doc = new Y.Doc()
          Y.applyUpdate(doc, update)
          body = Buffer.from(doc.getText(field).toString(), 'utf8')
          doc.destroy()
        }
        const file = text(args, 'out')
        if (file) writeFileSync(file, body)
        else process.stdout.write(body)
        return
      }
      case 'import': {
        const from = text(args, 'from')
        if (from) {
          const [path] = positional(args, 1, `--from ${from} PATH`)
          let count = 0
          for await (const { room, update } of migrationSource(from, path)) {
            await importOne(store, room, update, author)
            out(`imported ${room}`)
            count++
          }
          out(`${count} rooms imported from ${from} and checked`)
          return
        }
        const [room, file] = positional(args, 2, 'ROOM FILE [--text]')
        const bytes = readFileSync(file)
        const update = args.flags.has('text') ? textUpdate(bytes.toString('utf8'), field) : new Uint8Array(bytes)
        if (!args.flags.has('text')) {
          try {
            Y.decodeUpdate(update)
          } catch {
            throw new Error(`${file} is not a binary Yjs update (use --text for a text file)`)
          }
        }
        await importOne(store, room, update, author)
        out(`imported ${room} (${update.length} bytes) and checked`)
        return
      }
      case 'delete': {
        const [room] = positional(args, 1, 'ROOM')
        if (!(await store.remove(room))) throw new Error(`no such room: ${room}`)
        out(`deleted ${room}`)
        return
      }
      case 'backup': {
        const [file] = positional(args, 1, 'FILE')
        out(`${await writeBackup(storage!, file)} rooms written to ${file}`)
        return
      }
      case 'restore': {
        const [file] = positional(args, 1, 'FILE')
        let count = 0
        for await (const record of readBackup(file)) {
          await storage!.putRoom(record)
          const loaded = await storage!.load(record.name)
          if (loaded.length !== 1 || Buffer.compare(loaded[0], record.update) !== 0) throw new Error(`room ${JSON.stringify(record.name)}: read back different`)
          count++
        }
        out(`${count} rooms restored from ${file}`)
        return
      }
    }
  } finally {
    await store.close()
  }
}

/// Run one document command; returns the exit code (2: bad arguments, 1: it failed).
export async function documentsCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(DOCUMENTS_HELP)
    return 0
  }
  try {
    await run(parseArgs(argv), env, (line) => process.stdout.write(line + '\n'))
    return 0
  } catch (error) {
    process.stderr.write(`concord ${argv[0]}: ${(error as Error).message}\n`)
    return error instanceof ConfigError ? 2 : 1
  }
}
