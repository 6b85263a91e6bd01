// The HTTP API's document requests:
//   GET    /api/rooms                ?prefix= &order=name|recent &limit= &cursor=  stored rooms
//   GET    /api/rooms/<room>         one stored room's facts
//   DELETE /api/rooms/<room>         delete it everywhere (admin access)
//   GET    /api/rooms/<room>/text    plain text of the editor's shared text
//   GET    /api/rooms/<room>/update  the whole document as one binary Yjs update
//   POST   /api/rooms/<room>/update  apply a binary Yjs update (relayed and stored)
import type { IncomingMessage, ServerResponse } from 'node:http'
import * as Y from 'yjs'
import { DeletedDocumentError } from '../protocol/messages.js'
import { queryOf } from '../protocol/roomName.js'
import type { ListQuery, RoomInfo } from '../storage/types.js'
import { appendStored } from '../storage/writeBatcher.js'
import { storeFailed, textOf, type ApiContext } from './apiContext.js'
import type { DocumentAction } from './apiPath.js'
import { allowMethods, HttpError, readBody, sendBody, sendJson } from './httpIo.js'

/// Rooms per page unless `limit` says otherwise, and the most it may say.
const PAGE = 100
const MAX_PAGE = 1000
/// Store pages read for one answer when the caller's grants hide most rooms; the answer then
/// ends early with a cursor to go on from.
const MAX_SCANS = 10

/// A room as the list shows it.
type Listed = RoomInfo & { connections: number }

/// The opaque cursor after a room, and back.
function cursorOf(room: RoomInfo): string {
  return Buffer.from(JSON.stringify([room.name, room.updatedAt])).toString('base64url')
}
function parseCursor(raw: string): ListQuery['after'] {
  try {
    const [name, updatedAt] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown[]
    if (typeof name === 'string' && typeof updatedAt === 'number') return { name, updatedAt }
  } catch {
    // answered below
  }
  throw new HttpError(400, 'bad cursor: pass the `next` of a previous page')
}

/// The query of a list request.
function listQuery(url: string): ListQuery {
  const query = queryOf(url)
  const order = query.get('order') ?? 'name'
  if (order !== 'name' && order !== 'recent') throw new HttpError(400, 'order must be name or recent')
  const limitRaw = query.get('limit')
  const limit = limitRaw === null ? PAGE : Number(limitRaw)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new HttpError(400, `limit must be an integer from 1 to ${MAX_PAGE}`)
  const cursor = query.get('cursor')
  return { prefix: query.get('prefix') ?? undefined, order, limit, after: cursor ? parseCursor(cursor) : null }
}

/// GET /api/rooms: the stored rooms the caller may see, a page at a time.
export async function listRooms(api: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  allowMethods(req, ['GET', 'HEAD'])
  const query = listQuery(req.url ?? '/')
  const decision = await api.authorize.list(req)
  if (!decision.ok) {
    api.refused?.(decision.status)
    throw new HttpError(decision.status, decision.reason)
  }
  const shown: Listed[] = []
  let after = query.after
  let more = true
  for (let scans = 0; more && shown.length < query.limit && scans < MAX_SCANS; scans++) {
    let page
    try {
      page = await api.storage.list({ ...query, limit: query.limit - shown.length, after })
    } catch (error) {
      throw storeFailed(api, '', error)
    }
    for (const room of page.rooms) {
      if (decision.sees(room.name)) shown.push({ ...room, connections: api.rooms.get(room.name)?.peers.size ?? 0 })
    }
    more = page.more
    const last = page.rooms[page.rooms.length - 1]
    if (last) after = { name: last.name, updatedAt: last.updatedAt }
  }
  const next = more && after ? cursorOf({ name: after.name, updatedAt: after.updatedAt, bytes: 0, createdAt: 0 }) : null
  sendJson(res, 200, { rooms: shown, next })
}

