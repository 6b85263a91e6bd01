// Offline-first editing in real Chromium tabs served by a real Concord server: the browser's
// offline event shows at once, edits made offline are kept in IndexedDB through a reload
// that only the service worker can answer (the server is down too), they merge with what
// others wrote meanwhile once the network is back, and leaving with edits the server has
// not acknowledged asks first.
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { startServer } from '../helpers.js'
import type { ConcordServer } from '../../server/server.js'
import { memoryStorage } from '../../server/storage/memory.js'
import type { Storage } from '../../server/storage/types.js'
import {
  browserAvailable, closeBrowser, editorText, openTab, placeCursor, prepareBrowser, requireBrowserUnderCi, waitConnected, type Tab,
} from './harness.js'

const ARTIFACTS = 'test-artifacts/editor'
const available = browserAvailable()
requireBrowserUnderCi(available)

/// What the browser logs by itself while the network or the server is away (refused or
/// failed requests and sockets): expected in these tests, anything else is not.
const OFFLINE_NOISE = /WebSocket connection to .* failed|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|Failed to load resource/

describe.skipIf(!available)('offline-first editor in Chromium', () => {
  let editorDir: string
  let browser: Browser
  let server: ConcordServer | undefined
  let tabs: Tab[] = []

  beforeAll(async () => {
    ;({ editorDir, browser } = await prepareBrowser(ARTIFACTS))
  }, 120_000)

  afterAll(() => closeBrowser(browser, editorDir))

  afterEach(async () => {
    const errors = tabs.flatMap((t) => t.errors).filter((e) => !OFFLINE_NOISE.test(e))
    for (const tab of tabs.splice(0)) await tab.context.close().catch(() => undefined)
    await server?.close()
    server = undefined
    expect(errors, 'console errors in the tabs').toEqual([])
  })

  async function start(store: Storage, port = 0): Promise<string> {
    server = await startServer({ editor: true, publicDir: editorDir, store, port })
    return server.url.replace(/^ws:/, 'http:')
  }

  async function open(http: string, room: string, name: string, color: string): Promise<Tab> {
    const tab = await openTab(browser, http, room, name, color)
    tabs.push(tab)
    return tab
  }

  const status = (page: Page) => page.locator('#status')
  const statusText = async (page: Page) => (await status(page).textContent()) ?? ''
  const serverSaved = (page: Page) => page.waitForFunction(() => document.getElementById('status')?.dataset.saved === 'true', undefined, { timeout: 15_000 })
  /// Wait until the page is controlled by the service worker (installed, files cached).
  const controlled = (page: Page) => page.waitForFunction(() => navigator.serviceWorker?.controller != null, undefined, { timeout: 15_000 })

  test('edits made offline survive a reload without network, then merge with the others\' edits and reach the server', async () => {
    const store = memoryStorage()
    let http = await start(store)
    const port = Number(new URL(http).port)
    const room = 'offline notes'
    const ann = await open(http, room, 'Ann', '#d7263d')
    await controlled(ann.page)

    await ann.page.keyboard.type('Ann wrote this online.\n')
    await serverSaved(ann.page)
    await expect.poll(() => statusText(ann.page)).toMatch(/Saved on the server$/)

    // Everything saved: leaving does not ask.
    const dialogs: string[] = []
    ann.page.on('dialog', (dialog) => {
      dialogs.push(dialog.type())
      void dialog.accept()
    })
    await ann.page.reload()
    await waitConnected(ann.page)
    expect(dialogs).toEqual([])
    expect(await editorText(ann.page)).toBe('Ann wrote this online.\n')

    const bob = await open(http, room, 'Bob', '#2e86ab')

    // The network goes: the browser's event says so, not a 30 s silence timeout (which would
    // have dropped the socket and scheduled a retry: the status would count one down).
    await ann.context.setOffline(true)
    await ann.page.waitForFunction(() => document.getElementById('status')?.dataset.status === 'offline', undefined, { timeout: 3000 })
    expect(await statusText(ann.page)).toMatch(/^Offline/)
    expect(await statusText(ann.page)).not.toMatch(/retrying/)

    await placeCursor(ann.page, 1e9)
    await ann.page.keyboard.type('Ann typed this offline.')
    await expect.poll(() => statusText(ann.page)).toMatch(/Saved on this device$/)
    expect(await status(ann.page).getAttribute('data-saved')).toBe('false')
    expect(await status(ann.page).getAttribute('data-local')).toBe('true')
    await ann.page.setViewportSize({ width: 1280, height: 800 })
    await ann.page.screenshot({ path: `${ARTIFACTS}/offline-desktop.png` })

    // Meanwhile Bob, online, writes at the top.
    await placeCursor(bob.page, 0)
    await bob.page.keyboard.type('Bob wrote this meanwhile.\n')
    await serverSaved(bob.page)
    expect(await editorText(ann.page)).not.toContain('Bob wrote')

    // The server goes too: from now on only the service worker can answer the reload.
    await server!.close()
    server = undefined
    // An edit the server has not acknowledged: leaving asks first.
    const response = await ann.page.reload()
    expect(dialogs).toEqual(['beforeunload'])
    expect(response?.fromServiceWorker(), 'the page came from the service worker').toBe(true)
    // The offline edit is back, from IndexedDB; the page knows it is not on the server.
    await expect.poll(() => editorText(ann.page), { timeout: 10_000 }).toBe('Ann wrote this online.\nAnn typed this offline.')
    await expect.poll(() => statusText(ann.page)).toMatch(/Saved on this device$/)
    expect(await status(ann.page).getAttribute('data-saved')).toBe('false')
    expect(await status(ann.page).getAttribute('data-status')).not.toBe('connected')
    await ann.page.screenshot({ path: `${ARTIFACTS}/offline-after-reload-desktop.png` })

    // Server and network come back: Ann's tab reconnects at once and the edits merge.
    http = await start(store, port)
    await ann.context.setOffline(false)
    await waitConnected(ann.page, 10_000)
    await waitConnected(bob.page, 30_000)
    const expected = 'Bob wrote this meanwhile.\nAnn wrote this online.\nAnn typed this offline.'
    await expect.poll(() => editorText(ann.page), { timeout: 10_000 }).toBe(expected)
    await expect.poll(() => editorText(bob.page), { timeout: 10_000 }).toBe(expected)
    const answer = await fetch(`${http}/api/rooms/${encodeURIComponent(room)}/text`)
    expect(answer.status).toBe(200)
    expect(await answer.text()).toBe(expected)
    await serverSaved(ann.page)
    await expect.poll(() => statusText(ann.page)).toMatch(/Saved on the server$/)
  })

  test('going online reconnects at once, and a socket the network dropped is not kept for 30 s', async () => {
    const http = await start(memoryStorage())
    const ann = await open(http, 'flaky', 'Ann', '#d7263d')
    const bob = await open(http, 'flaky', 'Bob', '#2e86ab')
    let sockets = 0
    ann.page.on('websocket', () => sockets++)
    for (let round = 0; round < 3; round++) {
      await ann.context.setOffline(true)
      await ann.page.waitForFunction(() => document.getElementById('status')?.dataset.status === 'offline', undefined, { timeout: 3000 })
      // No retry is scheduled while the browser has no network: nothing to count down.
      expect(await statusText(ann.page)).not.toMatch(/retrying/)
      await ann.page.keyboard.type(`offline ${round}. `)
      const before = sockets
      await ann.context.setOffline(false)
      await waitConnected(ann.page, 5000)
      // One attempt, made by the online event: no retry was pending, none failed first.
      expect(sockets - before, 'sockets opened to reconnect').toBe(1)
      await serverSaved(ann.page)
    }
    await expect.poll(() => editorText(bob.page)).toBe('offline 0. offline 1. offline 2. ')
  })
})
