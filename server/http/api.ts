// The HTTP API for documents, for backends that do not speak WebSocket:
//   GET  /api/rooms                  loaded rooms the caller may see, with connection counts
//   GET  /api/rooms/<room>/text      plain text of the editor's shared text
//   GET  /api/rooms/<room>/update    the whole document as one binary Yjs update
//   POST /api/rooms/<room>/update    apply a binary Yjs update (relayed and stored)
// A read of a room that is not loaded is answered from storage without loading it (404 when
// nothing is stored), so reads cannot fill --max-rooms; a POST loads the room as a join does.
// Every request passes, in order: the origin check (state-changing requests), the per-IP
// rate, `authorize` (the same decision the WebSocket upgrade makes).
import type { IncomingMessage, ServerResponse } from 'node:http'
import * as Y from 'yjs'
import type { Access, ApiAuthorizer, AuthDecision } from '../auth/auth.js'
import { crossSiteRefusal, type IncompleteBudget, type RateLimiter } from '../net/limits.js'
import type { Logger } from '../ops/log.js'
import { parseRoomName } from '../protocol/roomName.js'
import type { Room } from '../room/room.js'
import type { Rooms } from '../room/rooms.js'
import type { Storage } from '../storage/types.js'
import { appendStored } from '../storage/writeBatcher.js'

/// Decide a request for one room, as the WebSocket upgrade does.
export type Authorize = (req: IncomingMessage, room: string) => AuthDecision | Promise<AuthDecision>

/// The API's request handler; `ip` is the client's address (see `clientIp`).
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, path: string, ip: string) => Promise<void>

/// What the API needs from the server.
export interface ApiOptions {
  rooms: Rooms
  /// Where a read of a room that is not loaded finds it.
  storage: Pick<Storage, 'load'>
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
  /// Told about every 401/403, for metrics.
  refused?(status: number): void
  log: Logger
}

/// An HTTP error with a status; answered as `{"error": message}`.
class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
  }
}

/// The client went away mid-request: it closed its socket, or the server cut it for
/// --request-timeout-ms (Node answered 408). Nothing to answer, nothing to report as an error.
class ClientGone extends Error {}

type Action = 'text' | 'update'

/// A parsed API path: the room list, or an action on one room.
type Route = { kind: 'list' } | { kind: 'room'; room: string; action: Action }

/// Parse a path under /api/. Room names may contain `/` (`/api/rooms/notes/today/text`)
/// or encode it (`notes%2Ftoday`); the last segment is the action.
export function parseApiPath(path: string): Route {
  if (path === '/api/rooms' || path === '/api/rooms/') return { kind: 'list' }
  const prefix = '/api/rooms/'
  if (!path.startsWith(prefix)) throw new HttpError(404, 'not found')
  const rest = path.slice(prefix.length)
  const slash = rest.lastIndexOf('/')
  const action = rest.slice(slash + 1)
  if (slash <= 0 || (action !== 'text' && action !== 'update')) {
    throw new HttpError(404, 'not found: expected /api/rooms/<room>/text or /api/rooms/<room>/update')
  }
  const name = parseRoomName('/' + rest.slice(0, slash))
  if (!name.ok) throw new HttpError(400, `bad room name: ${name.reason}`)
  return { kind: 'room', room: name.room, action }
}

const allowed: Record<Action, string[]> = { text: ['GET', 'HEAD'], update: ['GET', 'HEAD', 'POST'] }

/// Read a request body up to `limit` bytes. Listeners, not `for await`: leaving that loop
/// early destroys the socket, and the 413 would never reach the client.
function readBody(req: IncomingMessage, limit: number, budget: IncompleteBudget): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'])
  if (declared > limit) return Promise.reject(new HttpError(413, `body larger than ${limit} bytes`))
  // Gone while it was authorized: its 'close' has passed and would never settle the read.
  if (req.destroyed) return Promise.reject(new ClientGone('client closed the connection'))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (error: Error | null): void => {
      budget.held -= size
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone)
      if (error) reject(error)
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      budget.held += chunk.length
      if (size <= limit && budget.held <= budget.limit) return void chunks.push(chunk)
      req.pause() // the answer closes the connection; read no more of it
      if (size > limit) settle(new HttpError(413, `body larger than ${limit} bytes`))
      else settle(new HttpError(503, 'server busy: too many bytes held in unfinished requests', { 'retry-after': '1' }))
    }
    const onEnd = (): void => settle(null)
    const onGone = (): void => settle(new ClientGone('client closed the connection mid-body'))
    req.on('data', onData).once('end', onEnd).once('error', onGone).once('close', onGone)
  })
}

/// A document holding stored updates (snapshot first), as a loaded room would (in a local
/// transaction, as `Room.restore` does: reading makes no formatting cleanup).
function docOf(updates: Uint8Array[]): Y.Doc {
  const doc = new Y.Doc({ gc: true })
  try {
    Y.transact(doc, () => Y.applyUpdate(doc, updates.length === 1 ? updates[0] : Y.mergeUpdates(updates)))
  } catch (error) {
    doc.destroy()
    throw error
  }
  return doc
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
}

/// Refuse a state-changing request from a browser page of a foreign origin, and a client
/// over its request rate.
function admit(req: IncomingMessage, ip: string, options: ApiOptions): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const refusal = crossSiteRefusal(req.headers, options.allowedOrigins)
    if (refusal) throw new HttpError(403, refusal)
  }
  const waitMs = options.rate.take(ip)
  if (waitMs > 0) {
    throw new HttpError(429, 'too many requests from this address', { 'retry-after': String(Math.ceil(waitMs / 1000)) })
  }
}

