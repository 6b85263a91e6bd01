// The HTTP API's history requests:
//   GET  /api/rooms/<room>/versions                 the room's versions, newest first
//   POST /api/rooms/<room>/versions  {"label": …}   take a version now (write access)
//   GET  /api/rooms/<room>/versions/<id>/text       a version's plain text
//   GET  /api/rooms/<room>/versions/<id>/update     a version as one binary Yjs update
//   POST /api/rooms/<room>/versions/<id>/restore    make the document that version again,
//        as a new edit every client receives; a version of the document as it was before
//        is taken first, so the restore can itself be undone by restoring that one.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { revertUpdate } from '../room/revert.js'
import type { VersionInfo } from '../storage/types.js'
import { docOf, storeFailed, textOf, type ApiContext } from './apiContext.js'
import type { VersionAction } from './apiPath.js'
import { applyEdit, roomInfo } from './documentsApi.js'
import { allowMethods, HttpError, readJson, sendBody, sendJson } from './httpIo.js'

/// Longest version label, in characters.
const MAX_LABEL = 200

/// GET and POST /api/rooms/<room>/versions.
export async function handleVersions(api: ApiContext, req: IncomingMessage, res: ServerResponse, room: string): Promise<void> {
  allowMethods(req, ['GET', 'HEAD', 'POST'])
  if (req.method !== 'POST') {
    await api.allow(req, room, 'read')
    let versions: VersionInfo[]
    try {
      versions = await api.storage.versions(room)
    } catch (error) {
      throw storeFailed(api, room, error)
    }
    sendJson(res, 200, { room, versions })
    return
  }
  const user = await api.allow(req, room, 'write')
  const body = await readJson(req, 4096, api.incomplete)
  const label = body.label ?? null
  if (label !== null && (typeof label !== 'string' || label.trim() === '' || label.length > MAX_LABEL)) {
    throw new HttpError(400, `label must be a non-empty string of at most ${MAX_LABEL} characters`)
  }
  if (api.closing()) throw new HttpError(503, 'server is shutting down', { 'retry-after': '1' })
  if (!api.rooms.get(room) && !(await roomInfo(api, room))) throw new HttpError(404, 'no such room')
  const version = await api.withRoom(room, (r) => api.rooms.versioning.take(r, label === null ? null : label.trim(), false))
  api.log.info({ room, user, version: version?.id }, 'version taken')
  sendJson(res, 201, { room, version })
}

/// GET /text and /update, POST /restore of one version.
export async function handleVersion(
  api: ApiContext, req: IncomingMessage, res: ServerResponse, room: string, id: number, action: VersionAction,
): Promise<void> {
  allowMethods(req, action === 'restore' ? ['POST'] : ['GET', 'HEAD'])
  const user = await api.allow(req, room, action === 'restore' ? 'write' : 'read')
  let found: Awaited<ReturnType<ApiContext['storage']['version']>>
  try {
    found = await api.storage.version(room, id)
  } catch (error) {
    throw storeFailed(api, room, error)
  }
  if (!found) throw new HttpError(404, 'no such version')
  if (action === 'update') return sendBody(req, res, 'application/octet-stream', found.update)
  if (action === 'text') {
    const doc = docOf([found.update])
    try {
      return sendBody(req, res, 'text/plain; charset=utf-8', Buffer.from(textOf(doc, api.textName), 'utf8'))
    } finally {
      doc.destroy()
    }
  }
  if (api.closing()) throw new HttpError(503, 'server is shutting down', { 'retry-after': '1' })
  const before = await api.withRoom(room, (r) => api.rooms.versioning.take(r, `Before restoring version ${id}`, false))
  const version = found.update
  await applyEdit(api, room, (doc) => revertUpdate(doc, version), user)
  api.log.info({ room, user, version: id, before: before?.id }, 'version restored')
  sendJson(res, 200, { room, restored: id, before })
}
