// Helpers for auth and limit tests: signing tokens, capturing the server's log lines, and
// attempting an upgrade to see whether it was refused (and with which status and reason).
import { SignJWT } from 'jose'
import { pino, type Logger } from 'pino'
import WebSocket from 'ws'
import type { Access } from '../server/auth/auth.js'

export const SECRET = 'test-secret-test-secret-test-secret-0123456789'

/// Sign an HS256 token (the default) or one with the given key and algorithm.
export async function sign(
  claims: { rooms?: string | string[]; access?: Access; sub?: string },
  options: { secret?: string; expiresIn?: string | number; key?: CryptoKey | Uint8Array | import('node:crypto').KeyObject; alg?: string } = {},
): Promise<string> {
  const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setIssuedAt()
  if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn)
  else jwt.setExpirationTime('1h')
  if (claims.sub) jwt.setSubject(claims.sub)
  return jwt.sign(options.key ?? new TextEncoder().encode(options.secret ?? SECRET))
}

/// A pino logger whose JSON lines are kept in `lines`.
export function captureLog(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  return { logger, lines }
}

/// The outcome of an upgrade attempt.
export type Attempt =
  | { open: true; ws: WebSocket; protocol: string }
  | { open: false; status: number; body: { error?: string } }

/// Try to open a WebSocket; resolves once it is open or refused.
export function attempt(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string>; ca?: Buffer } = {},
): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers, ca: options.ca })
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => {
        let parsed: { error?: string } = {}
        try { parsed = JSON.parse(body) } catch { /* not JSON: leave empty, the assertion will say */ }
        resolve({ open: false, status: res.statusCode ?? 0, body: parsed })
        ws.terminate()
      })
    })
    ws.on('open', () => resolve({ open: true, ws, protocol: ws.protocol }))
    ws.on('error', (error) => reject(error))
  })
}
