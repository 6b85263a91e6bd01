// What every HTTP API handler shares: the server's parts, and the steps each request takes
// (authorize, load a room or read it from storage).
import type { IncomingMessage } from 'node:http'
import * as Y from 'yjs'
import { allows, type Access, type ApiAuthorizer } from '../auth/auth.js'
import type { ShareSigner } from '../auth/token.js'
import type { IncompleteBudget, RateLimiter } from '../net/limits.js'
import type { Logger } from '../ops/log.js'
import type { Room } from '../room/room.js'
import type { Rooms } from '../room/rooms.js'
import type { Storage } from '../storage/types.js'
import { HttpError } from './httpIo.js'

/// What the API needs from the server.
export interface ApiOptions {
  rooms: Rooms
  /// Where rooms, versions and documents not loaded are read from.
  storage: Storage
  authorize: ApiAuthorizer
  /// Origins browsers may send state-changing requests from; null: every origin.
  allowedOrigins: readonly string[] | null
  /// Requests per client address.
  rate: RateLimiter
  /// Name of the shared Y.Text served by `/text` (the editor uses `codemirror`).
  textName: string
  /// Largest accepted POST body.
  maxBodyBytes: number
  /// Bytes held in messages and request bodies still arriving, server-wide (see `net/connection.ts`).
  incomplete: IncompleteBudget
  /// Rooms loaded at once (0: no limit); loading another for a POST gets 503.
  maxRooms: number
  /// Whether the server is shutting down (new work is refused with 503).
  closing(): boolean
  /// Why a connection to the room would be refused now for lack of room (429 or 503, as the
  /// upgrade answers), or null.
  capacity(room: string): { status: number; reason: string } | null
  /// Signs share links (see `accessApi.ts`).
  share: ShareSigner
  /// Told about every 401/403, for metrics.
  refused?(status: number): void
  log: Logger
}

/// The shared steps of API requests.
export interface ApiContext extends ApiOptions {
  /// Refuse (throw) unless the request may do `needs` in the room; resolves to its user.
  allow(req: IncomingMessage, room: string, needs: Access): Promise<string | null>
  /// Run `use` on the room, loading it if needed (a room loaded only for this request
  /// unloads after the usual grace period).
  withRoom<T>(name: string, use: (room: Room) => T | Promise<T>): Promise<T>
  /// Read the room's document: the loaded room's, else one built from storage for this
  /// request alone (404 when nothing is stored; takes no room slot).
  readDoc<T>(name: string, read: (doc: Y.Doc) => T): Promise<T>
}

/// A document holding a stored state (updates, snapshot first), as a loaded room would hold
/// it (in a local transaction, as `RoomDocument.restore` does: reading makes no formatting cleanup).
export function docOf(updates: readonly Uint8Array[]): Y.Doc {
  const doc = new Y.Doc({ gc: true })
  try {
    Y.transact(doc, () => Y.applyUpdate(doc, updates.length === 1 ? updates[0] : Y.mergeUpdates(updates as Uint8Array[])))
  } catch (error) {
    doc.destroy()
    throw error
  }
  return doc
}

/// The named Y.Text of a document as a string; 409 if that shared type is not a text.
export function textOf(doc: Y.Doc, name: string): string {
  try {
    return doc.getText(name).toString()
  } catch {
    throw new HttpError(409, `shared type ${JSON.stringify(name)} of this room is not a text`)
  }
}

/// 503 for a store that failed, logged.
export function storeFailed(options: ApiOptions, room: string, error: unknown): HttpError {
  options.log.error({ err: error, room }, 'storage failed for the HTTP API')
  return new HttpError(503, 'storage failed; try again later', { 'retry-after': '1' })
}

/// The context over the server's parts.
export function apiContext(options: ApiOptions): ApiContext {
  const { rooms } = options

  async function allow(req: IncomingMessage, room: string, needs: Access): Promise<string | null> {
    const result = await options.authorize.room(req, room)
    if (!result.ok) {
      options.refused?.(result.status)
      throw new HttpError(result.status, result.reason)
    }
    if (!allows(result.access, needs)) {
      options.refused?.(403)
      throw new HttpError(403, needs === 'admin'
        ? 'admin access needed: this token cannot delete documents'
        : 'read-only access: this token cannot change documents')
    }
    return result.user
  }

  async function withRoom<T>(name: string, use: (room: Room) => T | Promise<T>): Promise<T> {
    if (options.maxRooms > 0 && !rooms.get(name) && rooms.size >= options.maxRooms) {
      throw new HttpError(503, 'too many rooms loaded', { 'retry-after': '1' })
    }
    let room: Room
    try {
      room = await rooms.acquire(name)
    } catch (error) {
      options.log.error({ err: error, room: name }, 'room failed to load for the HTTP API')
      throw new HttpError(503, 'room failed to load; try again later', { 'retry-after': '1' })
    }
    try {
      return await use(room)
    } finally {
      rooms.release(room)
    }
  }

  async function loadStored(name: string): Promise<Y.Doc | null> {
    let updates: Uint8Array[]
    try {
      updates = await options.storage.load(name)
    } catch (error) {
      throw storeFailed(options, name, error)
    }
    return updates.length === 0 ? null : docOf(updates)
  }

  async function readDoc<T>(name: string, read: (doc: Y.Doc) => T): Promise<T> {
    const stored = rooms.get(name) ? null : await loadStored(name)
    const loaded = rooms.get(name) // maybe loaded while storage answered: it may hold more
    if (loaded) {
      stored?.destroy()
      return read(loaded.document.doc)
    }
    if (!stored) throw new HttpError(404, 'no such room')
    try {
      return read(stored)
    } finally {
      stored.destroy()
    }
  }

  return { ...options, allow, withRoom, readDoc }
}