/// Create the handler of every request whose path starts with `/api/`.
export function createApi(options: ApiOptions): ApiHandler {
  const { rooms } = options

  async function authorize(req: IncomingMessage, room: string, needs: Access): Promise<string | null> {
    const result = await options.authorize.room(req, room)
    if (!result.ok) {
      options.refused?.(result.status)
      throw new HttpError(result.status, result.reason)
    }
    if (needs === 'write' && result.access !== 'write') {
      options.refused?.(403)
      throw new HttpError(403, 'read-only access: this token cannot change documents')
    }
    return result.user
  }

  /// Run `use` on the room, loading it if needed; a room loaded only for this request
  /// unloads after the usual grace period.
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

  /// Read a room's document: the loaded room's, else one built from storage for this request
  /// alone. A room never stored answers 404 and takes no room slot (--max-rooms).
  async function readDoc<T>(name: string, read: (doc: Y.Doc) => T): Promise<T> {
    const stored = rooms.get(name) ? null : await loadStored(name)
    const loaded = rooms.get(name) // maybe loaded while storage answered: it may hold more
    if (loaded) {
      stored?.destroy()
      return read(loaded.doc)
    }
    if (!stored) throw new HttpError(404, 'no such room')
    try {
      return read(stored)
    } finally {
      stored.destroy()
    }
  }

  /// A room's stored state as a document of its own; null when nothing is stored.
  async function loadStored(name: string): Promise<Y.Doc | null> {
    try {
      const updates = await options.storage.load(name)
      return updates.length === 0 ? null : docOf(updates)
    } catch (error) {
      options.log.error({ err: error, room: name }, 'room failed to load for the HTTP API')
      throw new HttpError(503, 'room failed to load; try again later', { 'retry-after': '1' })
    }
  }

  async function handleRoom(req: IncomingMessage, res: ServerResponse, room: string, action: Action): Promise<void> {
    const method = req.method ?? 'GET'
    if (!allowed[action].includes(method)) {
      throw new HttpError(405, `method ${method} not allowed here`, { allow: allowed[action].join(', ') })
    }
    if (method === 'POST') {
      const user = await authorize(req, room, 'write')
      const update = await readBody(req, options.maxBodyBytes, options.incomplete)
      if (update.length === 0) throw new HttpError(400, 'empty body: expected a binary Yjs update')
      try {
        Y.decodeUpdate(update) // refuse malformed bytes before they touch the document
      } catch (error) {
        throw new HttpError(400, `body is not a Yjs update: ${(error as Error).message}`)
      }
      if (options.closing()) throw new HttpError(503, 'server is shutting down', { 'retry-after': '1' })
      await withRoom(room, async (r) => {
        try {
          r.apply(update, 'api')
        } catch (error) {
          throw new HttpError(400, (error as Error).message)
        }
        // Broadcast and queue the write now, then wait until it is durable.
        r.flushNow()
        try {
          await appendStored(rooms.writes, room, null)
        } catch {
          throw new HttpError(503, 'the update could not be stored; try again later', { 'retry-after': '1' })
        }
      })
      options.log.info({ room, user, bytes: update.length }, 'api update applied')
      sendJson(res, 200, { room, bytes: update.length, stored: true })
      return
    }
    await authorize(req, room, 'read')
    const head = method === 'HEAD'
    if (action === 'text') {
      const text = await readDoc(room, (doc) => {
        try {
          return doc.getText(options.textName).toString()
        } catch {
          throw new HttpError(409, `shared type ${JSON.stringify(options.textName)} of this room is not a text`)
        }
      })
      const body = Buffer.from(text, 'utf8')
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' })
      res.end(head ? undefined : body)
      return
    }
    const state = await readDoc(room, (doc) => Y.encodeStateAsUpdate(doc))
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': state.length, 'cache-control': 'no-store' })
    res.end(head ? undefined : state)
  }

  /// The loaded rooms the caller may see, each name checked against its grant.
  async function listRooms(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `method ${req.method} not allowed here`, { allow: 'GET, HEAD' })
    const decision = await options.authorize.list(req)
    if (!decision.ok) {
      options.refused?.(decision.status)
      throw new HttpError(decision.status, decision.reason)
    }
    const list = [...rooms.loaded()].filter((r) => decision.sees(r.name)).map((r) => ({ name: r.name, connections: r.peers.size }))
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    sendJson(res, 200, { rooms: list })
  }

  return async (req, res, path, ip) => {
    try {
      admit(req, ip, options)
      const route = parseApiPath(path)
      if (route.kind === 'list') await listRooms(req, res)
      else await handleRoom(req, res, route.room, route.action)
    } catch (error) {
      if (error instanceof ClientGone) {
        options.log.debug({ path, ip }, 'HTTP API request aborted by the client')
        return
      }
      if (res.headersSent) {
        res.destroy()
        return
      }
      if (error instanceof HttpError) {
        // An unread body would otherwise be parsed as the next request; close instead.
        const close: Record<string, string> = req.complete ? {} : { connection: 'close' }
        sendJson(res, error.status, { error: error.message }, { ...error.headers, ...close })
        if (!req.complete) res.once('finish', () => req.destroy())
        return
      }
      options.log.error({ err: error, path }, 'HTTP API request failed')
      sendJson(res, 500, { error: 'internal error' })
    }
  }
}
