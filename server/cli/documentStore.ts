// Where the document commands (`concord rooms|export|import|delete`) act: a store opened
// directly (`--storage`), or a running server's HTTP API (`--url`, with `--token`). Both
// offer the same few operations, so each command is written once.
import * as Y from 'yjs'
import { tombstoneFor } from '../room/tombstone.js'
import type { RoomInfo, Storage } from '../storage/types.js'

/// What the document commands need of a place that holds documents.
export interface DocumentStore {
  /// Every room, by name, a page at a time.
  rooms(prefix?: string): AsyncGenerator<RoomInfo>
  /// The room's whole document as one update; null if nothing is stored.
  read(room: string): Promise<Uint8Array | null>
  /// Merge an update into the room, as an edit of `author`.
  write(room: string, update: Uint8Array, author: string | null): Promise<void>
  /// Delete the room; false if there was nothing.
  remove(room: string): Promise<boolean>
  close(): Promise<void>
}

/// A store opened directly. Writes go straight to its log: a server that has the room loaded
/// would not see them (hence `--url` while servers run; see the commands' help).
export function directStore(storage: Storage): DocumentStore {
  return {
    async *rooms(prefix) {
      let after: { name: string; updatedAt: number } | null = null
      for (;;) {
        const page = await storage.list({ prefix, order: 'name', limit: 500, after })
        yield* page.rooms
        const last = page.rooms[page.rooms.length - 1]
        if (!page.more || !last) return
        after = { name: last.name, updatedAt: last.updatedAt }
      }
    },
    async read(room) {
      const updates = await storage.load(room)
      return updates.length === 0 ? null : updates.length === 1 ? updates[0] : Y.mergeUpdates(updates)
    },
    async write(room, update, author) {
      await storage.append([{ room, update, author }])
    },
    async remove(room) {
      const [updates, old] = await Promise.all([storage.load(room), storage.tombstone(room)])
      return storage.deleteRoom(room, tombstoneFor(updates, null, old))
    },
    close: () => storage.close(),
  }
}

/// A running server's API at `base` (http://HOST:PORT), with a token if auth is on.
export function apiStore(base: string, token: string | null): DocumentStore {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
  const url = (path: string) => new URL(path, base).toString()
  const roomPath = (room: string) => `/api/rooms/${encodeURIComponent(room)}`
  async function fail(res: Response, what: string): Promise<never> {
    const body = (await res.json().catch(() => ({}))) as { error?: string }
    throw new Error(`${what}: ${res.status} ${body.error ?? res.statusText}`)
  }
  return {
    async *rooms(prefix) {
      let cursor: string | null = null
      do {
        const query = new URLSearchParams({ limit: '500' })
        if (prefix) query.set('prefix', prefix)
        if (cursor) query.set('cursor', cursor)
        const res = await fetch(url(`/api/rooms?${query}`), { headers })
        if (!res.ok) await fail(res, 'listing rooms')
        const page = (await res.json()) as { rooms: RoomInfo[]; next: string | null }
        yield* page.rooms
        cursor = page.next
      } while (cursor)
    },
    async read(room) {
      const res = await fetch(url(`${roomPath(room)}/update`), { headers })
      if (res.status === 404) return null
      if (!res.ok) await fail(res, `reading ${room}`)
      return new Uint8Array(await res.arrayBuffer())
    },
    async write(room, update) {
      const res = await fetch(url(`${roomPath(room)}/update`), {
        method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: new Uint8Array(update),
      })
      if (!res.ok) await fail(res, `writing ${room}`)
    },
    async remove(room) {
      const res = await fetch(url(roomPath(room)), { method: 'DELETE', headers })
      if (res.status === 404) return false
      if (!res.ok) await fail(res, `deleting ${room}`)
      return true
    },
    close: async () => undefined,
  }
}
