// The HTTP API for documents, for backends that do not speak WebSocket:
//   GET  /api/rooms                  loaded rooms and their connection counts
//   GET  /api/rooms/<room>/text      plain text of the editor's shared text
//   GET  /api/rooms/<room>/update    the whole document as one binary Yjs update
//   POST /api/rooms/<room>/update    apply a binary Yjs update (relayed and stored)
// A room that is not loaded is loaded for the request and unloaded later as usual.
// Every request passes `authorize` first, the same decision the WebSocket upgrade makes.
import type { IncomingMessage, ServerResponse } from 'node:http'
import * as Y from 'yjs'
import type { Access, AuthDecision } from './auth.js'
import type { Logger } from './log.js'
import { parseRoomName } from './roomName.js'
import type { Room } from './room.js'
import type { Rooms } from './rooms.js'
import { appendStored } from './writeBatcher.js'

/// Decide a request, as the WebSocket upgrade does. `room` is null for the room list (a
/// question about every room).
export type Authorize = (req: IncomingMessage, room: string | null) => AuthDecision | Promise<AuthDecision>

/// What the API needs from the server.
export interface ApiOptions {
  rooms: Rooms
  authorize: Authorize
  /// Name of the shared Y.Text served by `/text` (the editor uses `codemirror`).
  textName: string
  /// Largest accepted POST body.
  maxBodyBytes: number
  /// Rooms loaded at once (0: no limit); loading another for a request gets 503.
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

/// Read a request body up to `limit` bytes.
async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'])
  if (declared > limit) throw new HttpError(413, `body larger than ${limit} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw new HttpError(413, `body larger than ${limit} bytes`)
    chunks.push(chunk)
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
}

/// Create the handler of every request whose path starts with `/api/`.
export function createApi(options: ApiOptions): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> {
  const { rooms } = options

  async function authorize(req: IncomingMessage, room: string | null, needs: Access): Promise<string | null> {
    const result = await options.authorize(req, room)
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

  async function handleRoom(req: IncomingMessage, res: ServerResponse, room: string, action: Action): Promise<void> {
    const method = req.method ?? 'GET'
    if (!allowed[action].includes(method)) {
      throw new HttpError(405, `method ${method} not allowed here`, { allow: allowed[action].join(', ') })
    }
    if (method === 'POST') {
      const user = await authorize(req, room, 'write')
      const update = await readBody(req, options.maxBodyBytes)
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
      const text = await withRoom(room, (r) => {
        try {
          return r.doc.getText(options.textName).toString()
        } catch {
          throw new HttpError(409, `shared type ${JSON.stringify(options.textName)} of this room is not a text`)
        }
      })
      const body = Buffer.from(text, 'utf8')
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' })
      res.end(head ? undefined : body)
      return
    }
    const state = await withRoom(room, (r) => Y.encodeStateAsUpdate(r.doc))
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': state.length, 'cache-control': 'no-store' })
    res.end(head ? undefined : state)
  }

  return async (req, res, path) => {
    try {
      const route = parseApiPath(path)
      if (route.kind === 'list') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `method ${req.method} not allowed here`, { allow: 'GET, HEAD' })
        await authorize(req, null, 'read')
        const list = [...rooms.loaded()].map((r) => ({ name: r.name, connections: r.peers.size }))
        list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        sendJson(res, 200, { rooms: list })
        return
      }
      await handleRoom(req, res, route.room, route.action)
    } catch (error) {
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
