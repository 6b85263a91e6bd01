// The server's editor pages over real HTTP: routes, content types, caching, safe paths.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { ConcordServer } from '../server/server.js'
import { route } from '../server/http/static.js'
import { startServer } from './helpers.js'

let dir: string
let server: ConcordServer
let base: string

beforeAll(async () => {
  const parent = mkdtempSync(join(tmpdir(), 'concord-static-'))
  dir = join(parent, 'public')
  mkdirSync(join(dir, 'assets'), { recursive: true })
  writeFileSync(join(dir, 'landing.html'), '<p>landing</p>')
  writeFileSync(join(dir, 'index.html'), '<p>editor</p>')
  writeFileSync(join(dir, 'assets', 'main-ABCD1234.js'), 'console.log(1)')
  writeFileSync(join(dir, 'assets', 'plain.css'), 'body{}')
  writeFileSync(join(dir, '.secret'), 'hidden')
  writeFileSync(join(parent, 'outside.txt'), 'outside')
  server = await startServer({ editor: true, publicDir: dir })
  base = server.url.replace('ws:', 'http:')
})

afterAll(async () => {
  await server?.close()
  rmSync(join(dir, '..'), { recursive: true, force: true })
})

/// A raw GET that sends the path exactly as given (fetch would normalise `..` away).
function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const url = new URL(base)
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('/ is the landing page and /r/<room> the editor, as HTML that is revalidated', async () => {
  const landing = await get('/')
  expect(landing.status).toBe(200)
  expect(landing.body).toBe('<p>landing</p>')
  expect(landing.headers['content-type']).toBe('text/html; charset=utf-8')
  expect(landing.headers['cache-control']).toBe('no-cache')
  expect(landing.headers['content-security-policy']).toContain("script-src 'self'")
  for (const path of ['/r/notes', '/r/team%20notes%2Fmonday', '/r/a/b/c']) {
    const page = await get(path)
    expect(page.status, path).toBe(200)
    expect(page.body, path).toBe('<p>editor</p>')
  }
})

test('the landing form is redirected to the room page', async () => {
  const res = await get('/r/?room=team+notes/monday')
  expect(res.status).toBe(303)
  expect(res.headers.location).toBe('/r/team%20notes%2Fmonday')
  expect((await get('/r/')).headers.location).toBe('/')
})

test('hashed bundles are cached for ever; others carry an ETag and answer 304', async () => {
  const js = await get('/assets/main-ABCD1234.js')
  expect(js.status).toBe(200)
  expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8')
  expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable')
  const css = await get('/assets/plain.css')
  expect(css.headers['content-type']).toBe('text/css; charset=utf-8')
  expect(css.headers['cache-control']).toBe('no-cache')
  const again = await get('/assets/plain.css', { 'if-none-match': String(css.headers.etag) })
  expect(again.status).toBe(304)
  expect(again.body).toBe('')
  const head = await get('/assets/plain.css', {}, 'HEAD')
  expect(head.status).toBe(200)
  expect(head.headers['content-length']).toBe('6')
  expect(head.body).toBe('')
})

test('paths outside the folder, hidden files and folders are not served', async () => {
  for (const path of ['/../outside.txt', '/assets/../../outside.txt', '/%2e%2e/outside.txt', '/assets/%2e%2e%2f%2e%2e%2foutside.txt',
    '/.secret', '/assets', '/assets/', '/nothing.js', '/%00', '/%E0%A4%A', '/assets\\..\\..\\outside.txt']) {
    const res = await get(path)
    expect(res.status, path).toBe(404)
    expect(res.body, path).not.toContain('outside')
    expect(res.body, path).not.toContain('hidden')
  }
})

test('other methods and /healthz are not the editor\'s', async () => {
  expect((await get('/', {}, 'POST')).status).toBe(404)
  expect(JSON.parse((await get('/healthz')).body).status).toBe('ok')
})

test('a server without a built editor says so instead of failing', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'concord-empty-'))
  const bare = await startServer({ editor: true, publicDir: empty })
  try {
    const res = await fetch(bare.url.replace('ws:', 'http:') + '/r/x')
    expect(res.status).toBe(503)
    expect(await res.text()).toContain('npm run build')
  } finally {
    await bare.close()
    rmSync(empty, { recursive: true, force: true })
  }
})

test('route() maps paths without touching the file system', () => {
  expect(route('/')).toEqual({ file: 'landing.html' })
  expect(route('/r/x?y=1')).toEqual({ file: 'index.html' })
  expect(route('/assets/a.js?v=2')).toEqual({ file: 'assets/a.js' })
  expect(route('/a//b')).toBeNull()
  expect(route('/a/./b')).toBeNull()
})
