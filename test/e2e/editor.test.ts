// The collaborative editor in real Chromium tabs, served by a real Concord server.
import { mkdirSync } from 'node:fs'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { startServer, sleep, waitFor as waitUntil } from '../helpers.js'
import type { ConcordServer } from '../../server/server.js'
import { memoryStorage } from '../../server/storage/memory.js'
import type { Storage } from '../../server/storage/types.js'
import {
  browserAvailable, closeBrowser, editorText, openTab, placeCursor, prepareBrowser, requireBrowserUnderCi, waitConnected, type Tab,
} from './harness.js'
import { mulberry32 as seeded } from '../random.js'

const TEXT = 'codemirror'
const available = browserAvailable()
requireBrowserUnderCi(available)

describe.skipIf(!available)('collaborative editor in Chromium', () => {
  let editorDir: string
  let browser: Browser
  let server: ConcordServer
  let tabs: Tab[] = []
  /// Set by a test that stops the server: the browser then logs refused connections itself.
  let serverGoesDown = false

  beforeAll(async () => {
    ;({ editorDir, browser } = await prepareBrowser())
  }, 120_000)

  afterAll(() => closeBrowser(browser, editorDir))

  afterEach(async () => {
    const errors = tabs.flatMap((t) => (serverGoesDown ? t.errors : [...t.errors, ...t.networkErrors]))
    serverGoesDown = false
    for (const tab of tabs.splice(0)) await tab.context.close().catch(() => undefined)
    await server?.close()
    expect(errors, 'console errors in the tabs').toEqual([])
  })

  async function start(store?: Storage, port = 0): Promise<string> {
    server = await startServer({ editor: true, publicDir: editorDir, port, ...(store ? { store } : {}) })
    return server.url.replace(/^ws:/, 'http:')
  }

  async function open(http: string, room: string, name?: string, color?: string): Promise<Tab> {
    const tab = await openTab(browser, http, room, name, color)
    tabs.push(tab)
    return tab
  }

  const serverText = (room: string): string => server.rooms.get(room)?.document.doc.getText(TEXT).toString() ?? '<no room>'

  /// Wait until every tab and the server hold the same text; returns it.
  async function converged(room: string, pages: Page[], timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    let texts: string[] = []
    while (Date.now() < deadline) {
      texts = await Promise.all(pages.map(editorText))
      if (texts.every((t) => t === texts[0]) && serverText(room) === texts[0]) return texts[0]
      await sleep(100)
    }
    throw new Error(`no convergence: tabs ${JSON.stringify(texts.map((t) => t.length))}, server ${serverText(room).length}`)
  }

  const isSaved = (page: Page) => page.evaluate(() => document.getElementById('status')?.dataset.saved === 'true')

  test('three tabs typing at random positions at once converge with the server', async () => {
    const http = await start()
    const room = 'race'
    const all = [await open(http, room), await open(http, room), await open(http, room)]
    // Each tab types its own letters, so every keystroke can be accounted for afterwards.
    const alphabets = ['abcdefgh', 'ijklmnop', 'qrstuvwx']
    const typed = [0, 0, 0]
    let enters = 0
    await Promise.all(all.map(async (tab, i) => {
      const random = seeded(1000 + i)
      for (let round = 0; round < 18; round++) {
        const length = (await editorText(tab.page)).length
        await placeCursor(tab.page, Math.floor(random() * (length + 1)))
        let word = ''
        for (let k = 4 + Math.floor(random() * 6); k > 0; k--) word += alphabets[i][Math.floor(random() * 8)]
        await tab.page.keyboard.type(word)
        typed[i] += word.length
        if (random() < 0.2) {
          await tab.page.keyboard.press('Enter')
          enters++
        }
      }
    }))
    expect(typed.reduce((a, b) => a + b) + enters).toBeGreaterThanOrEqual(300)
    console.info(`keystrokes typed concurrently: ${typed.join(' + ')} letters, ${enters} Enter`)
    const text = await converged(room, all.map((t) => t.page))
    alphabets.forEach((alphabet, i) => {
      expect([...text].filter((c) => alphabet.includes(c)).length, `letters of tab ${i}`).toBe(typed[i])
    })
    expect([...text].filter((c) => c === '\n').length).toBe(enters)
    for (const tab of all) await tab.page.waitForFunction(() => document.getElementById('status')?.dataset.saved === 'true')
  })

  test('a tab sees another tab\'s cursor with its name, and loses it within 2 s of that tab closing', async () => {
    const http = await start()
    const room = 'cursors'
    const ann = await open(http, room, 'Ann', '#d7263d')
    const bob = await open(http, room, 'Bob', '#2e86ab')
    await ann.page.keyboard.type('Ann writes the first line.\nAnd a second one.')
    await converged(room, [ann.page, bob.page])
    await placeCursor(bob.page, 10)
    await bob.page.keyboard.press('Shift+ArrowRight')
    await bob.page.keyboard.press('Shift+ArrowRight')
    await bob.page.keyboard.press('Shift+ArrowRight')
    await placeCursor(ann.page, 40)

    const bobCaret = ann.page.locator('.cm-ySelectionCaret', { hasText: 'Bob' })
    await bobCaret.waitFor({ timeout: 10_000 })
    expect(await bobCaret.getAttribute('style')).toMatch(/rgb\(46, 134, 171\)|#2e86ab/i)
    await expect.poll(() => ann.page.locator('.cm-ySelection').count()).toBeGreaterThan(0)
    await bob.page.locator('.cm-ySelectionCaret', { hasText: 'Ann' }).waitFor({ timeout: 10_000 })
    expect(await ann.page.locator('#people li').allTextContents()).toEqual(['Ann (you)', 'Bob'])
    expect(await ann.page.locator('#status').getAttribute('data-peers')).toBe('1')

    await saveSideBySide([ann.page, bob.page], 'test-artifacts/editor-remote-cursors.png')

    tabs = tabs.filter((t) => t !== bob)
    await bob.context.close()
    // Removed when the tab's socket closes, not after y-protocols' 30 s timeout.
    await bobCaret.waitFor({ state: 'detached', timeout: 15_000 })
    await expect.poll(() => ann.page.locator('#people li').allTextContents()).toEqual(['Ann (you)'])
    expect(bob.errors).toEqual([])
  })

  test('undo in one tab removes only that tab\'s last edit', async () => {
    const http = await start()
    const room = 'undo'
    const ann = await open(http, room, 'Ann', '#d7263d')
    const bob = await open(http, room, 'Bob', '#2e86ab')
    await placeCursor(ann.page, 0)
    await ann.page.keyboard.insertText('alpha ')
    await sleep(700) // longer than the undo manager's capture window: a separate undo step
    await ann.page.keyboard.insertText('beta ')
    await converged(room, [ann.page, bob.page])
    await placeCursor(bob.page, 0)
    await bob.page.keyboard.insertText('gamma ')
    expect(await converged(room, [ann.page, bob.page])).toBe('gamma alpha beta ')

    await ann.page.keyboard.press('Control+z')
    expect(await converged(room, [ann.page, bob.page])).toBe('gamma alpha ')
    await ann.page.keyboard.press('Control+z')
    expect(await converged(room, [ann.page, bob.page])).toBe('gamma ')
    // Nothing of Ann's is left to undo: another undo must not touch Bob's text.
    await ann.page.keyboard.press('Control+z')
    await sleep(300)
    expect(await converged(room, [ann.page, bob.page])).toBe('gamma ')
    // Shift+Z as a real keyboard sends it (Playwright's "Shift+z" would send a lowercase key).
    await ann.page.keyboard.press('Control+Shift+Z')
    expect(await converged(room, [ann.page, bob.page])).toBe('gamma alpha ')
    await ann.page.keyboard.press('Control+y')
    expect(await converged(room, [ann.page, bob.page])).toBe('gamma alpha beta ')
    await bob.page.keyboard.press('Control+z')
    expect(await converged(room, [ann.page, bob.page])).toBe('alpha beta ')
  })

  test('tabs keep typing through a server restart, reconnect by themselves, and lose nothing', async () => {
    serverGoesDown = true
    const store = memoryStorage()
    const http = await start(store)
    const port = Number(new URL(http).port)
    const room = 'restart'
    const all = [await open(http, room), await open(http, room), await open(http, room)]

    // Every tab types in the background for the whole test, at random positions. Once the
    // server is down, each tab also types a marker of its own, while it is offline.
    let typing = true
    let serverDown = false
    const markers = all.map((_, i) => `<offline-${i}>`)
    const markerTyped = all.map(() => false)
    const statusWhenTyped: Array<string | null> = all.map(() => null)
    const loops = all.map(async (tab, i) => {
      const random = seeded(7 + i)
      while (typing) {
        if (serverDown && !markerTyped[i]) {
          statusWhenTyped[i] = await tab.page.locator('#status').getAttribute('data-status')
          await placeCursor(tab.page, 0)
          await tab.page.keyboard.type(markers[i])
          markerTyped[i] = true
          continue
        }
        const length = (await editorText(tab.page)).length
        await placeCursor(tab.page, Math.floor(random() * (length + 1)))
        await tab.page.keyboard.type('xyz'[i].repeat(1 + Math.floor(random() * 3)))
        await sleep(30)
      }
    })
    await sleep(1500)
    await server.close()
    for (const tab of all) {
      await tab.page.waitForFunction(() => document.getElementById('status')?.dataset.status !== 'connected')
    }
    serverDown = true
    await waitUntil(() => markerTyped.every(Boolean), 'offline markers', 20_000)
    for (const tab of all) expect(await isSaved(tab.page)).toBe(false)
    expect(statusWhenTyped.filter((s) => s === 'connected')).toEqual([])
    await sleep(500)
    await start(store, port)
    for (const tab of all) await waitConnected(tab.page)
    console.info(`browser-logged network errors while the server was down: ${all.map((t) => t.networkErrors.length).join(', ')}`)
    await sleep(1000)
    typing = false
    await Promise.all(loops)

    const text = await converged(room, all.map((t) => t.page))
    // Typing went on after the markers, at random positions, perhaps inside them: the
    // background letters (x, y, z) are set aside before looking for each marker whole.
    for (const marker of markers) expect(text.replace(/[xyz]/g, '')).toContain(marker)
    for (const tab of all) await tab.page.waitForFunction(() => document.getElementById('status')?.dataset.saved === 'true')
    // What the tabs call saved is in the store: a document rebuilt from it holds the same text.
    const stored = new Y.Doc()
    for (const update of await store.load(room)) Y.applyUpdate(stored, update)
    expect(stored.getText(TEXT).toString()).toBe(text)
    stored.destroy()
  })

  test('the landing page opens a room by keyboard, and a name set once is remembered', async () => {
    const http = await start()
    const context = await browser.newContext()
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [], networkErrors: [] }
    tabs.push(tab)
    page.on('console', (m) => { if (m.type() === 'error') tab.errors.push(m.text()) })
    page.on('pageerror', (e) => tab.errors.push(e.message))
    await page.goto(http + '/')
    await page.getByLabel('Room name').fill('team notes/monday')
    await page.keyboard.press('Enter')
    await page.waitForURL(`${http}/r/${encodeURIComponent('team notes/monday')}`)
    await waitConnected(page)
    expect(await page.locator('#room-name').textContent()).toBe('team notes/monday')
    expect(server.rooms.get('team notes/monday')).toBeDefined()

    await page.getByLabel('Your name').fill('Zoë')
    await page.keyboard.press('Enter') // back into the editor
    await page.keyboard.type('hi')
    const other = await open(http, 'team notes/monday')
    await expect.poll(() => other.page.locator('#people li').allTextContents()).toContain('Zoë')
    await page.getByLabel('Your colour').fill('#7b2cbf')
    const swatch = other.page.locator('#people li', { hasText: 'Zoë' }).locator('.swatch')
    await expect.poll(() => swatch.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(123, 44, 191)')
    expect(await page.getByRole('button', { name: 'Undo' }).isEnabled()).toBe(true)
    await page.reload()
    await waitConnected(page)
    expect(await page.getByLabel('Your name').inputValue()).toBe('Zoë')
    await page.goto(http + '/')
    expect(await page.getByRole('link', { name: 'team notes/monday' }).count()).toBe(1)
  })
})

/// Save screenshots of tabs side by side in one image, by laying them out in a blank page.
async function saveSideBySide(pages: Page[], path: string): Promise<void> {
  mkdirSync('test-artifacts', { recursive: true })
  const shots = await Promise.all(pages.map((p) => p.screenshot()))
  const context = pages[0].context()
  const sheet = await context.newPage()
  await sheet.setContent(
    '<body style="margin:0;display:flex;gap:16px;padding:16px;background:#8a8f98;width:max-content">' +
      shots.map((s) => `<img style="flex:none" src="data:image/png;base64,${s.toString('base64')}">`).join('') + '</body>',
  )
  await sheet.screenshot({ path, fullPage: true })
  await sheet.close()
}
