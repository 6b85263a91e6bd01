// Access in the browser, against a real server and real Chromium: links that carry a token
// in their fragment, share links made in the editor, and every refusal told in words, with
// the page retrying only where that can help.
import type { IncomingMessage } from 'node:http'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { startServer, sleep } from '../helpers.js'
import { SECRET, sign } from '../authHelpers.js'
import type { ConcordServer, ServerOptions } from '../../server/server.js'
import { browserAvailable, closeBrowser, editorText, prepareBrowser, requireBrowserUnderCi, waitConnected } from './harness.js'

const TEXT = 'codemirror'
/// Screenshots go here (gitignored), for a person to look at.
const ARTIFACTS = 'test-artifacts/editor'
const available = browserAvailable()
requireBrowserUnderCi(available)

/// A tab with what it logged and every WebSocket it opened.
interface Tab {
  context: BrowserContext
  page: Page
  errors: string[]
  /// Console errors the browser logs for refused WebSocket upgrades (expected in these tests).
  networkErrors: string[]
  /// URLs of the WebSockets the page opened, in order.
  sockets: string[]
}

const NETWORK_ERROR = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|status of (400|401|403|429|503)/

describe.skipIf(!available)('access, share links and refusals in Chromium', () => {
  let editorDir: string
  let browser: Browser
  let server: ConcordServer | undefined
  let tabs: Tab[] = []
  /// Upgrade requests the server saw: their URL and offered subprotocols.
  let upgrades: Array<{ url: string; protocol: string | undefined }> = []

  beforeAll(async () => {
    ;({ editorDir, browser } = await prepareBrowser(ARTIFACTS))
  }, 120_000)

  afterAll(() => closeBrowser(browser, editorDir))

  afterEach(async () => {
    const errors = tabs.flatMap((t) => t.errors)
    for (const tab of tabs.splice(0)) await tab.context.close().catch(() => undefined)
    await server?.close()
    server = undefined
    expect(errors, 'console errors in the tabs').toEqual([])
  })

  async function start(options: ServerOptions = {}): Promise<string> {
    server = await startServer({ editor: true, publicDir: editorDir, ...options })
    upgrades = []
    server.http.prependListener('upgrade', (req: IncomingMessage) => {
      upgrades.push({ url: req.url ?? '', protocol: req.headers['sec-websocket-protocol'] })
    })
    return server.url.replace(/^ws:/, 'http:')
  }

  async function openPage(url: string, viewport = { width: 1280, height: 800 }): Promise<Tab> {
    const context = await browser.newContext({ viewport })
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [], networkErrors: [], sockets: [] }
    tabs.push(tab)
    page.on('console', (m) => {
      if (m.type() !== 'error') return
      if (NETWORK_ERROR.test(m.text())) tab.networkErrors.push(m.text())
      else tab.errors.push(m.text())
    })
    page.on('pageerror', (e) => tab.errors.push(`uncaught: ${e.message}`))
    page.on('websocket', (ws) => tab.sockets.push(ws.url()))
    await page.goto(url)
    return tab
  }

  const problem = (page: Page) => page.locator('#problem')
  const status = (page: Page) => page.locator('#status').getAttribute('data-status')
  const serverText = (room: string) => server?.rooms.get(room)?.document.doc.getText(TEXT).toString() ?? '<no room>'

  /// The payload of a JWT (not verified: the server does that).
  function claims(token: string): Record<string, unknown> {
    return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>
  }

  test('without a token: the page says a link is needed, stops retrying, and does not list the room', async () => {
    const http = await start({ authSecret: SECRET })
    const tab = await openPage(`${http}/r/locked-room`)
    const page = tab.page
    await problem(page).waitFor({ state: 'visible', timeout: 15_000 })
    expect(await problem(page).getAttribute('data-kind')).toBe('missing-token')
    const words = await problem(page).textContent()
    expect(words).toContain('This room needs an access link')
    expect(words).toContain('missing token')
    expect(words).toContain('stopped trying')
    await expect.poll(() => status(page)).toBe('stopped')
    expect(await page.locator('#status').textContent()).toContain('missing token')
    // It tried once (the browser sees only a failed socket), then asked the server why and
    // stopped: no further attempts, where a retry would have come within a second.
    const attempts = tab.sockets.length
    expect(attempts).toBeGreaterThanOrEqual(1)
    await sleep(4000)
    expect(tab.sockets.length, 'WebSocket attempts after the refusal was shown').toBe(attempts)
    expect(upgrades.length).toBe(attempts)
    // Nothing can be shared from here: the editor takes no edits.
    expect(await page.locator('.cm-content').getAttribute('contenteditable')).toBe('false')

    await page.screenshot({ path: `${ARTIFACTS}/refusal-missing-token-1280x800.png` })
    await page.setViewportSize({ width: 390, height: 844 })
    await sleep(150)
    expect(await page.evaluate(() => document.documentElement.scrollWidth), 'no sideways scrolling at 390 px').toBeLessThanOrEqual(390)
    await page.screenshot({ path: `${ARTIFACTS}/refusal-missing-token-390x844.png` })

    // A refused room is not added to "Rooms you opened".
    await page.goto(`${http}/`)
    await page.locator('#stored-section[data-state]').waitFor({ state: 'attached' })
    expect(await page.evaluate(() => localStorage.getItem('concord:recent-rooms'))).toBeNull()
    expect(await page.locator('#recent-section').isVisible()).toBe(false)
  })

  test('a read-only share link made by a writer: the token leaves the address bar, travels as a subprotocol, and the reader cannot edit', async () => {
    const http = await start({ authSecret: SECRET })
    const room = 'plans/q3 draft'
    const writerToken = await sign({ rooms: [room], access: 'write', sub: 'ann' }, { expiresIn: '3d' })
    const ann = await openPage(`${http}/r/${encodeURIComponent(room)}#token=${writerToken}`)
    const a = ann.page
    await waitConnected(a)
    // The token is gone from the address bar, and went to the server as a subprotocol.
    expect(a.url()).toBe(`${http}/r/${encodeURIComponent(room)}`)
    expect(ann.sockets.length).toBeGreaterThanOrEqual(1)
    for (const url of ann.sockets) expect(url).not.toContain('token')
    expect(upgrades.length).toBeGreaterThanOrEqual(1)
    for (const upgrade of upgrades) {
      expect(upgrade.url).not.toContain('token')
      expect(upgrade.protocol).toBe(writerToken)
    }
    // It is kept for the tab: a reload still gets in.
    await a.reload()
    await waitConnected(a)
    expect(await a.locator('#access-badge').isVisible()).toBe(false)
    await a.locator('.cm-content').click()
    await a.keyboard.type('Ann writes this.')
    await expect.poll(() => serverText(room)).toBe('Ann writes this.')

    // Share: read-only, for a day. The writer may also choose "can edit".
    await ann.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: http })
    await a.getByRole('button', { name: 'Share', exact: true }).click()
    const dialog = a.locator('#share-dialog')
    await dialog.waitFor({ state: 'visible' })
    expect(await a.getByLabel('Can edit').isVisible()).toBe(true)
    expect(await a.getByLabel('Read only').isChecked()).toBe(true)
    await a.getByLabel('The link works for').selectOption({ label: '1 day' })
    await a.getByRole('button', { name: 'Create link and copy' }).click()
    await expect.poll(() => a.locator('#share-link').inputValue()).toMatch(/#token=/)
    const link = await a.locator('#share-link').inputValue()
    expect(link.startsWith(`${http}/r/${encodeURIComponent(room)}#token=`)).toBe(true)
    await expect.poll(() => a.locator('#share-message').textContent()).toMatch(/^Copied to the clipboard\. People with this link can read but not edit this room until /)
    expect(await a.evaluate(() => navigator.clipboard.readText())).toBe(link)
    const readToken = decodeURIComponent(link.split('#token=')[1])
    const granted = claims(readToken)
    expect(granted.access).toBe('read')
    expect(granted.rooms).toEqual([room])
    // "1 day": the token's lifetime, from its own issue time.
    expect(Number(granted.exp) - Number(granted.iat)).toBe(86_400)
    await a.screenshot({ path: `${ARTIFACTS}/share-dialog-1280x800.png` })
    // A link cannot outlive the sharer's own access (3 days here): 30 days are cut, and it says so.
    await a.getByLabel('The link works for').selectOption({ label: '30 days' })
    await a.getByRole('button', { name: 'Create link and copy' }).click()
    await expect.poll(() => a.locator('#share-link').inputValue()).not.toBe(link)
    await expect.poll(() => a.locator('#share-message').textContent()).toMatch(/your own access ends, so the link cannot last longer\.$/)
    const capped = claims(decodeURIComponent((await a.locator('#share-link').inputValue()).split('#token=')[1]))
    expect(Math.abs(Number(capped.exp) - Number(claims(writerToken).exp))).toBeLessThanOrEqual(1)
    await a.setViewportSize({ width: 390, height: 844 })
    await sleep(150)
    const box = await dialog.boundingBox()
    expect(box && box.x >= 0 && box.x + box.width <= 390, 'the dialog fits a 390 px screen').toBe(true)
    await a.screenshot({ path: `${ARTIFACTS}/share-dialog-390x844.png` })
    await a.setViewportSize({ width: 1280, height: 800 })
    await a.getByRole('button', { name: 'Close', exact: true }).click()
    await dialog.waitFor({ state: 'hidden' })

    // The recipient: connected, read-only and told so; typing changes nothing anywhere.
    upgrades = []
    const bob = await openPage(link)
    const b = bob.page
    await waitConnected(b)
    expect(b.url()).toBe(`${http}/r/${encodeURIComponent(room)}`)
    expect(upgrades.map((u) => u.protocol)).toEqual([readToken])
    expect(await editorText(b)).toBe('Ann writes this.')
    const badge = b.locator('#access-badge')
    await badge.waitFor({ state: 'visible' })
    expect(await badge.textContent()).toBe('Read-only')
    expect(await badge.getAttribute('title')).toMatch(/read this room .* not change it/)
    await expect.poll(() => b.locator('.cm-content').getAttribute('contenteditable')).toBe('false')
    await b.locator('.cm-content').click()
    await b.keyboard.type('Bob tries to write')
    await b.keyboard.press('Enter')
    await sleep(800)
    expect(await editorText(b)).toBe('Ann writes this.')
    expect(serverText(room)).toBe('Ann writes this.')
    // Ann still edits, and Bob sees it.
    await a.locator('.cm-content').click()
    await a.keyboard.press('Control+End')
    await a.keyboard.type(' More.')
    await expect.poll(() => editorText(b)).toBe('Ann writes this. More.')

    // Bob's API calls carry his token (the History panel loads; without it: 401).
    await b.getByRole('button', { name: 'History', exact: true }).click()
    await b.waitForFunction(() => document.getElementById('history')?.dataset.loaded === 'true')
    expect(await b.locator('#history-error').textContent()).toBe('')
    // Bob may share, but only read-only.
    await b.getByRole('button', { name: 'Share', exact: true }).click()
    await b.locator('#share-dialog').waitFor({ state: 'visible' })
    expect(await b.getByLabel('Can edit').isVisible()).toBe(false)
    expect(await b.locator('#share-readonly-note').isVisible()).toBe(true)
    await b.getByRole('button', { name: 'Create link and copy' }).click()
    await expect.poll(() => b.locator('#share-link').inputValue()).toMatch(/#token=/)
    expect(claims(decodeURIComponent((await b.locator('#share-link').inputValue()).split('#token=')[1])).access).toBe('read')
    // The room was let in: listed on Bob's landing page.
    expect(await b.evaluate(() => localStorage.getItem('concord:recent-rooms'))).toBe(JSON.stringify([room]))
  })

  test('an expired link and a link for another room say so, and stop', async () => {
    const http = await start({ authSecret: SECRET })
    const expired = await sign({ rooms: ['**'], access: 'write' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })
    const one = await openPage(`${http}/r/notes#token=${expired}`)
    await problem(one.page).waitFor({ state: 'visible', timeout: 15_000 })
    expect(await problem(one.page).getAttribute('data-kind')).toBe('expired')
    expect(await problem(one.page).textContent()).toMatch(/^Your link has expired.*token expired.*Ask someone .* to send you a link/)
    expect(one.page.url()).toBe(`${http}/r/notes`)
    await expect.poll(() => status(one.page)).toBe('stopped')

    const other = await sign({ rooms: ['elsewhere/*'], access: 'write' })
    const two = await openPage(`${http}/r/notes#token=${other}`)
    await problem(two.page).waitFor({ state: 'visible', timeout: 15_000 })
    expect(await problem(two.page).getAttribute('data-kind')).toBe('wrong-room')
    expect(await problem(two.page).textContent()).toMatch(/^Your link is for another room.*does not open this room/)
    await expect.poll(() => status(two.page)).toBe('stopped')
    const attempts = two.sockets.length
    await sleep(2500)
    expect(two.sockets.length).toBe(attempts)
    await two.page.screenshot({ path: `${ARTIFACTS}/refusal-wrong-room-1280x800.png` })
  })

  test('closes after the connection opened: a token that runs out, a change too large to send', async () => {
    const http = await start({ authSecret: SECRET, maxMessageBytes: 16 * 1024 })
    const shortLived = await sign({ rooms: ['**'], access: 'write' }, { expiresIn: Math.floor(Date.now() / 1000) + 4 })
    const one = await openPage(`${http}/r/brief#token=${shortLived}`)
    await waitConnected(one.page)
    expect(await problem(one.page).isVisible()).toBe(false)
    await problem(one.page).waitFor({ state: 'visible', timeout: 15_000 })
    expect(await problem(one.page).getAttribute('data-kind')).toBe('expired')
    expect(await problem(one.page).textContent()).toMatch(/^Your link has expired.*ran out/)
    await expect.poll(() => status(one.page)).toBe('stopped')
    expect(await one.page.locator('.cm-content').getAttribute('contenteditable')).toBe('false')

    const writer = await sign({ rooms: ['**'], access: 'write' })
    const two = await openPage(`${http}/r/big#token=${writer}`)
    await waitConnected(two.page)
    await two.page.locator('.cm-content').click()
    await two.page.keyboard.insertText('x'.repeat(40_000))
    await problem(two.page).waitFor({ state: 'visible', timeout: 15_000 })
    expect(await problem(two.page).getAttribute('data-kind')).toBe('too-large')
    expect(await problem(two.page).textContent()).toMatch(/^A change was too large to send.*Undo that change/)
    expect(await two.page.getByRole('button', { name: 'Reload the page' }).isVisible()).toBe(true)
    await expect.poll(() => status(two.page)).toBe('stopped')
    const attempts = two.sockets.length
    await sleep(2000)
    expect(two.sockets.length, 'no retry after 1009').toBe(attempts)
  })

  test('a server that cannot sign share links says so in the dialog', async () => {
    const http = await start({ authenticate: () => ({ ok: true, user: 'hooked', access: 'write' }) })
    const tab = await openPage(`${http}/r/hooked`)
    await waitConnected(tab.page)
    await tab.page.getByRole('button', { name: 'Share', exact: true }).click()
    await tab.page.getByRole('button', { name: 'Create link and copy' }).click()
    await expect.poll(() => tab.page.locator('#share-error').textContent())
      .toBe('This server cannot make share links: this server authenticates with a hook: its tokens come from your application. Ask its administrator for a link instead.')
    expect(await tab.page.locator('.share-result').isVisible()).toBe(false)
    // The browser logs the 501 as a failed resource: expected here.
    tab.errors.splice(0, tab.errors.length, ...tab.errors.filter((e) => !/status of 501/.test(e)))
  })

  test('without auth, Share gives the plain link', async () => {
    const http = await start()
    const tab = await openPage(`${http}/r/open%20room`)
    await waitConnected(tab.page)
    await tab.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: http })
    await tab.page.getByRole('button', { name: 'Share', exact: true }).click()
    await tab.page.getByLabel('Can edit').check()
    await tab.page.getByRole('button', { name: 'Create link and copy' }).click()
    await expect.poll(() => tab.page.locator('#share-link').inputValue()).toBe(`${http}/r/open%20room`)
    expect(await tab.page.evaluate(() => navigator.clipboard.readText())).toBe(`${http}/r/open%20room`)
    expect(await tab.page.locator('#share-message').textContent()).toContain('the plain link is all it takes')
  })

  test('a bad room name is refused in words, in the editor and on the landing page', async () => {
    const http = await start()
    const tab = await openPage(`${http}/r/a%00b`)
    const page = tab.page
    await problem(page).waitFor({ state: 'visible' })
    expect(await problem(page).getAttribute('data-kind')).toBe('bad-room')
    expect(await problem(page).textContent()).toMatch(/^This room name cannot be used.*control characters.*choose another name/)
    expect(await page.getByRole('link', { name: 'Go to the start page' }).getAttribute('href')).toBe('/')
    await sleep(1500)
    expect(tab.sockets, 'no connection is tried for a name the server refuses').toEqual([])
    expect(await page.evaluate(() => localStorage.getItem('concord:recent-rooms'))).toBeNull()
    await page.screenshot({ path: `${ARTIFACTS}/refusal-bad-room-1280x800.png` })

    // The landing page's form catches such names before leaving the page.
    await page.goto(`${http}/`)
    const input = page.getByLabel('Room name')
    const error = page.locator('#room-error')
    await input.fill('中'.repeat(200)) // 600 bytes of UTF-8
    await page.getByRole('button', { name: 'Open room' }).click()
    await expect.poll(() => error.textContent()).toMatch(/^This name is too long: 600 bytes, and a room name may have at most 512/)
    expect(page.url()).toBe(`${http}/`)
    expect(await input.getAttribute('aria-invalid')).toBe('true')
    await page.screenshot({ path: `${ARTIFACTS}/landing-bad-name-1280x800.png` })
    await input.evaluate((el: HTMLInputElement) => { el.value = 'tab\there' })
    await page.getByRole('button', { name: 'Open room' }).click()
    await expect.poll(() => error.textContent()).toMatch(/control characters/)
    await input.fill('   ')
    expect(await error.textContent(), 'typing clears the message').toBe('')
    await page.getByRole('button', { name: 'Open room' }).click()
    await expect.poll(() => error.textContent()).toBe('Type a name for the room.')
    expect(page.url()).toBe(`${http}/`)
    // A good name still opens its room.
    await input.fill('fine name')
    await page.getByRole('button', { name: 'Open room' }).click()
    await page.waitForURL(`${http}/r/fine%20name`)
    await waitConnected(page)
  })

  test('a full room says so and keeps retrying until a place frees up', async () => {
    const http = await start({ maxConnectionsPerRoom: 1 })
    const first = await openPage(`${http}/r/crowded`)
    await waitConnected(first.page)
    const second = await openPage(`${http}/r/crowded`)
    const page = second.page
    await problem(page).waitFor({ state: 'visible', timeout: 15_000 })
    expect(await problem(page).getAttribute('data-kind')).toBe('room-full')
    expect(await problem(page).getAttribute('data-retrying')).toBe('true')
    expect(await problem(page).textContent()).toMatch(/^This room is full.*too many connections to this room.*keeps trying/)
    await expect.poll(() => page.locator('#problem-retry').textContent()).toMatch(/^Trying again/)
    await page.screenshot({ path: `${ARTIFACTS}/refusal-room-full-1280x800.png` })
    await page.setViewportSize({ width: 390, height: 844 })
    await sleep(150)
    await page.screenshot({ path: `${ARTIFACTS}/refusal-room-full-390x844.png` })
    // Retrying, with backoff: more attempts come.
    const attempts = second.sockets.length
    await expect.poll(() => second.sockets.length, { timeout: 10_000 }).toBeGreaterThan(attempts + 1)
    expect(await status(page)).not.toBe('stopped')
    // A place frees up: it gets in and the message goes.
    await first.context.close()
    tabs = tabs.filter((t) => t !== first)
    await waitConnected(page, 30_000)
    await problem(page).waitFor({ state: 'hidden' })
  })

  test('a document deleted while open says so, and Start afresh gives an empty document', async () => {
    const http = await start()
    const room = 'to be deleted'
    const tab = await openPage(`${http}/r/${encodeURIComponent(room)}`)
    const page = tab.page
    await waitConnected(page)
    await page.locator('.cm-content').click()
    await page.keyboard.type('soon gone')
    await expect.poll(() => serverText(room)).toBe('soon gone')
    await page.waitForFunction(() => document.getElementById('status')?.dataset.saved === 'true')
    const deleted = await fetch(`${http}/api/rooms/${encodeURIComponent(room)}`, { method: 'DELETE' })
    expect(deleted.status).toBe(200)
    await problem(page).waitFor({ state: 'visible', timeout: 15_000 })
    expect(await problem(page).getAttribute('data-kind')).toBe('deleted')
    expect(await problem(page).textContent()).toMatch(/^This document was deleted.*Start afresh/)
    await expect.poll(() => status(page)).toBe('stopped')
    expect(await editorText(page)).toBe('soon gone')
    await page.screenshot({ path: `${ARTIFACTS}/refusal-deleted-1280x800.png` })

    page.on('dialog', (d) => void d.accept())
    // Listening before the click: the reload may be served by the service worker at once.
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Start afresh' }).click()])
    await waitConnected(page)
    expect(await editorText(page)).toBe('')
    await page.locator('.cm-content').click()
    await page.keyboard.type('a new start')
    await expect.poll(() => serverText(room)).toBe('a new start')
    expect(await problem(page).isVisible()).toBe(false)
    // The seed of the server's view: the new document has none of the old one's content.
    const doc = new Y.Doc()
    Y.applyUpdate(doc, new Uint8Array(await (await fetch(`${http}/api/rooms/${encodeURIComponent(room)}/update`)).arrayBuffer()))
    expect(doc.getText(TEXT).toString()).toBe('a new start')
  })
})
