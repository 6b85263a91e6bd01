// Reading request bodies and writing JSON answers, with the API's two kinds of failure.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { IncompleteBudget } from '../net/limits.js'

/// An HTTP error with a status; answered as `{"error": message}`.
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
  }
}

/// The client went away mid-request: it closed its socket, or the server cut it for
/// --request-timeout-ms (Node answered 408). Nothing to answer, nothing to report as an error.
export class ClientGone extends Error {}

/// Refuse (405, with `Allow`) a method not in `allowed`.
export function allowMethods(req: IncomingMessage, allowed: readonly string[]): void {
  const method = req.method ?? 'GET'
  if (!allowed.includes(method)) throw new HttpError(405, `method ${method} not allowed here`, { allow: allowed.join(', ') })
}

/// Read a request body up to `limit` bytes. Listeners, not `for await`: leaving that loop
/// early destroys the socket, and the 413 would never reach the client.
export function readBody(req: IncomingMessage, limit: number, budget: IncompleteBudget): Promise<Uint8Array> {
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

/// A JSON object from a request body (an empty body is `{}`); 400 otherwise.
export async function readJson(req: IncomingMessage, limit: number, budget: IncompleteBudget): Promise<Record<string, unknown>> {
  const body = await readBody(req, limit, budget)
  if (body.length === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'))
  } catch {
    throw new HttpError(400, 'body is not JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'body must be a JSON object')
  return value as Record<string, unknown>
}

/// Answer with a JSON body, never cached.
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
  res.end(JSON.stringify(body))
}

/// Answer with bytes or text (HEAD: the headers alone).
export function sendBody(req: IncomingMessage, res: ServerResponse, type: string, body: Uint8Array): void {
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-store' })
  res.end(req.method === 'HEAD' ? undefined : body)
}
