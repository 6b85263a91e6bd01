// Markdown in the editor, against a real server and real Chromium: highlighting while typing,
// the live preview (which must never run what a document carries), the dark theme that
// follows the system setting, and Download.
import { readFileSync } from 'node:fs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { startServer, sleep } from '../helpers.js'
import type { ConcordServer } from '../../server/server.js'
import {
  browserAvailable, closeBrowser, editorText, placeCursor, prepareBrowser, requireBrowserUnderCi, waitConnected,
} from './harness.js'

const TEXT = 'codemirror'
const ARTIFACTS = 'test-artifacts/editor'
const available = browserAvailable()
requireBrowserUnderCi(available)

const HOSTILE = [
  '# Plan',
  '',
  'Some **bold** words and a [safe link](https://example.com/page).',
  '',
  '<script>window.__pwned=1</script>',
  '',
  '<img src=x onerror="window.__pwned=2">',
  '',
  '[x](javascript:window.__pwned=3)',
  '',
  '<a href="javascript:window.__pwned=4">y</a> <svg><script>window.__pwned=5</script></svg>',
  '<iframe src="javascript:window.__pwned=6"></iframe>',
  '<div onmouseover="window.__pwned=7">hover</div>',
  '',
].join('\n')

describe.skipIf(!available)('markdown editing in Chromium', () => {
  let editorDir: string
  let browser: Browser
  let server: ConcordServer | undefined
  let contexts: BrowserContext[] = []
  let errors: string[] = []

  beforeAll(async () => {
    ;({ editorDir, browser } = await prepareBrowser(ARTIFACTS))
  }, 120_000)

  afterAll(() => closeBrowser(browser, editorDir))

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close().catch(() => undefined)
    await server?.close()
    server = undefined
    const seen = errors
    errors = []
    expect(seen, 'console errors in the tabs').toEqual([])
  })

  async function start(): Promise<string> {
    server = await startServer({ editor: true, publicDir: editorDir })
    return server.url.replace(/^ws:/, 'http:')
  }

  /// Store `text` as the room's document before any tab opens it.
  async function seed(http: string, room: string, text: string): Promise<void> {
    const doc = new Y.Doc()
    doc.getText(TEXT).insert(0, text)
    const answer = await fetch(`${http}/api/rooms/${encodeURIComponent(room)}/update`, {
      method: 'POST', body: Buffer.from(Y.encodeStateAsUpdate(doc)), headers: { 'content-type': 'application/octet-stream' },
    })
    expect(answer.status).toBe(200)
  }

  async function open(url: string, options: { colorScheme?: 'light' | 'dark'; bypassCSP?: boolean; viewport?: { width: number; height: number } } = {}): Promise<Page> {
    const context = await browser.newContext({
      viewport: options.viewport ?? { width: 1280, height: 800 },
      colorScheme: options.colorScheme ?? 'light',
      bypassCSP: options.bypassCSP ?? false,
      acceptDownloads: true,
    })
    contexts.push(context)
    const page = await context.newPage()
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`))
    await page.goto(url)
    await waitConnected(page)
    return page
  }

  const pwned = (page: Page) => page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)

  test('the preview renders Markdown and runs nothing a document carries, even without the page\'s CSP', async () => {
    const http = await start()
    const room = 'hostile'
    await seed(http, room, HOSTILE)
    // Without the Content-Security-Policy, sanitising is the only defence: what is tested here.
    const page = await open(`${http}/r/${room}`, { bypassCSP: true })
    expect(await editorText(page)).toBe(HOSTILE)
    const toggle = page.getByRole('button', { name: 'Preview', exact: true })
    expect(await toggle.getAttribute('aria-pressed')).toBe('false')
    expect(await page.locator('#preview').isVisible()).toBe(false)
    await toggle.click()
    expect(await toggle.getAttribute('aria-pressed')).toBe('true')
    const preview = page.locator('#preview')
    await page.locator('#preview[data-state="rendered"]').waitFor()

    // Markdown is rendered: heading, bold, links.
    expect(await preview.locator('h1').textContent()).toBe('Plan')
    expect(await preview.locator('strong').textContent()).toBe('bold')
    const safe = preview.getByRole('link', { name: 'safe link' })
    expect(await safe.getAttribute('href')).toBe('https://example.com/page')
    expect(await safe.getAttribute('target')).toBe('_blank')
    expect(await safe.getAttribute('rel')).toContain('noopener')
    // The image is kept, its handler is not.
    expect(await preview.locator('img').count()).toBe(1)
    expect(await preview.locator('img').getAttribute('onerror')).toBeNull()
    // Nothing that can run: no script element, no on* attribute, no script URL, no frame.
    expect(await preview.locator('script').count()).toBe(0)
    expect(await preview.locator('iframe').count()).toBe(0)
    const handlers = await preview.evaluate((root) => Array.from(root.querySelectorAll('*'))
      .flatMap((el) => Array.from(el.attributes).filter((a) => /^on/i.test(a.name) || /^\s*javascript:/i.test(a.value)).map((a) => `${el.tagName} ${a.name}`)))
    expect(handlers).toEqual([])
    const x = preview.getByText('x', { exact: true })
    expect(await x.evaluate((el) => el.closest('a')?.getAttribute('href') ?? null)).toBeNull()
    await sleep(300) // the image's error event has fired by now
    expect(await pwned(page)).toBeUndefined()
    await x.click()
    await preview.getByText('y', { exact: true }).click()
    await preview.getByText('hover').hover()
    await sleep(300)
    expect(await pwned(page)).toBeUndefined()
    expect(page.url()).toBe(`${http}/r/${room}`)

    // The preview follows typing, from this tab and from others.
    await placeCursor(page, 0)
    await page.keyboard.type('## Typed here\n\n')
    await expect.poll(() => preview.locator('h2').first().textContent()).toBe('Typed here')
    const other = await open(`${http}/r/${room}`)
    await placeCursor(other, 0)
    await other.keyboard.type('### From elsewhere\n\n')
    await expect.poll(() => preview.locator('h3').first().textContent()).toBe('From elsewhere')
    expect(await pwned(page)).toBeUndefined()

    // Hidden again on a second click; remembered for the next page of this browser.
    await toggle.click()
    expect(await preview.isVisible()).toBe(false)
    await toggle.click()
    await page.reload()
    await waitConnected(page)
    await page.locator('#preview[data-state="rendered"]').waitFor()
    expect(await page.locator('#preview h1').textContent()).toBe('Plan')
    expect(await pwned(page)).toBeUndefined()
  })

  test('Markdown is highlighted while typing; the theme follows the system\'s dark setting', async () => {
    const http = await start()
    const room = 'notes/theme'
    const light = await open(`${http}/r/${encodeURIComponent(room)}`)
    await light.locator('.cm-editor[data-language="markdown"]').waitFor({ state: 'attached' })
    await light.locator('.cm-content').click()
    await light.keyboard.type('# Title\n\nplain and **strong**')
    // The heading line is styled as one (bold), plain text is not.
    const headingWeight = await light.locator('.cm-line').first().evaluate((line) => {
      const span = line.querySelector('span')
      return span ? Number(getComputedStyle(span).fontWeight) : 0
    })
    expect(headingWeight).toBeGreaterThanOrEqual(700)
    const strongWeight = await light.locator('.cm-line').nth(2).getByText('strong').evaluate((el) => Number(getComputedStyle(el).fontWeight))
    expect(strongWeight).toBeGreaterThanOrEqual(700)
    // Enter in a list continues it.
    await light.keyboard.type('\n\n- first')
    await light.keyboard.press('Enter')
    await light.keyboard.type('second')
    await expect.poll(() => editorText(light)).toBe('# Title\n\nplain and **strong**\n\n- first\n- second')
    const background = (page: Page, selector: string) => page.locator(selector).first().evaluate((el) => getComputedStyle(el).backgroundColor)
    /// Relative luminance of an `rgb(…)` colour, 0 (black) to 1 (white).
    const luminance = (rgb: string) => {
      const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number)
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
    }
    expect(luminance(await background(light, '.cm-editor'))).toBeGreaterThan(0.9)
    expect(luminance(await background(light, 'html'))).toBeGreaterThan(0.9)

    // The same room with the system set to dark.
    const dark = await open(`${http}/r/${encodeURIComponent(room)}`, { colorScheme: 'dark' })
    expect(luminance(await background(dark, '.cm-editor'))).toBeLessThan(0.25)
    expect(luminance(await background(dark, 'html'))).toBeLessThan(0.25)
    const textColour = await dark.locator('.cm-content').evaluate((el) => getComputedStyle(el).color)
    expect(luminance(textColour)).toBeGreaterThan(0.6)
    // It follows a change of the setting without a reload.
    await dark.emulateMedia({ colorScheme: 'light' })
    await expect.poll(async () => luminance(await background(dark, '.cm-editor'))).toBeGreaterThan(0.9)
    await dark.emulateMedia({ colorScheme: 'dark' })
    await expect.poll(async () => luminance(await background(dark, '.cm-editor'))).toBeLessThan(0.25)

    // Screenshots: the preview in dark mode, wide and narrow.
    await placeCursor(dark, 10_000)
    // Pasted, not typed: typing Enter in a list or quote continues it (as in other editors).
    await dark.keyboard.insertText('\n\n- a list item\n- another, with `code`\n\n> a quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n')
    await dark.getByRole('button', { name: 'Preview', exact: true }).click()
    await dark.locator('#preview[data-state="rendered"]').waitFor()
    await expect.poll(() => dark.locator('#preview td').count()).toBe(2)
    expect(luminance(await background(dark, '#preview'))).toBeLessThan(0.25)
    const wide = { editor: await dark.locator('#editor').boundingBox(), preview: await dark.locator('#preview').boundingBox() }
    expect(wide.editor && wide.preview && wide.preview.x >= wide.editor.x + wide.editor.width - 1, 'preview beside the text at 1280 px').toBe(true)
    await dark.screenshot({ path: `${ARTIFACTS}/preview-dark-1280x800.png` })
    await dark.setViewportSize({ width: 390, height: 844 })
    await sleep(200)
    const narrow = { editor: await dark.locator('#editor').boundingBox(), preview: await dark.locator('#preview').boundingBox() }
    expect(narrow.editor && narrow.preview && narrow.preview.y >= narrow.editor.y + narrow.editor.height - 1, 'preview below the text at 390 px').toBe(true)
    expect(await dark.evaluate(() => document.documentElement.scrollWidth), 'no sideways scrolling at 390 px').toBeLessThanOrEqual(390)
    await dark.screenshot({ path: `${ARTIFACTS}/preview-dark-390x844.png`, fullPage: true })
  })

  test('Download saves the text as <last part of the room name>.md', async () => {
    const http = await start()
    const room = 'team/weekly notes'
    const text = '# Weekly\n\n- ünïcödé ✓\n- second line\n'
    await seed(http, room, text)
    const page = await open(`${http}/r/${encodeURIComponent(room)}`)
    expect(await editorText(page)).toBe(text)
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download', exact: true }).click(),
    ])
    expect(download.suggestedFilename()).toBe('weekly notes.md')
    const path = await download.path()
    expect(readFileSync(path, 'utf8')).toBe(text)
    // What is downloaded is the text as it is now.
    await placeCursor(page, 10_000)
    await page.keyboard.type('added')
    const [again] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download', exact: true }).click(),
    ])
    expect(readFileSync(await again.path(), 'utf8')).toBe(`${text}added`)
  })
})
