// Routes plain HTTP requests: health, readiness, metrics, the document API, editor pages.
// Each request first takes one of its address's slots (--max-http-requests-per-ip) until its
// response closes, so one address cannot hold many slow requests (or slow bodies) at once.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ApiHandler } from './api.js'
import { sendError, sendHealth } from './health.js'
import { holdUntilClosed, type SlotCounter } from '../net/limits.js'
import type { Logger } from '../ops/log.js'
import type { Metrics } from '../ops/metrics.js'
import { sendReadiness, type Readiness } from './readiness.js'
import type { Rooms } from '../room/rooms.js'
import type { StaticHandler } from './static.js'

/// What the routes answer from; a null part is switched off (404).
export interface RouteParts {
  startedAt: number
  rooms: Rooms
  connections: ReadonlySet<unknown>
  readiness: Readiness
  metrics: Metrics | null
  api: ApiHandler | null
  editor: StaticHandler | null
  /// The client's address (the peer, or behind a trusted proxy its X-Forwarded-For entry).
  clientIp(req: IncomingMessage): string
  /// Requests in progress per address.
  perIp: SlotCounter
  closing(): boolean
  log: Logger
}

/// The server's request listener.
export function routes(parts: RouteParts): (req: IncomingMessage, res: ServerResponse) => void {
  const { rooms, connections, metrics, api, editor } = parts
  return (req, res) => {
    const ip = parts.clientIp(req)
    if (!holdUntilClosed(parts.perIp, ip, res)) return refuseBusy(req, res)
    const path = (req.url ?? '/').split('?', 1)[0]
    const read = req.method === 'GET' || req.method === 'HEAD'
    if (path === '/healthz' && read) {
      sendHealth(res, parts.startedAt, { rooms: rooms.size, connections: connections.size })
      return
    }
    if (path === '/readyz' && read) {
      void sendReadiness(res, parts.readiness, parts.closing())
      return
    }
    if (path === '/metrics' && metrics && req.method === 'GET') {
      metrics.render().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' })
          res.end(text)
        },
        (error: unknown) => {
          parts.log.error({ err: error }, 'metrics failed')
          sendError(res, 500, 'metrics failed')
        },
      )
      return
    }
    if (api && path.startsWith('/api/')) {
      void api(req, res, path, ip)
      return
    }
    if (editor && read) return editor(req, res)
    sendError(res, 404, 'not found')
  }
}

// 429 for an address with too many requests in progress. The connection closes after the
// answer: a body it may carry is not read (it would be parsed as the next request).
function refuseBusy(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({ error: 'too many requests in progress from this address' })
  res.writeHead(429, { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': '1', connection: 'close' })
  res.end(body)
  res.once('finish', () => { if (!req.complete) req.destroy() })
}
