// Serves the built editor over HTTP: `/` is the landing page, `/r/<room>` the editor page of
// a room, `/assets/*` the bundles. Request paths are never joined blindly to the file
// system: they are decoded, normalised and must stay inside the folder.
import { createReadStream, type Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, resolve, sep } from 'node:path'
import { packageRoot } from '../ops/packageRoot.js'

/// Answers one GET or HEAD request for the editor.
export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => void

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json',
}

// Pages may load only our own scripts and styles and connect only back to this server.
// Inline style attributes are needed by CodeMirror and the remote-caret colours.
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; object-src 'none'",
}

/// Bundles with a content hash in their name (`main-4TDHGORH.js`) never change.
const HASHED = /-[A-Z0-9]{8}\.(js|css|map)$/

/// The folder `npm run build` writes the editor to, whether this file runs from
/// `dist/server/…` (compiled) or from `server/…` (tests running the sources).
export function defaultEditorDir(): string {
  return join(packageRoot(), 'dist', 'editor')
}

/// What a request path maps to: a file of the folder, a redirect, or nothing.
export type Route = { file: string } | { redirect: string } | null

/// Map a request URL to a route. Pure, so the path rules are testable on their own.
export function route(url: string): Route {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
  if (path === '/' || path === '/index.html') return { file: 'landing.html' }
  if (path === '/r' || path === '/r/') {
    // The landing form submits `/r/?room=NAME` (it works without JavaScript).
    const room = query.get('room')?.trim()
    return { redirect: room ? `/r/${encodeURIComponent(room)}` : '/' }
  }
  if (path.startsWith('/r/')) return { file: 'index.html' }
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    return null
  }
  // Only plain relative names: no NUL, no backslashes, no dot segments or hidden files.
  if (decoded.includes('\0') || decoded.includes('\\')) return null
  const segments = decoded.split('/').slice(1)
  if (segments.some((s) => s === '' || s.startsWith('.'))) return null
  return { file: segments.join('/') }
}

/// Serve the editor from `dir`. A missing build answers 503 with a hint, not a crash.
export function staticHandler(dir: string): StaticHandler {
  const root = resolve(dir)

  async function find(file: string): Promise<{ path: string; stats: Stats } | null> {
    const path = resolve(root, file)
    if (!path.startsWith(root + sep)) return null
    try {
      const stats = await stat(path)
      return stats.isFile() ? { path, stats } : null
    } catch {
      return null
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = route(req.url ?? '/')
    if (target && 'redirect' in target) {
      res.writeHead(303, { location: target.redirect, 'cache-control': 'no-store' })
      res.end()
      return
    }
    const found = target ? await find(target.file) : null
    if (!found) {
      const pagesMissing = target?.file.endsWith('.html') || !(await find('index.html'))
      const status = pagesMissing ? 503 : 404
      const body = status === 503 ? 'The editor is not built: run `npm run build`.\n' : 'Not found.\n'
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    const { path, stats } = found
    const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`
    const headers: Record<string, string | number> = {
      'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      'cache-control': HASHED.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag,
      ...SECURITY_HEADERS,
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    headers['content-length'] = stats.size
    res.writeHead(200, headers)
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    const stream = createReadStream(path)
    stream.on('error', () => res.destroy())
    stream.pipe(res)
  }

  return (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      res.end()
    })
  }
}
