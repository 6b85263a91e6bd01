// The editor's History panel and the landing page's room list, in real Chromium tabs served
// by a real Concord server: naming a version, opening it compared with the live document,
// restoring it in every tab, and what a read-only user is told.
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { startServer, sleep } from '../helpers.js'
import type { ConcordServer, ServerOptions } from '../../server/server.js'
import { memoryStorage } from '../../server/storage/memory.js'
import {
  browserAvailable, closeBrowser, editorText, endTest, openTab, placeCursor, prepareBrowser, requireBrowserUnderCi, type Tab,
} from './harness.js'

const TEXT = 'codemirror'
/// Screenshots go here (gitignored), for a person to look at.
const ARTIFACTS = 'test-artifacts/history'
const available = browserAvailable()
requireBrowserUnderCi(available)

describe.skipIf(!available)('history panel and room list in Chromium', () => {
  let editorDir: string
  let browser: Browser
  let server: ConcordServer | undefined
  let tabs: Tab[] = []

  beforeAll(async () => {
    ;({ editorDir, browser } = await prepareBrowser(ARTIFACTS))
  }, 120_000)

  afterAll(() => closeBrowser(browser, editorDir))

  afterEach(async () => {
    await endTest(tabs, server)
    server = undefined
  })

  async function start(options: ServerOptions = {}): Promise<string> {
    // No automatic versions: the only ones are those the test makes.
    server = await startServer({ editor: true, publicDir: editorDir, versionAfterQuietMs: 0, ...options })
    return server.url.replace(/^ws:/, 'http:')
  }

  async function open(http: string, room: string, name?: string, color?: string): Promise<Tab> {
    const tab = await openTab(browser, http, room, name, color)
    tabs.push(tab)
    return tab
  }

  /// A plain page (the landing page), recording console errors like the tabs.
  async function openPage(url: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 900, height: 700 } })
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [], networkErrors: [] }
    tabs.push(tab)
    page.on('console', (m) => { if (m.type() === 'error') tab.errors.push(m.text()) })
    page.on('pageerror', (e) => tab.errors.push(`uncaught: ${e.message}`))
    await page.goto(url)
    return page
  }

  async function textIs(page: Page, expected: string, timeoutMs = 15_000): Promise<void> {
    await expect.poll(() => editorText(page), { timeout: timeoutMs }).toBe(expected)
  }

  const saved = (page: Page) => page.waitForFunction(() => document.getElementById('status')?.dataset.saved === 'true')

  test('name a version, open it against the live text, restore it in every tab; the landing page lists the room', async () => {
    // A store that logs every update (not --storage memory's, which writes when a room
    // unloads), so the room list has sizes to show.
    const http = await start({ store: memoryStorage() })
    const room = 'notes/history & more'
    const api = `${http}/api/rooms/${encodeURIComponent(room)}`

    // Another room, changed before ours: the landing page must list ours first.
    const older = new Y.Doc()
    older.getText(TEXT).insert(0, 'an older room')
    const posted = await fetch(`${http}/api/rooms/${encodeURIComponent('older room')}/update`, {
      method: 'POST', body: Buffer.from(Y.encodeStateAsUpdate(older)), headers: { 'content-type': 'application/octet-stream' },
    })
    expect(posted.status).toBe(200)
    await sleep(20)

    const ann = await open(http, room, 'Ann', '#d7263d')
    const bob = await open(http, room, 'Bob', '#2e86ab')
    const a = ann.page
    await a.keyboard.type('first draft')
    await textIs(bob.page, 'first draft')
    await saved(a)

    // History → Name this version "v1".
    const toggle = a.getByRole('button', { name: 'History', exact: true })
    expect(await toggle.getAttribute('aria-expanded')).toBe('false')
    expect(await a.locator('#history').isVisible()).toBe(false)
    await toggle.click()
    expect(await toggle.getAttribute('aria-expanded')).toBe('true')
    await a.locator('#history').waitFor({ state: 'visible' })
    await a.waitForFunction(() => document.getElementById('history')?.dataset.loaded === 'true')
    expect(await a.locator('#versions li').count()).toBe(0)
    expect(await a.locator('#versions-empty').isVisible()).toBe(true)

    const nameButton = a.getByRole('button', { name: 'Name this version' })
    await nameButton.click()
    expect(await nameButton.isDisabled(), 'Name this version while its form is open').toBe(true)
    await a.getByLabel('Name of this version').fill('v1')
    await a.getByRole('button', { name: 'Save', exact: true }).click()
    const v1 = a.locator('#versions li', { hasText: 'v1' })
    await v1.waitFor({ timeout: 10_000 })
    expect(await nameButton.isEnabled()).toBe(true)
    expect(await a.locator('#history-message').textContent()).toBe('Saved “v1”.')
    expect(await v1.locator('.version-title').textContent()).toBe('v1')
    expect(await v1.locator('.version-authors').textContent()).toBe('By Ann')
    expect(await v1.locator('time').textContent()).toBe('just now')
    const v1When = v1.locator('time')
    expect(await v1When.getAttribute('title')).toMatch(/\d/)
    const v1Id = Number(await v1.getAttribute('data-id'))
    expect(v1Id).toBeGreaterThan(0)
    // The server holds it too, with that label; the time shown is the version's own.
    const listed = (await (await fetch(`${api}/versions`)).json()) as { versions: Array<{ id: number; label: string | null; createdAt: number }> }
    expect(listed.versions.map((v) => [v.id, v.label])).toEqual([[v1Id, 'v1']])
    expect(Date.parse((await v1When.getAttribute('datetime')) ?? '')).toBe(listed.versions[0].createdAt)

    // Bob rewrites the text.
    await placeCursor(bob.page, 0)
    await bob.page.keyboard.press('Control+a')
    await bob.page.keyboard.type('second thoughts by Bob\nand a new line')
    await textIs(a, 'second thoughts by Bob\nand a new line')
    await saved(bob.page)

    // Open v1 in Ann's tab: v1's text, read-only, with the live text's lines shown removed.
    await v1.getByRole('button', { name: /^Open/ }).click()
    const pane = a.locator('#version-view')
    await pane.waitFor({ state: 'visible' })
    expect(await a.locator('#editor').isVisible()).toBe(false)
    expect(await pane.locator('#version-heading').textContent()).toBe('v1')
    const removed = pane.locator('.cm-deletedChunk')
    await removed.first().waitFor({ state: 'visible', timeout: 10_000 })
    expect(await removed.first().textContent()).toContain('second thoughts by Bob')
    expect(await removed.first().textContent()).toContain('and a new line')
    const added = pane.locator('.cm-changedLine')
    await added.first().waitFor({ state: 'visible' })
    expect(await added.allTextContents()).toEqual(['first draft'])
    expect(await pane.locator('.cm-content').getAttribute('contenteditable')).toBe('false')
    expect(await v1.getAttribute('aria-current')).toBe('true')
    const restore = a.getByRole('button', { name: 'Restore this version' })
    expect(await restore.isEnabled()).toBe(true)

    // The comparison follows the live document while the version is open.
    await placeCursor(bob.page, 1000)
    await bob.page.keyboard.type('!!')
    await expect.poll(() => removed.first().textContent(), { timeout: 10_000 }).toContain('and a new line!!')
    await saved(bob.page)

    // Screenshots of the panel with the version open, wide and narrow.
    await a.setViewportSize({ width: 1280, height: 800 })
    await sleep(150)
    const wide = { panel: await a.locator('#history').boundingBox(), doc: await pane.boundingBox() }
    expect(wide.panel && wide.doc && wide.panel.x >= wide.doc.x + wide.doc.width - 1, 'panel beside the document at 1280 px').toBe(true)
    await a.screenshot({ path: `${ARTIFACTS}/history-1280x800.png` })
    await a.setViewportSize({ width: 390, height: 844 })
    await sleep(150)
    const narrow = { panel: await a.locator('#history').boundingBox(), doc: await pane.boundingBox() }
    expect(narrow.panel && narrow.doc && narrow.panel.y >= narrow.doc.y + narrow.doc.height - 1, 'panel below the document at 390 px').toBe(true)
    expect(narrow.panel!.width).toBeGreaterThan(380)
    expect(await a.evaluate(() => document.documentElement.scrollWidth), 'no sideways scrolling at 390 px').toBeLessThanOrEqual(390)
    await a.screenshot({ path: `${ARTIFACTS}/history-390x844.png`, fullPage: true })
    await a.setViewportSize({ width: 1280, height: 800 })

    // Restore: both tabs and the server hold v1's text again.
    await restore.click()
    await textIs(a, 'first draft')
    await textIs(bob.page, 'first draft')
    expect(await (await fetch(`${api}/text`)).text()).toBe('first draft')
    await pane.waitFor({ state: 'hidden' })
    expect(await a.locator('#editor').isVisible()).toBe(true)
    const before = a.locator('#versions li', { hasText: `Before restoring version ${v1Id}` })
    await before.waitFor({ timeout: 10_000 })
    expect(await before.locator('.version-authors').textContent()).toBe('By Bob')
    expect(await a.locator('#history-message').textContent())
      .toBe(`Restored “v1”. The text from before is kept as “Before restoring version ${v1Id}”.`)
    // Newest first: the version taken before the restore, then v1.
    expect(await a.locator('#versions li .version-title').allTextContents()).toEqual([`Before restoring version ${v1Id}`, 'v1'])
    await a.screenshot({ path: `${ARTIFACTS}/history-after-restore-1280x800.png` })

    // The restored text is an ordinary edit: Ann can type on after it.
    await placeCursor(a, 1000)
    await a.keyboard.type(', again')
    await textIs(bob.page, 'first draft, again')

    // The landing page lists both rooms, most recently changed first, with time and size.
    const landing = await openPage(http + '/')
    await landing.locator('#stored-section[data-state="loaded"]').waitFor({ state: 'visible', timeout: 10_000 })
    const names = await landing.locator('#stored li a').allTextContents()
    expect(names).toEqual([room, 'older room'])
    const ours = landing.locator('#stored li', { hasText: room })
    expect(await ours.locator('.room-facts').textContent()).toMatch(/^changed just now · [1-9]\d*(\.\d)? (B|KB) · 2 people here now$/)
    expect(await ours.locator('a').getAttribute('href')).toBe(`/r/${encodeURIComponent(room)}`)
    // "Rooms you opened" stays (this browser profile opened none).
    expect(await landing.locator('#recent-section').isVisible()).toBe(false)
    await landing.screenshot({ path: `${ARTIFACTS}/landing-900.png`, fullPage: true })
    // Where this browser opened the room before, it is listed once, under "Rooms you opened",
    // with the server's facts; the others follow.
    const annLanding = await ann.context.newPage()
    await annLanding.goto(http + '/')
    await annLanding.locator('#stored-section[data-state="loaded"]').waitFor({ state: 'visible', timeout: 10_000 })
    expect(await annLanding.locator('#recent li a').allTextContents()).toEqual([room])
    expect(await annLanding.locator('#recent li .room-facts').textContent()).toMatch(/^changed just now · [1-9]/)
    expect(await annLanding.locator('#stored-heading').textContent()).toBe('Other rooms on this server')
    expect(await annLanding.locator('#stored li a').allTextContents()).toEqual(['older room'])
    await annLanding.screenshot({ path: `${ARTIFACTS}/landing-opened-before-900.png`, fullPage: true })
    await annLanding.close()
    await ours.locator('a').click()
    await landing.waitForURL(`${http}/r/${encodeURIComponent(room)}`)
    await textIs(landing, 'first draft, again')
  })

  test('read-only: versions open, naming and restoring are off or refused in words; no room list', async () => {
    const store = memoryStorage()
    // Two rooms with the same stored text and one named version: in "read only" the user
    // reads everywhere; in "api refuses" the editor may write but the HTTP API only read
    // (as with tokens of different grants), so the page's requests get the server's 403.
    for (const room of ['read only', 'api refuses']) {
      const doc = new Y.Doc()
      doc.getText(TEXT).insert(0, 'the stored text')
      const old = Y.encodeStateAsUpdate(doc)
      doc.getText(TEXT).insert(0, 'now ')
      await store.append([{ room, update: Y.encodeStateAsUpdate(doc), author: 'writer' }])
      expect(await store.addVersion(room, { update: old, label: 'Draft', authors: ['writer'], onlyIfChanged: false })).not.toBeNull()
    }
    const http = await start({
      store,
      authenticate: (req, name) => {
        if (name === '**') return { ok: false, status: 403, reason: 'listing rooms is not allowed' }
        const write = name === 'api refuses' && !req.url?.startsWith('/api/')
        return { ok: true, user: 'reader', access: write ? 'write' : 'read' }
      },
    })

    // Read-only in the editor: the panel says so, and its buttons are disabled.
    const reader = (await open(http, 'read only', 'Rea')).page
    expect(await editorText(reader)).toBe('now the stored text')
    await reader.getByRole('button', { name: 'History', exact: true }).click()
    await reader.locator('#versions li', { hasText: 'Draft' }).waitFor()
    await expect.poll(() => reader.getByRole('button', { name: 'Name this version' }).isDisabled()).toBe(true)
    expect(await reader.locator('#history-readonly').textContent()).toMatch(/^You can look at versions, but not name or restore them \(.+\)\.$/)
    await reader.locator('#versions li', { hasText: 'Draft' }).getByRole('button', { name: /^Open/ }).click()
    await reader.locator('#version-view .cm-deletedChunk').first().waitFor({ state: 'visible' })
    expect(await reader.getByRole('button', { name: 'Restore this version' }).isDisabled()).toBe(true)
    // A disabled button looks disabled: greyed, dashed border.
    expect(await reader.getByRole('button', { name: 'Restore this version' }).evaluate((el) => getComputedStyle(el).borderStyle)).toBe('dashed')

    // The API refuses what the editor allowed: the panel gives the server's reason.
    const tab = await open(http, 'api refuses', 'Rea')
    const page = tab.page
    await page.getByRole('button', { name: 'History', exact: true }).click()
    const draft = page.locator('#versions li', { hasText: 'Draft' })
    await draft.waitFor()
    expect(await draft.locator('.version-authors').textContent()).toBe('By writer')
    await page.getByRole('button', { name: 'Name this version' }).click()
    await page.getByLabel('Name of this version').fill('mine')
    await page.getByRole('button', { name: 'Save', exact: true }).click()
    await expect.poll(() => page.locator('#history-error').textContent())
      .toBe('Could not name the version: read-only access: this token cannot change documents (403).')
    expect(await page.locator('#history-error').isVisible()).toBe(true)
    await page.getByRole('button', { name: 'Cancel' }).click()

    await draft.getByRole('button', { name: /^Open/ }).click()
    await page.locator('#version-view .cm-deletedChunk').first().waitFor({ state: 'visible' })
    expect(await page.locator('#version-view .cm-deletedChunk').first().textContent()).toContain('now')
    await page.getByRole('button', { name: 'Restore this version' }).click()
    await expect.poll(() => page.locator('#version-error').textContent())
      .toBe('Could not restore this version: read-only access: this token cannot change documents (403).')
    expect(await editorText(page)).toBe('now the stored text')
    await page.screenshot({ path: `${ARTIFACTS}/history-refused-900.png` })
    await page.getByRole('button', { name: 'Back to the live document' }).click()
    expect(await page.locator('#editor').isVisible()).toBe(true)

    // The landing page: the server refuses the list, so none is shown.
    const landing = await openPage(http + '/')
    await landing.locator('#stored-section[data-state="refused"]').waitFor({ state: 'attached', timeout: 10_000 })
    expect(await landing.locator('#stored-section').isVisible()).toBe(false)
    // The browser logs each 403 answer as a failed resource: expected here, and only those.
    for (const t of tabs) t.errors.splice(0, t.errors.length, ...t.errors.filter((e) => !/status of 403/.test(e)))
  })
})
