// The editor's service worker (built by build.mjs into /sw.js): keeps the built files so an
// editor page opens without network, for rooms visited before (their documents are in
// IndexedDB, see offline.ts).
//
// - Pages (navigations): network first, so a deploy shows at once; without an answer within
//   a few seconds, the cached page. Every editor page is the same file, so the cached editor
//   page serves any room.
// - Built files (/assets/…, content-hashed names that never change) and the favicon: cache
//   first; the current build's are fetched at install.
// - Everything else (/api/…, health, metrics, the WebSocket) is never touched or cached.

/// Filled in by build.mjs: the URLs of the current build's files, and a version naming them.
declare const __CONCORD_ASSETS__: string[]
declare const __CONCORD_VERSION__: string

// Service worker types (the editor's tsconfig has the DOM library, not WebWorker's).
interface WaitEvent extends Event {
  waitUntil(promise: Promise<unknown>): void
}
interface RequestEvent extends WaitEvent {
  readonly request: Request
  respondWith(response: Promise<Response> | Response): void
}
interface WindowClient { readonly url: string }
interface WorkerScope {
  readonly location: Location
  skipWaiting(): Promise<void>
  clients: {
    claim(): Promise<void>
    matchAll(options: { includeUncontrolled: boolean; type: 'window' }): Promise<WindowClient[]>
  }
  addEventListener(type: 'install' | 'activate', listener: (event: WaitEvent) => void): void
  addEventListener(type: 'fetch', listener: (event: RequestEvent) => void): void
}

const scope = self as unknown as WorkerScope
const CACHE = `concord-${__CONCORD_VERSION__}`
/// Cache key of the editor page (any `/r/<room>` answers with the same file).
const EDITOR_PAGE = '/r/'
const LANDING_PAGE = '/'
/// How long a page request may take before the cached page is shown instead.
const NETWORK_WAIT_MS = 4000

/// The key a page is cached under, or null for pages we do not keep.
function pageKey(url: URL): string | null {
  if (url.pathname.startsWith('/r/')) return EDITOR_PAGE
  if (url.pathname === '/' || url.pathname === '/index.html') return LANDING_PAGE
  return null
}

function cacheable(response: Response): boolean {
  return response.ok && response.type === 'basic'
}

async function put(key: string | Request, response: Response): Promise<void> {
  const cache = await caches.open(CACHE)
  await cache.put(key, response)
}

scope.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE)
    await cache.addAll(__CONCORD_ASSETS__)
    // The editor page that registered us is a page of this build: keep it (and the
    // landing page) now, so a reload without network works from the first visit on.
    const pages = new Set<string>([LANDING_PAGE])
    for (const client of await scope.clients.matchAll({ includeUncontrolled: true, type: 'window' })) {
      const url = new URL(client.url)
      if (url.origin === scope.location.origin && pageKey(url) === EDITOR_PAGE) pages.add(url.pathname)
    }
    await Promise.all([...pages].map(async (path) => {
      try {
        const response = await fetch(path, { cache: 'no-cache', credentials: 'same-origin' })
        const key = pageKey(new URL(path, scope.location.origin))
        if (key && cacheable(response)) await cache.put(key, response)
      } catch {
        // No page cached now: the next visit with network caches it.
      }
    }))
    await scope.skipWaiting()
  })())
})

scope.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('concord-') && name !== CACHE) await caches.delete(name)
    }
    await scope.clients.claim()
  })())
})

scope.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== scope.location.origin || url.pathname.startsWith('/api/')) return
  if (request.mode === 'navigate') {
    const key = pageKey(url)
    if (key) event.respondWith(page(request, key))
    return
  }
  if (url.pathname.startsWith('/assets/') || url.pathname === '/favicon.svg') event.respondWith(file(request))
})

/// A page: from the network (and kept), or the kept one when the network fails or is slow.
async function page(request: Request, key: string): Promise<Response> {
  const network = fetch(request).then(async (response) => {
    if (cacheable(response)) await put(key, response.clone())
    return response
  })
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), NETWORK_WAIT_MS))
  const first = await Promise.race([network.catch(() => null), timeout])
  if (first) return first
  const cached = await caches.match(key)
  if (cached) {
    network.catch(() => undefined)
    return cached
  }
  try {
    return await network
  } catch {
    return new Response(
      '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
        '<title>Offline · Concord</title><p style="font-family:system-ui,sans-serif;margin:2rem">' +
        'You are offline, and this page was not opened on this device before. Try again with a network connection.</p>',
      { status: 503, headers: { 'content-type': 'text/html; charset=utf-8' } },
    )
  }
}

/// A built file: they never change, so a kept copy is always right.
async function file(request: Request): Promise<Response> {
  const cached = await caches.match(request)
  if (cached) return cached
  const response = await fetch(request)
  if (cacheable(response)) await put(request, response.clone())
  return response
}
