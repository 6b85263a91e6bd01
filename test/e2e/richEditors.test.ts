// Third-party rich-text editors against a real Concord server, in real Chromium tabs, through
// the stock y-websocket client: Tiptap 3 (y-prosemirror over a Y.XmlFragment), Quill 2
// (y-quill over a Y.Text), and our own CodeMirror page beside them. Two tabs type at once
// with the real keyboard, so their edits cross in flight; a third tab joins afterwards.
// Every replica, and the server's own document, must end identical with nothing pending.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import type { ConcordServer } from '../../server/server.js'
import { sleep, startServer } from '../helpers.js'
import {
  browserAvailable, buildEditor, editorText, launchBrowser, openTab, placeCursor, requireBrowserUnderCi, type Tab,
} from './harness.js'
import type { CollabWindow, Snapshot } from './pages/shared.js'

/// The fields the pages bind to (pages/tiptap.ts and pages/quill.ts export the same names;
/// they are not imported from there because those modules run the page when loaded).
const TIPTAP_FIELD = 'default'
const QUILL_FIELD = 'quill'
const CODEMIRROR_FIELD = 'codemirror'

const available = browserAvailable()
requireBrowserUnderCi(available)

/// What a tab types: text through page.keyboard.type, or one key chord through keyboard.press.
type Step = string | { key: string }
const key = (k: string): Step => ({ key: k })

/// Type the steps with the real keyboard; a small per-key delay lets two tabs' keystrokes
/// interleave, so each tab's updates reach the server while the other's are in flight.
async function typeSteps(page: Page, steps: readonly Step[]): Promise<void> {
  for (const step of steps) {
    if (typeof step === 'string') await page.keyboard.type(step, { delay: 8 })
    else await page.keyboard.press(step.key)
  }
}

/// Poll `check` until it holds; fail with `what` after `timeoutMs`.
async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/// A document's state vector as sorted [client, clock] pairs, as the pages report theirs.
function stateVectorOf(doc: Y.Doc): Array<[number, number]> {
  return [...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0])
}

const snapshotOf = (page: Page): Promise<Snapshot> =>
  page.evaluate(() => (window as unknown as CollabWindow).collab!.snapshot())

/// The content types the static server hands out.
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' }

/// Serve `dir` over HTTP on 127.0.0.1 (any free port). Returns the server and its base URL.
async function serveStatic(dir: string): Promise<{ server: HttpServer; url: string }> {
  const root = normalize(dir + sep)
  const server = createHttpServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)))
    if (!path.startsWith(root)) return void res.writeHead(403).end()
    try {
      const body = readFileSync(path)
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/// The HTML shell of a page: its bundle, and a data: icon so no favicon 404 is logged.
const shell = (title: string, script: string, head = ''): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,">${head}` +
  '<style>body{font:15px sans-serif;margin:16px}#editor{min-height:360px;border:1px solid #aaa}.ProseMirror{min-height:340px;padding:8px;outline:none}</style>' +
  `</head><body><div id="editor"></div><script type="module" src="${script}"></script></body></html>`

/// Bundle the pages into a fresh folder with esbuild, one self-contained ES module each.
/// Fails if a bundle would hold more than one copy of yjs (it would log "Yjs was already
/// imported" and break `instanceof` checks between the binding and the provider).
async function buildPages(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'concord-rich-pages-'))
  try {
    await bundlePages(dir)
  } catch (error) {
    rmSync(dir, { recursive: true, force: true }) // afterAll never learns of this folder
    throw error
  }
  return dir
}

