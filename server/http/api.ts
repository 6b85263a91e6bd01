// The HTTP API for documents, for backends and tools that do not speak WebSocket (paths in
// `documentsApi.ts` and `versionsApi.ts`). A read of a room that is not loaded is answered
// from storage without loading it (404 when nothing is stored), so reads cannot fill
// --max-rooms; a write loads the room as a join does. Every request passes, in order: the
// origin check (state-changing requests), the per-IP rate, the access check (the same
// decision the WebSocket upgrade makes; deleting needs admin access).
import type { IncomingMessage, ServerResponse } from 'node:http'
import { crossSiteRefusal } from '../net/limits.js'
import { handleAccess, handleShare } from './accessApi.js'
import { apiContext, type ApiContext, type ApiOptions } from './apiContext.js'
import { BadPath, parseApiPath, type ApiRoute } from './apiPath.js'
import { handleDocument, handleRoom, listRooms } from './documentsApi.js'
import { ClientGone, HttpError, sendJson } from './httpIo.js'
import { handleVersion, handleVersions } from './versionsApi.js'

export type { ApiOptions } from './apiContext.js'

/// The API's request handler; `ip` is the client's address (see `clientIp`).
export type ApiHandler = (req: IncomingMessage, res: ServerResponse, path: string, ip: string) => Promise<void>

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

function route(api: ApiContext, req: IncomingMessage, res: ServerResponse, to: ApiRoute): Promise<void> {
  switch (to.kind) {
    case 'list': return listRooms(api, req, res)
    case 'room': return handleRoom(api, req, res, to.room)
    case 'document': return handleDocument(api, req, res, to.room, to.action)
    case 'versions': return handleVersions(api, req, res, to.room)
    case 'version': return handleVersion(api, req, res, to.room, to.id, to.action)
    case 'access': return handleAccess(api, req, res, to.room)
    case 'share': return handleShare(api, req, res, to.room)
  }
}

/// Create the handler of every request whose path starts with `/api/`.
export function createApi(options: ApiOptions): ApiHandler {
  const api = apiContext(options)
  return async (req, res, path, ip) => {
    try {
      admit(req, ip, options)
      let to: ApiRoute
      try {
        to = parseApiPath(path)
      } catch (error) {
        if (error instanceof BadPath) throw new HttpError(error.status, error.message)
        throw error
      }
      await route(api, req, res, to)
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
