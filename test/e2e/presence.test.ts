// Presence in real Chromium tabs served by a real Concord server: a rename shows on the
// other tabs' cursor labels at once, one person's tabs are one entry of the people list,
// twelve people get twelve colours; and the page on a phone-sized screen, with screenshots
// at 1280×800 and 390×844 in test-artifacts/editor/ for a person to look at.
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { startServer } from '../helpers.js'
import type { ConcordServer } from '../../server/server.js'
import { PALETTE } from '../../editor/presence/user.js'
import {
  browserAvailable, closeBrowser, editorText, endTest, openTab, placeCursor, prepareBrowser, requireBrowserUnderCi, waitConnected, type Tab,
} from './harness.js'

const ARTIFACTS = 'test-artifacts/editor'
const available = browserAvailable()
requireBrowserUnderCi(available)

type Concord = { concord: { awareness: { getStates(): Map<number, { user?: { color?: string; name?: string } }> } } }

describe.skipIf(!available)('presence and small screens in Chromium', () => {
  let editorDir: string
  let browser: Browser
  let server: ConcordServer | undefined
  let http = ''
  let tabs: Tab[] = []

  beforeAll(async () => {
    ;({ editorDir, browser } = await prepareBrowser(ARTIFACTS))
  }, 120_000)

  afterAll(() => closeBrowser(browser, editorDir))

  afterEach(async () => {
    await endTest(tabs, server)
    server = undefined
  })

  async function start(): Promise<void> {
    server = await startServer({ editor: true, publicDir: editorDir })
    http = server.url.replace(/^ws:/, 'http:')
  }

  async function open(room: string, name?: string, color?: string): Promise<Tab> {
    const tab = await openTab(browser, http, room, name, color)
    tabs.push(tab)
    return tab
  }

  /// Another tab in an existing browser context (same localStorage: the same browser).
  async function openInContext(context: BrowserContext, room: string): Promise<Tab> {
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [], networkErrors: [] }
    page.on('console', (m) => { if (m.type() === 'error') tab.errors.push(m.text()) })
    page.on('pageerror', (e) => tab.errors.push(`uncaught: ${e.message}`))
    await page.goto(`${http}/r/${encodeURIComponent(room)}`)
    await waitConnected(page)
    tabs.push(tab)
    return tab
  }

  const peopleList = (page: Page) => page.locator('#people li').allTextContents()

  test('a rename shows at once on the cursor label other tabs draw', async () => {
    await start()
    const ann = await open('rename', 'Ann', '#d7263d')
    const bob = await open('rename', 'Bob', '#2e86ab')
    await ann.page.keyboard.type('Some shared text for the cursors to sit in.')
    await expect.poll(() => editorText(bob.page)).toBe('Some shared text for the cursors to sit in.')
    await placeCursor(bob.page, 5)
    await placeCursor(ann.page, 30)
    const labelsInAnn = ann.page.locator('.cm-ySelectionInfo')
    await expect.poll(() => labelsInAnn.allTextContents()).toEqual(['Bob'])

    // Bob renames himself: the name field, as a person would (the editor loses focus, the
    // cursor stays where it was). The colour does not change, so only the name can redraw.
    await bob.page.getByLabel('Your name').fill('Robert')
    await expect.poll(() => labelsInAnn.allTextContents(), { timeout: 3000 }).toEqual(['Robert'])
    expect(await ann.page.locator('.cm-ySelectionCaret').getAttribute('style')).toMatch(/rgb\(46, 134, 171\)|#2e86ab/i)
    expect(await peopleList(ann.page)).toEqual(['Ann (you)', 'Robert'])

    // And back, character by character.
    await bob.page.getByLabel('Your name').fill('')
    await bob.page.getByLabel('Your name').type('Bobby')
    await expect.poll(() => labelsInAnn.allTextContents(), { timeout: 3000 }).toEqual(['Bobby'])

    await ann.page.setViewportSize({ width: 1280, height: 800 })
    await bob.page.getByLabel('Your colour').fill('#7b2cbf')
    await placeCursor(bob.page, 10)
    await bob.page.keyboard.press('Shift+ArrowRight')
    await bob.page.keyboard.press('Shift+ArrowRight')
    await expect.poll(() => ann.page.locator('.cm-ySelectionCaret').getAttribute('style')).toMatch(/rgb\(123, 44, 191\)|#7b2cbf/i)
    await ann.page.screenshot({ path: `${ARTIFACTS}/presence-desktop.png` })
  })

  test('one person\'s tabs are one entry of the people list, and follow each other\'s rename', async () => {
    await start()
    const ada = await open('tabs', 'Ada', '#c2185b')
    const adaAgain = await openInContext(ada.context, 'tabs')
    const bob = await open('tabs', 'Bob', '#2e86ab')
    await expect.poll(() => peopleList(bob.page)).toEqual(['Bob (you)', 'Ada · 2 tabs'])
    expect(await peopleList(ada.page)).toEqual(['Ada (you) · 2 tabs', 'Bob'])
    await expect.poll(() => peopleList(adaAgain.page)).toEqual(['Ada (you) · 2 tabs', 'Bob'])
    // Two tabs, one person: the status line counts people.
    await expect.poll(() => bob.page.locator('#status').textContent()).toMatch(/· 1 other person ·/)
    expect(await bob.page.locator('#status').getAttribute('data-peers')).toBe('2')

    // Three tabs.
    const third = await openInContext(ada.context, 'tabs')
    await expect.poll(() => peopleList(bob.page)).toEqual(['Bob (you)', 'Ada · 3 tabs'])
    await third.page.close()
    await expect.poll(() => peopleList(bob.page)).toEqual(['Bob (you)', 'Ada · 2 tabs'])

    // A rename in one tab is taken up by the person's other tab: still one entry.
    await ada.page.getByLabel('Your name').fill('Ada Lovelace')
    await expect.poll(() => adaAgain.page.getByLabel('Your name').inputValue()).toBe('Ada Lovelace')
    await expect.poll(() => peopleList(bob.page)).toEqual(['Bob (you)', 'Ada Lovelace · 2 tabs'])
  })

  test('twelve people in a room get twelve different colours, though all start with the same', async () => {
    await start()
    const room = 'twelve'
    const all: Tab[] = []
    // Everyone has the same colour remembered: without the choice of a free one, every
    // cursor would be green.
    for (let i = 0; i < 12; i++) all.push(await open(room, `Person ${i + 1}`, '#2f9e44'))
    const colours = async (page: Page) => page.evaluate(() => {
      const states = (window as unknown as Concord).concord.awareness.getStates()
      return [...states.values()].map((s) => s.user?.color ?? '')
    })
    await expect.poll(async () => new Set(await colours(all[0].page)).size, { timeout: 20_000 }).toBe(12)
    for (const tab of all) {
      const seen = await colours(tab.page)
      expect(seen.length).toBe(12)
      expect(new Set(seen).size).toBe(12)
    }
    const own = await Promise.all(all.map((t) => t.page.getByLabel('Your colour').inputValue()))
    expect(new Set(own).size).toBe(12)
    for (const colour of own) expect(PALETTE).toContain(colour)
    // The people list shows them all, each with its own swatch.
    const swatches = await all[0].page.locator('#people .swatch').evaluateAll((els) => els.map((el) => getComputedStyle(el).backgroundColor))
    expect(swatches.length).toBe(12)
    expect(new Set(swatches).size).toBe(12)
    // Not the tabs' own pick: a remembered colour is kept when it is free.
    expect(own).toContain('#2f9e44')
  }, 120_000)

  test('on a phone the text takes the width, the header two rows, the people list and other buttons fold away', async () => {
    await start()
    const room = 'A very long room name that goes on and on: the quarterly planning notes of the whole team, 2025'
    const bob = await open(room, 'Bob', '#2e86ab')
    await bob.page.keyboard.type('Bob is here too.')
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    await context.addInitScript(() => localStorage.setItem('concord:user', JSON.stringify({ name: 'Ann', color: '#d7263d' })))
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [], networkErrors: [] }
    tabs.push(tab)
    page.on('console', (m) => { if (m.type() === 'error') tab.errors.push(m.text()) })
    page.on('pageerror', (e) => tab.errors.push(`uncaught: ${e.message}`))
    await page.goto(`${http}/r/${encodeURIComponent(room)}`)
    await waitConnected(page)
    await expect.poll(() => editorText(page)).toBe('Bob is here too.')
    await placeCursor(page, 4)

    const box = async (selector: string) => (await page.locator(selector).boundingBox())!
    // The room name is cut with an ellipsis and has the full name as its title.
    const name = page.locator('#room-name')
    expect(await name.getAttribute('title')).toBe(room)
    expect(await name.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true)
    expect(await name.evaluate((el) => getComputedStyle(el).textOverflow)).toBe('ellipsis')
    // Nothing sticks out sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    // The header is two rows.
    const header = await box('header.bar')
    const buttonHeight = (await box('#undo')).height
    expect(header.height).toBeLessThan(buttonHeight * 2 + 40)
    const rows = new Set<number>()
    for (const el of await page.locator('header.bar > *:visible, header.bar .actions > *:visible').all()) {
      const b = await el.boundingBox()
      if (b && b.width > 0 && b.height > 0) rows.add(Math.round(b.y + b.height / 2))
    }
    const rowCentres = [...rows].sort((a, b) => a - b)
    const distinctRows = rowCentres.filter((y, i) => i === 0 || y - rowCentres[i - 1] > 12)
    expect(distinctRows.length).toBe(2)
    // The text takes the width: the editor spans the screen, the people list is folded.
    const editor = await box('#editor')
    expect(editor.width).toBeGreaterThanOrEqual(388)
    expect(editor.height).toBeGreaterThan(500)
    expect(await page.locator('#people').isVisible()).toBe(false)
    expect(await page.locator('#share').isVisible()).toBe(false)
    await page.screenshot({ path: `${ARTIFACTS}/phone.png` })

    // The people toggle opens the list over the text, and says how many are here.
    const toggle = page.locator('#people-toggle')
    expect(await toggle.textContent()).toMatch(/People\s*2/)
    await toggle.click()
    expect(await toggle.getAttribute('aria-expanded')).toBe('true')
    await page.locator('#people').waitFor({ state: 'visible' })
    expect(await peopleList(page)).toEqual(['Ann (you)', 'Bob'])
    await page.screenshot({ path: `${ARTIFACTS}/phone-people.png` })
    await toggle.click()
    await page.locator('#people').waitFor({ state: 'hidden' })

    // "More" shows the other buttons; choosing one closes it.
    await page.locator('#more-toggle').click()
    await page.locator('#history-toggle').waitFor({ state: 'visible' })
    expect(await page.locator('#copy-link').isVisible()).toBe(true)
    await page.screenshot({ path: `${ARTIFACTS}/phone-more.png` })
    await page.locator('#history-toggle').click()
    expect(await page.locator('#more-toggle').getAttribute('aria-expanded')).toBe('false')
    await page.locator('#history').waitFor({ state: 'visible' })
    expect((await box('#editor')).width).toBeGreaterThanOrEqual(388)
    await page.screenshot({ path: `${ARTIFACTS}/phone-history.png` })

    // On a wide screen the same long name is cut too, and the header is one row.
    await bob.page.setViewportSize({ width: 1280, height: 800 })
    const wideName = bob.page.locator('#room-name')
    expect(await wideName.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true)
    const wideHeader = (await bob.page.locator('header.bar').boundingBox())!
    const wideButton = (await bob.page.locator('#undo').boundingBox())!
    await bob.page.screenshot({ path: `${ARTIFACTS}/long-name-desktop.png` })
    expect(wideHeader.height).toBeLessThan(wideButton.height + 30)
    expect(await bob.page.locator('#people').isVisible()).toBe(true)
    expect(await bob.page.locator('#people-toggle').isVisible()).toBe(false)
    await bob.page.screenshot({ path: `${ARTIFACTS}/long-name-desktop.png` })
  })

  test('small things: placeholder, favicon, service worker file, disabled buttons, Copy link', async () => {
    await start()
    const room = 'small things/ünïcode'
    const ann = await open(room, 'Ann', '#d7263d')
    await ann.page.setViewportSize({ width: 1280, height: 800 })
    // The empty document says what to do.
    const hint = ann.page.locator('.cm-placeholder')
    expect(await hint.innerText()).toBe('Empty document. Start typing: everyone in this room sees the text as you write it.')
    // Nothing to undo: the button is disabled and looks it.
    const undo = ann.page.locator('#undo')
    expect(await undo.isDisabled()).toBe(true)
    const look = (selector: string) => ann.page.locator(selector).evaluate((el) => {
      const s = getComputedStyle(el)
      return `${s.opacity}|${s.color}|${s.borderStyle}`
    })
    expect(await look('#undo')).not.toBe(await look('#history-toggle'))
    await ann.page.screenshot({ path: `${ARTIFACTS}/empty-desktop.png` })
    await ann.page.keyboard.type('x')
    expect(await hint.count()).toBe(0)
    expect(await undo.isDisabled()).toBe(false)

    // The favicon and the service worker are served with the right types.
    const icon = await fetch(`${http}/favicon.svg`)
    expect(icon.status).toBe(200)
    expect(icon.headers.get('content-type')).toMatch(/^image\/svg\+xml/)
    expect(await ann.page.locator('link[rel="icon"]').getAttribute('href')).toBe('/favicon.svg')
    const worker = await fetch(`${http}/sw.js`)
    expect(worker.status).toBe(200)
    expect(worker.headers.get('content-type')).toMatch(/^text\/javascript/)

    // Copy link copies the room's plain address.
    await ann.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: http })
    await ann.page.locator('#copy-link').click()
    await expect.poll(() => ann.page.locator('#copy-link').textContent()).toBe('Copied')
    const copied = await ann.page.evaluate(() => navigator.clipboard.readText())
    expect(copied).toBe(`${http}/r/${encodeURIComponent(room)}`)
    await expect.poll(() => ann.page.locator('#copy-link').textContent(), { timeout: 5000 }).toBe('Copy link')
  })
})