/// The stored facts of one room, or null.
export async function roomInfo(api: ApiContext, name: string): Promise<RoomInfo | null> {
  try {
    const page = await api.storage.list({ prefix: name, order: 'name', limit: 1 })
    return page.rooms[0]?.name === name ? page.rooms[0] : null // the name sorts first of its prefix
  } catch (error) {
    throw storeFailed(api, name, error)
  }
}

/// GET or DELETE /api/rooms/<room>.
export async function handleRoom(api: ApiContext, req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
  allowMethods(req, ['GET', 'HEAD', 'DELETE'])
  if (req.method !== 'DELETE') {
    await api.allow(req, name, 'read')
    const info = await roomInfo(api, name)
    if (!info) throw new HttpError(404, 'no such room')
    sendJson(res, 200, { ...info, connections: api.rooms.get(name)?.peers.size ?? 0 })
    return
  }
  const user = await api.allow(req, name, 'admin')
  if (api.closing()) throw new HttpError(503, 'server is shutting down', { 'retry-after': '1' })
  let deleted: boolean
  try {
    deleted = await api.rooms.delete(name)
  } catch (error) {
    throw storeFailed(api, name, error)
  }
  if (!deleted) throw new HttpError(404, 'no such room')
  api.log.info({ room: name, user }, 'room deleted')
  sendJson(res, 200, { room: name, deleted: true })
}

/// GET /text, GET and POST /update of a room's current document.
export async function handleDocument(api: ApiContext, req: IncomingMessage, res: ServerResponse, room: string, action: DocumentAction): Promise<void> {
  allowMethods(req, action === 'text' ? ['GET', 'HEAD'] : ['GET', 'HEAD', 'POST'])
  if (req.method === 'POST') return postUpdate(api, req, res, room)
  await api.allow(req, room, 'read')
  if (action === 'text') {
    const text = await api.readDoc(room, (doc) => textOf(doc, api.textName))
    return sendBody(req, res, 'text/plain; charset=utf-8', Buffer.from(text, 'utf8'))
  }
  sendBody(req, res, 'application/octet-stream', await api.readDoc(room, (doc) => Y.encodeStateAsUpdate(doc)))
}

/// Apply a posted update as an edit of `user`, and answer once it is stored.
async function postUpdate(api: ApiContext, req: IncomingMessage, res: ServerResponse, room: string): Promise<void> {
  const user = await api.allow(req, room, 'write')
  const update = await readBody(req, api.maxBodyBytes, api.incomplete)
  if (update.length === 0) throw new HttpError(400, 'empty body: expected a binary Yjs update')
  try {
    Y.decodeUpdate(update) // refuse malformed bytes before they touch the document
  } catch (error) {
    throw new HttpError(400, `body is not a Yjs update: ${(error as Error).message}`)
  }
  await applyEdit(api, room, update, user)
  api.log.info({ room, user, bytes: update.length }, 'api update applied')
  sendJson(res, 200, { room, bytes: update.length, stored: true })
}

/// Apply an update to a room as `user`'s edit: relayed to every connection, then stored.
/// `make` may compute the update from the loaded room (a restore).
export async function applyEdit(
  api: ApiContext, name: string, update: Uint8Array | ((doc: Y.Doc) => Uint8Array), user: string | null,
): Promise<void> {
  if (api.closing()) throw new HttpError(503, 'server is shutting down', { 'retry-after': '1' })
  await api.withRoom(name, async (room) => {
    try {
      room.document.apply(typeof update === 'function' ? update(room.document.doc) : update, 'api', false, user)
    } catch (error) {
      throw new HttpError(error instanceof DeletedDocumentError ? 410 : 400, (error as Error).message)
    }
    // Broadcast and queue the write now, then wait until it is durable.
    room.flushNow()
    try {
      await appendStored(api.rooms.writes, name, null)
    } catch {
      throw new HttpError(503, 'the update could not be stored; try again later', { 'retry-after': '1' })
    }
  })
}
