// Routes plain HTTP requests: health, readiness, metrics, the document API, editor pages.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { sendError, sendHealth } from './health.js'
import type { Logger } from './log.js'
import type { Metrics } from './metrics.js'
import { sendReadiness, type Readiness } from './readiness.js'
import type { Rooms } from './rooms.js'
import type { StaticHandler } from './static.js'

/// What the routes answer from; a null part is switched off (404).
export interface RouteParts {
  startedAt: number
  rooms: Rooms
  connections: ReadonlySet<unknown>
  readiness: Readiness
  metrics: Metrics | null
  api: ((req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>) | null
  editor: StaticHandler | null
  closing(): boolean
  log: Logger
}

/// The server's request listener.
export function routes(parts: RouteParts): (req: IncomingMessage, res: ServerResponse) => void {
  const { rooms, connections, metrics, api, editor } = parts
  return (req, res) => {
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
      void api(req, res, path)
      return
    }
    if (editor && read) return editor(req, res)
    sendError(res, 404, 'not found')
  }
}
