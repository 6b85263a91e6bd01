// What a browser page cannot learn from a refused WebSocket (it sees only 1006), and links to
// share a room:
//   GET  /api/rooms/<room>/access   would a connection be admitted now? 200
//        {"room","access","user","expiresAt"}, or the status and reason the upgrade answers
//        (400 bad name, 401/403 token, 403 origin, 429 room full, 503 server full)
//   POST /api/rooms/<room>/share    {"access":"read"|"write","ttlSeconds"} → {"token","expiresAt"}
//        a token for the room alone, at most the caller's own access and lifetime; with auth
//        off, {"token":null} (a plain link is enough)
import type { IncomingMessage, ServerResponse } from 'node:http'
import { allows, isAccess } from '../auth/auth.js'
import { originAllowed } from '../net/limits.js'
import type { ApiContext } from './apiContext.js'
import { allowMethods, HttpError, readJson, sendJson } from './httpIo.js'

/// Longest lifetime of a share token.
const MAX_TTL_SECONDS = 30 * 86_400

/// The caller's decision for the room, refused as the upgrade would refuse it.
async function decide(api: ApiContext, req: IncomingMessage, room: string) {
  const decision = await api.authorize.room(req, room)
  if (!decision.ok) {
    api.refused?.(decision.status)
    throw new HttpError(decision.status, decision.reason)
  }
  return decision
}

/// GET /api/rooms/<room>/access.
export async function handleAccess(api: ApiContext, req: IncomingMessage, res: ServerResponse, room: string): Promise<void> {
  allowMethods(req, ['GET', 'HEAD'])
  if (!originAllowed(req.headers.origin, api.allowedOrigins)) throw new HttpError(403, 'origin not allowed')
  if (api.closing()) throw new HttpError(503, 'server is shutting down', { 'retry-after': '1' })
  const decision = await decide(api, req, room)
  const full = api.capacity(room)
  if (full) throw new HttpError(full.status, full.reason, { 'retry-after': '1' })
  sendJson(res, 200, { room, access: decision.access, user: decision.user, expiresAt: decision.expiresAt ?? null })
}

/// POST /api/rooms/<room>/share.
export async function handleShare(api: ApiContext, req: IncomingMessage, res: ServerResponse, room: string): Promise<void> {
  allowMethods(req, ['POST'])
  const body = await readJson(req, 1024, api.incomplete)
  const access = body.access ?? 'read'
  if (!isAccess(access) || access === 'admin') throw new HttpError(400, 'access must be read or write')
  const ttl = body.ttlSeconds ?? 7 * 86_400
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 60 || ttl > MAX_TTL_SECONDS) {
    throw new HttpError(400, `ttlSeconds must be an integer from 60 to ${MAX_TTL_SECONDS}`)
  }
  const decision = await decide(api, req, room)
  if (!allows(decision.access, access)) {
    api.refused?.(403)
    throw new HttpError(403, `your access is ${decision.access}: you cannot share ${access} access`)
  }
  const signer = api.share
  if (signer.kind === 'open') return sendJson(res, 200, { room, token: null, access, expiresAt: null })
  if (signer.kind === 'unavailable') throw new HttpError(501, signer.reason)
  // Never longer than the sharer's own token.
  const now = Date.now()
  const expiresAt = Math.min(now + ttl * 1000, decision.expiresAt ?? Infinity)
  const token = await signer.sign(room, access, expiresAt, now)
  api.log.info({ room, user: decision.user, access, expiresAt }, 'share token issued')
  sendJson(res, 200, { room, token, access, expiresAt })
}
