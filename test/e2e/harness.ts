// Shared parts of the end-to-end tests: find Chromium, build the editor into a temp folder,
// start a server that serves it, and open tabs that record every console error.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { expect, test } from 'vitest'
import type { ConcordServer } from '../../server/server.js'

/// The Chromium the tests drive: `CONCORD_CHROMIUM`, or Debian's.
export const chromiumPath = process.env.CONCORD_CHROMIUM ?? '/usr/bin/chromium'

/// Whether the browser is there. Without it the e2e tests skip with a message, except under
/// CI=true, where `requireBrowserUnderCi` turns the absence into a failing test.
export function browserAvailable(): boolean {
  if (existsSync(chromiumPath)) return true
  if (process.env.CI !== 'true') console.warn(`e2e tests skipped: no Chromium at ${chromiumPath} (set CONCORD_CHROMIUM to its path)`)
  return false
}

/// Under CI=true a missing browser is a failure, not a skip.
export function requireBrowserUnderCi(available: boolean): void {
  if (available || process.env.CI !== 'true') return
  test('Chromium is present (required under CI=true)', () => {
    throw new Error(`no Chromium at ${chromiumPath}: install it (apt-get install chromium) or set CONCORD_CHROMIUM`)
  })
}

/// Build the editor from the current sources into a fresh folder; returns the folder.
export function buildEditor(): string {
  const dir = mkdtempSync(join(tmpdir(), 'concord-editor-'))
  execFileSync(process.execPath, ['editor/build.mjs', '--outdir', dir, '--quiet'], { stdio: 'inherit' })
  return dir
}

/// Launch headless Chromium. Playwright gives every launch a fresh temporary profile
/// (--user-data-dir) and every context its own storage, and deletes them on close.
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  })
}

/// What a browser test file sets up once: the editor built from the current sources and one
/// Chromium; `artifacts` (screenshots, gitignored) is created if given.
export async function prepareBrowser(artifacts?: string): Promise<{ editorDir: string; browser: Browser }> {
  const editorDir = buildEditor()
  const browser = await launchBrowser()
  if (artifacts) mkdirSync(artifacts, { recursive: true })
  return { editorDir, browser }
}

/// Undo `prepareBrowser`.
export async function closeBrowser(browser: Browser | undefined, editorDir: string | undefined): Promise<void> {
  await browser?.close()
  if (editorDir) rmSync(editorDir, { recursive: true, force: true })
}

/// After each test: close its tabs and its server, then fail it if a tab logged an error.
export async function endTest(tabs: Tab[], server: ConcordServer | undefined): Promise<void> {
  const errors = tabs.flatMap((t) => [...t.errors, ...t.networkErrors])
  for (const tab of tabs.splice(0)) await tab.context.close().catch(() => undefined)
  await server?.close()
  expect(errors, 'console errors in the tabs').toEqual([])
}

/// One browser tab with its own profile (own localStorage), and the errors it logged.
export interface Tab {
  context: BrowserContext
  page: Page
  /// Console errors and uncaught exceptions, as text.
  errors: string[]
  /// Console errors the browser itself logs for refused connections while a server is down.
  networkErrors: string[]
}

const NETWORK_ERROR = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET/

/// Open the editor of `room` in a new tab and wait until it is connected and synced.
/// A `name` and `color` are put in the tab's storage first, as if the user had set them.
export async function openTab(browser: Browser, httpUrl: string, room: string, name?: string, color = '#2f9e44'): Promise<Tab> {
  const context = await browser.newContext({ viewport: { width: 900, height: 520 } })
  if (name) {
    await context.addInitScript((user) => {
      localStorage.setItem('concord:user', JSON.stringify(user))
    }, { name, color })
  }
  const page = await context.newPage()
  const tab: Tab = { context, page, errors: [], networkErrors: [] }
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    if (NETWORK_ERROR.test(message.text())) tab.networkErrors.push(message.text())
    else tab.errors.push(message.text())
  })
  page.on('pageerror', (error) => tab.errors.push(`uncaught: ${error.message}`))
  await page.goto(`${httpUrl}/r/${encodeURIComponent(room)}`)
  await waitConnected(page)
  return tab
}

/// Wait until the tab's status line says connected and its document is synced.
export async function waitConnected(page: Page, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(() => {
    const c = (window as unknown as { concord?: { provider: { state: { status: string; synced: boolean } } } }).concord
    return c?.provider.state.status === 'connected' && c.provider.state.synced
  }, undefined, { timeout: timeoutMs })
}

/// The editor's text as CodeMirror holds it.
export function editorText(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as { concord: { view: { state: { doc: { toString(): string } } } } }).concord.view.state.doc.toString())
}

/// Put the cursor at `pos` (clamped to the document), as a click would.
export function placeCursor(page: Page, pos: number): Promise<void> {
  return page.evaluate((p) => {
    const view = (window as unknown as { concord: { view: { state: { doc: { length: number } }; dispatch(t: unknown): void; focus(): void } } }).concord.view
    view.focus()
    view.dispatch({ selection: { anchor: Math.min(p, view.state.doc.length) } })
  }, pos)
}


