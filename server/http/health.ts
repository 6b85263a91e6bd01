// GET /healthz: the process is alive, with a few counts a person looks at first.
import type { ServerResponse } from 'node:http'

/// Figures reported by /healthz.
export interface HealthFigures {
  rooms: number
  connections: number
}

/// Answer a health check.
export function sendHealth(res: ServerResponse, startedAt: number, figures: HealthFigures): void {
  const body = JSON.stringify({ status: 'ok', uptime: (Date.now() - startedAt) / 1000, ...figures })
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(body)
}

/// Answer with a JSON error.
export function sendError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: message }))
}
