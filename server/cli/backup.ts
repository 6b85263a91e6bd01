// The portable backup format: gzip-compressed JSON lines. The first line names the format;
// each further line is one room: its facts, its whole document as one Yjs update, and its
// versions (base64). Nothing in it depends on the store it came from, so a backup of SQLite
// restores into PostgreSQL and back.
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import { Readable } from 'node:stream'
import * as Y from 'yjs'
import type { RoomRecord, Storage } from '../storage/types.js'
import { directStore } from './documentStore.js'

/// The first line of every backup.
export const BACKUP_HEADER = { format: 'concord-backup', version: 1 } as const

interface RoomLine {
  room: string
  createdAt: number
  updatedAt: number
  update: string
  versions: Array<{ createdAt: number; label: string | null; authors: string[]; update: string }>
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
const unb64 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64'))

/// One room of a store as a backup line (null if it holds nothing).
async function roomLine(storage: Storage, room: { name: string; createdAt: number; updatedAt: number }): Promise<string | null> {
  const updates = await storage.load(room.name)
  if (updates.length === 0) return null
  const versions = []
  for (const info of (await storage.versions(room.name)).reverse()) {
    const found = await storage.version(room.name, info.id)
    if (found) versions.push({ createdAt: info.createdAt, label: info.label, authors: info.authors, update: b64(found.update) })
  }
  const line: RoomLine = {
    room: room.name, createdAt: room.createdAt, updatedAt: room.updatedAt,
    update: b64(updates.length === 1 ? updates[0] : Y.mergeUpdates(updates)), versions,
  }
  return JSON.stringify(line)
}

/// Write every room of the store to `file`; resolves to the number of rooms.
export async function writeBackup(storage: Storage, file: string): Promise<number> {
  let rooms = 0
  async function* lines(): AsyncGenerator<string> {
    yield JSON.stringify({ ...BACKUP_HEADER, createdAt: Date.now() }) + '\n'
    for await (const room of directStore(storage).rooms()) {
      const line = await roomLine(storage, room)
      if (line === null) continue
      rooms++
      yield line + '\n'
    }
  }
  await pipeline(Readable.from(lines()), createGzip(), createWriteStream(file))
  return rooms
}

/// The rooms of a backup file, one at a time.
export async function* readBackup(file: string): AsyncGenerator<RoomRecord & { name: string }> {
  const input = createReadStream(file)
  await once(input, 'open') // a missing file fails here, with its own message
  const lines = createInterface({ input: input.pipe(createGunzip()), crlfDelay: Infinity })
  let first = true
  for await (const text of lines) {
    if (text === '') continue
    const value = JSON.parse(text) as Record<string, unknown>
    if (first) {
      if (value.format !== BACKUP_HEADER.format || value.version !== BACKUP_HEADER.version) {
        throw new Error(`${file} is not a Concord backup (version ${BACKUP_HEADER.version})`)
      }
      first = false
      continue
    }
    const line = value as unknown as RoomLine
    yield {
      name: line.room, createdAt: line.createdAt, updatedAt: line.updatedAt, update: unb64(line.update),
      versions: line.versions.map((v) => ({ createdAt: v.createdAt, label: v.label, authors: v.authors, update: unb64(v.update) })),
    }
  }
  if (first) throw new Error(`${file} is empty: not a Concord backup`)
}