/// esbuild's part of `buildPages`: the bundles, the checks on them, and the HTML around them.
async function bundlePages(dir: string): Promise<void> {
  const page = (name: string): string => fileURLToPath(new URL(`./pages/${name}.ts`, import.meta.url))
  const result = await build({
    entryPoints: { tiptap: page('tiptap'), quill: page('quill') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: dir,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
  })
  expect(result.errors).toEqual([])
  expect(result.warnings.map((w) => w.text), 'esbuild warnings').toEqual([])
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    if (!file.endsWith('.js')) continue
    const copies = new Set(Object.keys(output.inputs).flatMap((input) => input.match(/^(.*node_modules\/yjs)\//)?.[1] ?? []))
    expect(copies.size, `copies of yjs in ${file}: ${[...copies].join(', ')}`).toBe(1)
  }
  copyFileSync(createRequire(import.meta.url).resolve('quill/dist/quill.snow.css'), join(dir, 'quill.snow.css'))
  writeFileSync(join(dir, 'tiptap.html'), shell('Tiptap', 'tiptap.js'))
  writeFileSync(join(dir, 'quill.html'), shell('Quill', 'quill.js', '<link rel="stylesheet" href="quill.snow.css">'))
}

/// Everything about a node of Tiptap's JSON the assertions look at.
interface PmNode {
  type: string
  attrs?: Record<string, unknown>
  content?: PmNode[]
  text?: string
  marks?: Array<{ type: string }>
}

/// Every node of a Tiptap JSON tree, depth first.
function* nodesOf(node: PmNode): Generator<PmNode> {
  yield node
  for (const child of node.content ?? []) yield* nodesOf(child)
}
const textOf = (node: PmNode): string => [...nodesOf(node)].map((n) => n.text ?? '').join('')

describe.skipIf(!available)('Tiptap, Quill and CodeMirror over the stock y-websocket client, in Chromium', () => {
  let pagesDir: string
  let editorDir: string
  let statics: { server: HttpServer; url: string }
  let browser: Browser
  let server: ConcordServer
  let tabs: Tab[] = []

  beforeAll(async () => {
    pagesDir = await buildPages()
    editorDir = buildEditor()
    statics = await serveStatic(pagesDir)
    browser = await launchBrowser()
    server = await startServer({ editor: true, publicDir: editorDir })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await new Promise((resolve) => statics?.server.close(resolve))
    for (const dir of [pagesDir, editorDir]) if (dir) rmSync(dir, { recursive: true, force: true })
  })

  afterEach(async () => {
    // The server stays up throughout, so even refused connections count as errors here.
    const errors = tabs.flatMap((t) => [...t.errors, ...t.networkErrors])
    for (const tab of tabs.splice(0)) await tab.context.close().catch(() => undefined)
    expect(errors, 'console errors and uncaught exceptions in the tabs').toEqual([])
  })

  /// Open one of the bundled pages on `room` in a tab of its own (own context, own
  /// storage) and wait until its provider is connected and synced.
  async function openRich(kind: 'tiptap' | 'quill', room: string, name: string): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width: 800, height: 600 } })
    const page = await context.newPage()
    const tab: Tab = { context, page, errors: [], networkErrors: [] }
    tabs.push(tab)
    page.on('console', (message) => {
      // yjs reports a second copy of itself with console.error; warnings are kept too, as a
      // Tiptap misconfiguration (history left on beside Collaboration) is only a warning.
      if (message.type() === 'error' || message.type() === 'warning' || /already imported/.test(message.text())) {
        tab.errors.push(`${message.type()}: ${message.text()}`)
      }
    })
    page.on('pageerror', (error) => tab.errors.push(`uncaught: ${error.message}`))
    const query = new URLSearchParams({ ws: server.url, room, name })
    await page.goto(`${statics.url}/${kind}.html?${query}`)
    await page.waitForFunction(() => (window as unknown as CollabWindow).collab?.snapshot().synced === true, undefined, { timeout: 30_000 })
    return tab
  }

  /// Put the caret at the end of the line holding `text`, waiting for it to arrive first.
  async function caretAfter(page: Page, text: string): Promise<void> {
    await until(() => page.evaluate((t) => (window as unknown as CollabWindow).collab!.caretAfter(t), text), `"${text}" in the tab`)
      .catch(async (error: Error) => {
        const shared = await snapshotOf(page).then((s) => s.shared, () => '?')
        throw new Error(`${error.message}, which holds ${shared}`)
      })
  }

  /// Poll until every tab reports the same content and shared type, matching the server's
  /// `shared` rendering, or until `timeoutMs`; return the last readings either way, so the
  /// assertions that follow show what differs.
  async function settle(pages: Page[], serverShared: () => string, timeoutMs = 15_000): Promise<{ snaps: Snapshot[]; server: string }> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const snaps = await Promise.all(pages.map(snapshotOf))
      const server = serverShared()
      const same = snaps.every((s) => s.shared === server && JSON.stringify(s.content) === JSON.stringify(snaps[0].content) && !s.pending)
      if (same || Date.now() > deadline) return { snaps, server }
      await sleep(100)
    }
  }

  /// The checks common to both rich editors: identical editor content, identical shared
  /// type equal to the server's, identical state vectors equal to the server's, nothing pending.
  function expectConverged(snaps: Snapshot[], serverShared: string, serverDoc: Y.Doc): void {
    snaps.forEach((s, i) => {
      expect(s.pending, `tab ${i} has pending structs or deletions`).toBe(false)
      expect(s.shared, `tab ${i}'s shared type vs the server's`).toBe(serverShared)
      expect(s.content, `tab ${i}'s editor content vs tab 0's`).toEqual(snaps[0].content)
      expect(s.stateVector, `tab ${i}'s state vector vs the server's`).toEqual(stateVectorOf(serverDoc))
    })
    const { pendingStructs, pendingDs } = serverDoc.store
    expect(pendingStructs === null && pendingDs === null, 'the server has pending structs or deletions').toBe(true)
  }

  const roomDoc = (room: string): Y.Doc => {
    const r = server.rooms.get(room)
    if (!r) throw new Error(`room ${room} is not loaded on the server`)
    return r.document.doc
  }

  const tiptapShared = (room: string): string => roomDoc(room).getXmlFragment(TIPTAP_FIELD).toString()
  const quillShared = (room: string): string => JSON.stringify(roomDoc(room).getText(QUILL_FIELD).toDelta())

  /// Wait up to 10 s for `text` to reach the tab, but carry on without it: the convergence
  /// check that follows then shows what is missing where, better than a timeout would.
  async function arrived(page: Page, text: string): Promise<void> {
    await until(() => page.evaluate((t) => (window as unknown as CollabWindow).collab!.text().includes(t), text), text, 10_000).catch(() => undefined)
  }

  /// Print the replicas when they differ: the fragments say at a glance which edits are missing.
  function reportTiptapDivergence(when: string, { snaps, server }: { snaps: Snapshot[]; server: string }): void {
    if (snaps.every((s) => s.shared === server && !s.pending)) return
    console.info(`Tiptap replicas differ ${when}:\n${snaps.map((s, i) => `tab ${i}${s.pending ? ' (pending structs)' : ''}: ${s.shared}`).join('\n')}\nserver: ${server}`)
  }

  test('Tiptap 3: two tabs type headings, lists, bold and italic, in turns then at once; a third joins; all equal the server', async () => {
    const room = 'tiptap'
    const ann = await openRich('tiptap', room, 'Ann')
    const bob = await openRich('tiptap', room, 'Bob')

    // Each tab gets a region of its own, plus one paragraph both type into at once.
    await caretAfter(ann.page, '')
    await typeSteps(ann.page, ['Alpha notes', key('Enter'), 'Shared line:'])
    await caretAfter(bob.page, 'Shared line:')
    await typeSteps(bob.page, [key('Enter'), 'Beta notes'])
    await caretAfter(ann.page, 'Beta notes')

    // In turns: one tab types while the other waits for it, so that input rules and stored
    // marks act on a document no remote change is rewriting at that instant, and what the
    // keyboard made can be checked exactly.
    const region = (who: string, bullet: string): Step[] => [
      key('Enter'), `# ${who} heading`, key('Enter'),
      `${who} says `, key('Control+b'), `bold ${who}`, key('Control+b'), ' then ', key('Control+i'), `italic ${who}`, key('Control+i'), key('Enter'),
      `${bullet} first ${who} item`, key('Enter'), `second ${who} item`, key('Enter'), key('Enter'),
      `after the ${who} list`, key('Enter'),
      key('Control+b'), `${who} bold start`, key('Control+b'), ` ${who} plain ${who}tail`,
      // Enter inside a paragraph holding bold text: one update both cuts that formatted
      // Y.XmlText short and creates a new paragraph; integrating it, Yjs then runs a
      // formatting clean-up transaction of its own on the receiving side.
      ...Array<Step>(`${who}tail`.length).fill(key('ArrowLeft')), key('Enter'),
    ]
    await caretAfter(ann.page, 'Alpha notes')
    await typeSteps(ann.page, region('alpha', '-'))
    await arrived(bob.page, 'alphatail')
    await caretAfter(bob.page, 'Beta notes')
    await typeSteps(bob.page, region('beta', '*'))
    await arrived(ann.page, 'betatail')
    const turns = await settle([ann.page, bob.page], () => tiptapShared(room))
    reportTiptapDivergence('after the turns', turns)
    expectConverged(turns.snaps, turns.server, roomDoc(room))
    const nodes = [...nodesOf(turns.snaps[0].content as PmNode)]
    expect(nodes.filter((n) => n.type === 'heading').map(textOf)).toEqual(['alpha heading', 'beta heading'])
    expect(nodes.filter((n) => n.type === 'bulletList').map((n) => (n.content ?? []).map(textOf))).toEqual([
      ['first alpha item', 'second alpha item'], ['first beta item', 'second beta item'],
    ])
    const marked = (mark: string): string[] => nodes.filter((n) => n.marks?.some((m) => m.type === mark)).map((n) => n.text ?? '')
    for (const who of ['alpha', 'beta']) {
      const at = nodes.findIndex((n) => n.type === 'paragraph' && textOf(n) === `${who} bold start ${who} plain `)
      expect(at, `the split paragraph of ${who}`).toBeGreaterThan(0)
      expect(nodes.find((n, i) => i > at && n.type === 'paragraph')?.content?.map((n) => n.text)).toEqual([`${who}tail`])
    }
    expect(marked('bold')).toEqual(['bold alpha', 'alpha bold start', 'bold beta', 'beta bold start'])
    expect(marked('italic')).toEqual(['italic alpha', 'italic beta'])

    // At once: both tabs type with the same kinds of keys, their updates crossing in flight,
    // in their own regions and then into the same paragraph. Only convergence is checked
    // from here on: under concurrent remote changes ProseMirror drops stored marks (any
    // document change clears them) and y-prosemirror may misplace input-rule text, which
    // happens whatever the relay (seen the same with y-websocket 2's reference server), and is
    // no server bug.
    const burst = (who: string, bullet: string): Step[] => [
      key('Enter'), `# ${who} again`, key('Enter'), `${bullet} ${who} point `, key('Control+b'), 'strong', key('Control+b'), key('Enter'),
      `${who} second point`, key('Enter'), key('Enter'), key('Control+i'), `${who} closing`, key('Control+i'),
    ]
    const shared = (mark: string): Step[] => [' ', key('Control+b'), `${mark} bold`, key('Control+b'), ` ${mark.toLowerCase()} plain `, key('Control+i'), `${mark} it`, key('Control+i')]
    await Promise.all([
      (async () => {
        await caretAfter(ann.page, 'alphatail')
        await typeSteps(ann.page, burst('alpha', '-'))
        await caretAfter(ann.page, 'Shared line:')
        await typeSteps(ann.page, shared('AAA'))
      })(),
      (async () => {
        await caretAfter(bob.page, 'betatail')
        await typeSteps(bob.page, burst('beta', '*'))
        await caretAfter(bob.page, 'Shared line:')
        await typeSteps(bob.page, shared('BBB'))
      })(),
    ])

    const cat = await openRich('tiptap', room, 'Cat')
    const end = await settle([ann.page, bob.page, cat.page], () => tiptapShared(room))
    reportTiptapDivergence('at the end', end)
    expectConverged(end.snaps, end.server, roomDoc(room))
    expect(end.server).toMatch(/<bold>/)
  })

  test('Quill 2 + y-quill: two tabs type bold and italic, in turns then at once; a third joins; all equal the server', async () => {
    const room = 'quill'
    const ann = await openRich('quill', room, 'Ann')
    const bob = await openRich('quill', room, 'Bob')

    await caretAfter(ann.page, '')
    await typeSteps(ann.page, ['Alpha line:', key('Enter'), 'Shared line:'])
    await caretAfter(bob.page, 'Shared line:')
    await typeSteps(bob.page, [key('Enter'), 'Beta line:'])
    await caretAfter(ann.page, 'Beta line:')

    // In turns first, so what the shortcuts made can be checked exactly (see the Tiptap test).
    const region = (who: string): Step[] => [
      ` plain ${who} `, key('Control+b'), `bold ${who}`, key('Control+b'), ' and ', key('Control+i'), `italic ${who}`, key('Control+i'),
    ]
    await caretAfter(ann.page, 'Alpha line:')
    await typeSteps(ann.page, region('alpha'))
    await arrived(bob.page, 'italic alpha')
    await caretAfter(bob.page, 'Beta line:')
    await typeSteps(bob.page, region('beta'))
    await arrived(ann.page, 'italic beta')
    const turns = await settle([ann.page, bob.page], () => quillShared(room))
    expectConverged(turns.snaps, turns.server, roomDoc(room))
    const ops = turns.snaps[0].content as QuillOp[]
    const marked = (mark: string): string[] => ops.filter((op) => op.attributes?.[mark] === true).map((op) => op.insert)
    expect(marked('bold')).toEqual(['bold alpha', 'bold beta'])
    expect(marked('italic')).toEqual(['italic alpha', 'italic beta'])

    // At once, in their own lines and then into the same line.
    const burst = (who: string): Step[] => [key('Enter'), `another ${who} line `, key('Control+b'), 'strong', key('Control+b'), ' end']
    const shared = (mark: string): Step[] => [' ', key('Control+b'), `${mark} bold`, key('Control+b'), key('Control+i'), ` ${mark} it`, key('Control+i')]
    await Promise.all([
      (async () => {
        await caretAfter(ann.page, 'italic alpha')
        await typeSteps(ann.page, burst('alpha'))
        await caretAfter(ann.page, 'Shared line:')
        await typeSteps(ann.page, shared('AAA'))
      })(),
      (async () => {
        await caretAfter(bob.page, 'italic beta')
        await typeSteps(bob.page, burst('beta'))
        await caretAfter(bob.page, 'Shared line:')
        await typeSteps(bob.page, shared('BBB'))
      })(),
    ])

    const cat = await openRich('quill', room, 'Cat')
    const end = await settle([ann.page, bob.page, cat.page], () => quillShared(room))
    expectConverged(end.snaps, end.server, roomDoc(room))
    // Quill's contents are the Y.Text's delta plus the final newline every Quill document
    // ends with (y-quill keeps that one out of the Y.Text).
    expect(end.snaps[0].content).toEqual(withFinalNewline(JSON.parse(end.server) as QuillOp[]))
    // quill-cursors draws the second tab's caret, with its name, in the first tab.
    await until(async () => (await ann.page.locator('.ql-cursor', { hasText: 'Bob' }).count()) === 1, 'Bob\'s caret in the first Quill tab')
  })

  test('our CodeMirror page: two tabs type at once; a third joins; all equal the server', async () => {
    const room = 'codemirror'
    const http = server.url.replace(/^ws:/, 'http:')
    const open = async (): Promise<Tab> => {
      const tab = await openTab(browser, http, room)
      tabs.push(tab)
      return tab
    }
    const ann = await open()
    const bob = await open()
    await placeCursor(ann.page, 0)
    await ann.page.keyboard.type('start\n')
    await until(async () => (await editorText(bob.page)) === 'start\n', 'the first line in the second tab')
    await placeCursor(ann.page, 0)
    await placeCursor(bob.page, 6)
    await Promise.all([
      typeSteps(ann.page, ['alpha one', key('Enter'), 'alpha two']),
      typeSteps(bob.page, ['beta one', key('Enter'), 'beta two']),
    ])
    const cat = await open()
    const pages = [ann.page, bob.page, cat.page]
    const serverText = (): string => roomDoc(room).getText(CODEMIRROR_FIELD).toString()
    let texts: string[] = []
    await until(async () => {
      texts = await Promise.all(pages.map(editorText))
      return texts.every((t) => t === serverText())
    }, 'the CodeMirror tabs to converge with the server').catch(() => undefined)
    expect(texts).toEqual([serverText(), serverText(), serverText()])
    expect(texts[0]).toBe('alpha one\nalpha twostart\nbeta one\nbeta two')
    // The page's Y.Doc (window.concord.doc) is read through its store: the bundle keeps Yjs'
    // functions to itself, so the state vector is computed as Yjs does, from each client's last struct.
    for (const page of pages) {
      const { stateVector, pending } = await page.evaluate(() => {
        type Store = { clients: Map<number, Array<{ id: { clock: number }; length: number }>>; pendingStructs: unknown; pendingDs: unknown }
        const { store } = (window as unknown as { concord: { doc: { store: Store } } }).concord.doc
        const sv = [...store.clients].map(([client, structs]): [number, number] => {
          const last = structs[structs.length - 1]
          return [client, last.id.clock + last.length]
        })
        return { stateVector: sv.sort((a, b) => a[0] - b[0]), pending: store.pendingStructs !== null || store.pendingDs !== null }
      })
      expect(pending).toBe(false)
      expect(stateVector).toEqual(stateVectorOf(roomDoc(room)))
    }
  })
})

/// One op of a Quill delta (only inserts: the contents of a document).
interface QuillOp {
  insert: string
  attributes?: Record<string, unknown>
}

/// A Y.Text delta as Quill shows it: with the trailing newline every Quill document has.
function withFinalNewline(delta: QuillOp[]): QuillOp[] {
  const out = delta.map((op) => ({ ...op }))
  const last = out[out.length - 1]
  if (last && !last.attributes) last.insert += '\n'
  else out.push({ insert: '\n' })
  return out
}
