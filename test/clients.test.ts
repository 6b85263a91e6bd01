// Real third-party clients, installed as users install them, converging through a real
// Concord server over every Yjs shared type: y-websocket 1.5.4, 2.1.0 and 3.1.0 (Yjs 13), and
// @y/websocket 4.0.0-3 (the Yjs 14 line, over @y/y 14.0.0-rc and @y/protocols).
//
// @y/websocket 4.0.0-3 against Concord (what these tests establish):
// - It connects, syncs (its `synced` turns true on the server's sync step 2, as in Yjs 13),
//   exchanges awareness both ways with Yjs 13 clients, and stays connected 35 s idle (it has
//   the same 30 s no-message watchdog; Concord's 15 s keepalive keeps it open, and without
//   the keepalive it reconnects like the others): the protocol and the v1 update encoding on
//   the wire are the same.
// - Everything Yjs 13 clients write, over all six shapes, reaches it intact, and what it writes
//   into root types (text with formatting, maps, arrays, XML elements and their attributes, text
//   inside XML a Yjs 13 client created) reaches Yjs 13 clients intact; a later joiner of either
//   line gets the identical document.
// - Not interoperable (a Yjs 14 data-model change, not the server: the server relays the bytes
//   faithfully and every replica holds the same history): a shared type that a Yjs 14 client
//   *creates* inside another (e.g. `map.setAttr('settings', new Y.Type())`) is encoded as an
//   XML node, so Yjs 13 clients see a `Y.XmlFragment` (a `Y.XmlElement` if named) where the
//   Yjs 14 user put a map, array or text, and its entries are invisible through Yjs 13's API.
//   Types Yjs 13 created keep their kind in Yjs 14, so mixed rooms work for root types and for
//   nested types created by Yjs 13 clients only.
import { afterEach, describe as suite, test, type TestContext } from 'vitest'
import * as Y from 'yjs'
import * as Y14 from '@y/y'
import { describe, randomEdit, rootOf, SHAPES } from '../server/cli/converge/shapes.js'
import { createRandom, type Random } from '../server/cli/converge/random.js'
import type { ConcordServer } from '../server/server.js'
import { sleep, startServer, waitFor } from './helpers.js'
import {
  ClientKit, converged, EditLog, loggedEdit, randomEdit14, YJS13_CLIENTS, YJS14_CLIENT, type ProviderLike, type Yjs13Client,
} from './thirdPartyClients.js'

// Every provider adds a process 'exit' listener; this file has more than Node's default 10 open.
process.setMaxListeners(64)

// Tests run concurrently (each on its own server), so each keeps its own kit, keyed by test.
const opened = new Map<string, { server: ConcordServer; kit: ClientKit }>()
afterEach(async ({ task }) => {
  const entry = opened.get(task.id)
  opened.delete(task.id)
  entry?.kit.destroyAll()
  await entry?.server.close()
})

async function setup(ctx: TestContext): Promise<{ server: ConcordServer; kit: ClientKit }> {
  const server = await startServer()
  const kit = new ClientKit(server.url)
  opened.set(ctx.task.id, { server, kit })
  return { server, kit }
}

async function synced(kit: ClientKit, ...providers: Array<ProviderLike<Y.Doc> | ProviderLike<Y14.Doc>>): Promise<void> {
  for (const p of providers) await waitFor(() => p.synced, `${kit.nameOf(p)} to sync`)
}

const UNDOABLE = Symbol('undoable edit')

/// `edits` random edits over all six shapes, with short waits between some so updates of
/// different providers cross in flight. With `undo`, some steps undo or redo instead. Each
/// edit's clock range goes in `log`, to name the shape of an update that goes missing.
async function editRandomly(doc: Y.Doc, rng: Random, edits: number, log: EditLog, undo?: Y.UndoManager): Promise<{ undos: number; redos: number }> {
  let undos = 0
  let redos = 0
  for (let i = 0; i < edits; i++) {
    if (undo && undo.canUndo() && rng.chance(0.1)) {
      loggedEdit(log, doc, `undo #${i}`, () => undo.undo())
      undos++
    } else if (undo && undo.canRedo() && rng.chance(0.1)) {
      loggedEdit(log, doc, `redo #${i}`, () => undo.redo())
      redos++
    } else {
      const shape = rng.pick(SHAPES)
      loggedEdit(log, doc, `'${shape}' edit #${i}`, () => randomEdit(doc, shape, rng, UNDOABLE))
    }
    if (rng.chance(0.25)) await sleep(rng.int(0, 2))
  }
  return { undos, redos }
}

/// `edits` random Yjs 14 edits (see `randomEdit14`), interleaved and logged the same way.
async function editRandomly14(doc: Y14.Doc, rng: Random, edits: number, log: EditLog): Promise<void> {
  for (let i = 0; i < edits; i++) {
    const shape = rng.pick(SHAPES)
    loggedEdit(log, doc, `'${shape}' edit (Yjs 14) #${i}`, () => randomEdit14(doc, shape, rng))
    if (rng.chance(0.25)) await sleep(rng.int(0, 2))
  }
}

const EDITS = 300

// Each version's run: two providers of it and one of another version, in one room.
const RUNS: Array<{ version: Yjs13Client; other: Yjs13Client; undo: boolean }> = [
  { version: 'y-websocket@1.5.4', other: 'y-websocket@2.1.0', undo: false },
  { version: 'y-websocket@2.1.0', other: 'y-websocket@3.1.0', undo: false },
  { version: 'y-websocket@3.1.0', other: 'y-websocket@1.5.4', undo: true },
]

suite('third-party y-websocket clients through Concord', () => {
  // First, so its 35 s overlap every other test (at most five run at once).
  test.concurrent('every client stays connected 35 s idle and alone (past the 30 s no-message timeout)', { timeout: 60_000 }, async (ctx) => {
    const { server, kit } = await setup(ctx)
    const providers = [
      ...YJS13_CLIENTS.map((v) => kit.yjs13(v, `idle-${v}`, false)),
      kit.yjs14(`idle-${YJS14_CLIENT}`, false),
    ]
    const seen = new Map<string, { statuses: string[]; closes: number }>()
    for (const p of providers) {
      const record = { statuses: [] as string[], closes: 0 }
      seen.set(kit.nameOf(p), record)
      p.on('status', ({ status }) => record.statuses.push(status))
      p.on('connection-close', () => record.closes++)
      p.connect()
    }
    await synced(kit, ...providers)
    const connections = [...server.connections]
    ctx.expect(connections).toHaveLength(providers.length)
    await sleep(35_000)
    const after = Object.fromEntries(providers.map((p) => [kit.nameOf(p), { ...seen.get(kit.nameOf(p)), connected: p.wsconnected, synced: p.synced }]))
    const expected = Object.fromEntries(providers.map((p) => [kit.nameOf(p), { statuses: ['connecting', 'connected'], closes: 0, connected: true, synced: true }]))
    ctx.expect(after).toEqual(expected)
    ctx.expect([...server.connections]).toEqual(connections) // the very same sockets, none replaced
  })

  for (const { version, other, undo } of RUNS) {
    test.concurrent(`${version}: two providers and a ${other} converge over every shape${undo ? ' (one undoing and redoing)' : ''}, and a later joiner matches`, async (ctx) => {
      const { server, kit } = await setup(ctx)
      const room = 'shapes'
      const serverDoc = () => server.rooms.get(room)?.document.doc
      const providers = [kit.yjs13(version, room), kit.yjs13(version, room), kit.yjs13(other, room)]
      await synced(kit, ...providers)
      const rng = createRandom(`clients.test/${version}`)
      const undoManager = undo ? new Y.UndoManager(SHAPES.map((s) => rootOf(providers[0].doc, s)), { trackedOrigins: new Set([UNDOABLE]), captureTimeout: 0 }) : undefined
      const log = new EditLog()
      const results = await Promise.all(providers.map((p, i) => editRandomly(p.doc, rng.fork(`provider ${i}`), EDITS, log, i === 0 ? undoManager : undefined)))
      await converged(serverDoc, providers.map((p) => kit.replica13(p)), `${version} run (${EDITS} edits each)`, log)
      if (undoManager) {
        ctx.expect(results[0].undos, 'undos done').toBeGreaterThan(0)
        ctx.expect(results[0].redos, 'redos done').toBeGreaterThan(0)
        undoManager.destroy()
      }
      // Every writer's edits are in the server's document.
      const clients = Y.decodeStateVector(Y.encodeStateVector(serverDoc()!))
      for (const p of providers) ctx.expect(clients.get(p.doc.clientID), `${kit.nameOf(p)}'s edits at the server`).toBeGreaterThan(0)

      const late = kit.yjs13(version, room)
      await synced(kit, late)
      await converged(serverDoc, [late, ...providers].map((p) => kit.replica13(p)), `${version} later joiner`, log)
      ctx.expect(describe(late.doc)).toBe(describe(serverDoc()!))
    })
  }

  test.concurrent('awareness: every client sees every other\'s state, and a destroyed one disappears for the rest', async (ctx) => {
    const { kit } = await setup(ctx)
    const room = 'presence'
    const providers: Array<ProviderLike<Y.Doc> | ProviderLike<Y14.Doc>> = [
      ...YJS13_CLIENTS.map((v) => kit.yjs13(v, room)),
      kit.yjs14(room),
    ]
    for (const p of providers) p.awareness.setLocalStateField('user', kit.nameOf(p))
    await synced(kit, ...providers)
    for (const p of providers) {
      for (const q of providers) {
        await waitFor(() => p.awareness.getStates().get(q.awareness.clientID)?.user === kit.nameOf(q), `${kit.nameOf(p)} to see ${kit.nameOf(q)}'s state`)
      }
    }
    // Leave one at a time; everyone still there must see the leaver's state go.
    const left = [...providers]
    while (left.length > 1) {
      const leaver = left.shift()!
      const id = leaver.awareness.clientID
      kit.destroy(leaver)
      for (const p of left) await waitFor(() => !p.awareness.getStates().has(id), `${kit.nameOf(p)} to drop ${kit.nameOf(leaver)}'s state`)
    }
  })

  test.concurrent(`${YJS14_CLIENT} (Yjs 14): text, formatting, maps, arrays and XML written on either side read the same on the other`, async (ctx) => {
    const { server, kit } = await setup(ctx)
    const room = 'yjs14-basics'
    const p13 = kit.yjs13('y-websocket@3.1.0', room)
    const p14 = kit.yjs14(room)
    await synced(kit, p13, p14)
    const { doc: d13 } = p13
    const { doc: d14 } = p14

    d13.getText('text').insert(0, 'written by yjs 13')
    await waitFor(() => d14.get('text').toString() === 'written by yjs 13', 'Yjs 14 to read Yjs 13 text')
    d14.get('text').insert(d14.get('text').length, ', then by yjs 14')
    await waitFor(() => d13.getText('text').toString() === 'written by yjs 13, then by yjs 14', 'Yjs 13 to read Yjs 14 text')

    d13.getText('rich').insert(0, 'bold', { bold: true })
    await waitFor(() => d14.get('rich').length === 4, 'formatted text to reach Yjs 14')
    d14.get('rich').format(0, 2, { italic: true })
    await waitFor(() => d13.getText('rich').toDelta().length === 2, 'Yjs 14 formatting to reach Yjs 13')
    ctx.expect(d13.getText('rich').toDelta()).toEqual([{ insert: 'bo', attributes: { bold: true, italic: true } }, { insert: 'ld', attributes: { bold: true } }])

    d14.get('map').setAttr('from14', { n: 1 })
    d13.getMap('map').set('from13', [2])
    d14.get('array').insert(0, [1, 'two'])
    await waitFor(() => d13.getMap('map').has('from14') && d14.get('map').hasAttr('from13') && d13.getArray('array').length === 2, 'map and array entries both ways')
    ctx.expect(d13.getMap('map').get('from14')).toEqual({ n: 1 })
    ctx.expect(d14.get('map').getAttr('from13')).toEqual([2])
    ctx.expect(d13.getArray('array').toArray()).toEqual([1, 'two'])

    // XML: a heading with marked text from Yjs 13, a paragraph with an attribute from Yjs 14.
    const heading = new Y.XmlElement('heading')
    const title = new Y.XmlText()
    d13.transact(() => {
      heading.insert(0, [title])
      d13.getXmlFragment('xml').insert(0, [heading])
      title.insert(0, 'Title', { bold: true })
    })
    await waitFor(() => d14.get('xml').length === 1, 'the heading to reach Yjs 14')
    const heading14 = d14.get('xml').get(0) as Y14.Type
    ctx.expect(heading14.name).toBe('heading')
    const title14 = heading14.get(0) as Y14.Type
    ctx.expect(title14.toString()).toBe('Title')
    ctx.expect(title14.toDelta().toJSON()).toMatchObject({ children: [{ insert: 'Title', format: { bold: true } }] })
    title14.insert(5, '!', { bold: true })
    const paragraph = new Y14.Type('paragraph')
    d14.get('xml').insert(1, [paragraph])
    paragraph.setAttr('level', '2')
    await waitFor(() => d13.getXmlFragment('xml').length === 2 && title.toString() === '<bold>Title!</bold>', 'Yjs 14 XML edits to reach Yjs 13')
    const paragraph13 = d13.getXmlFragment('xml').get(1)
    ctx.expect(paragraph13).toBeInstanceOf(Y.XmlElement)
    ctx.expect((paragraph13 as Y.XmlElement).nodeName).toBe('paragraph')
    await waitFor(() => (paragraph13 as Y.XmlElement).getAttribute('level') === '2', 'the paragraph\'s attribute at Yjs 13')

    await converged(() => server.rooms.get(room)?.document.doc, [kit.replica13(p13), kit.replica14(p14)], 'Yjs 13 and 14 basics')
  })

  test.concurrent(`${YJS14_CLIENT} (Yjs 14) and y-websocket@3.1.0 converge under concurrent random edits, and later joiners of both match`, async (ctx) => {
    const { server, kit } = await setup(ctx)
    const room = 'yjs14-random'
    const serverDoc = () => server.rooms.get(room)?.document.doc
    const p13 = kit.yjs13('y-websocket@3.1.0', room)
    const p14 = kit.yjs14(room)
    await synced(kit, p13, p14)
    const rng = createRandom('clients.test/yjs14')
    const log = new EditLog()
    await Promise.all([editRandomly(p13.doc, rng.fork('yjs13'), EDITS, log), editRandomly14(p14.doc, rng.fork('yjs14'), EDITS, log)])
    await converged(serverDoc, [kit.replica13(p13), kit.replica14(p14)], 'Yjs 13 + 14 run', log)

    const late13 = kit.yjs13('y-websocket@3.1.0', room)
    const late14 = kit.yjs14(room)
    await synced(kit, late13, late14)
    await converged(serverDoc, [kit.replica13(p13), kit.replica14(p14), kit.replica13(late13), kit.replica14(late14)], 'Yjs 13 + 14 later joiners', log)
  })

  test.concurrent(`${YJS14_CLIENT} (Yjs 14): a type it creates inside another reaches Yjs 13 as an XML node (a Yjs 14 data-model change; the server relays it faithfully)`, async (ctx) => {
    const { server, kit } = await setup(ctx)
    const room = 'yjs14-nested'
    const p13 = kit.yjs13('y-websocket@3.1.0', room)
    const p14 = kit.yjs14(room)
    await synced(kit, p13, p14)
    // A Yjs 14 user puts a map of settings inside the root map.
    const settings = new Y14.Type()
    p14.doc.get('nested').setAttr('settings', settings)
    settings.setAttr('theme', 'dark')
    await waitFor(() => p13.doc.getMap('nested').has('settings'), 'the settings to reach Yjs 13')
    await converged(() => server.rooms.get(room)?.document.doc, [kit.replica13(p13), kit.replica14(p14)], 'Yjs 14 nested type')
    const seen = p13.doc.getMap('nested').get('settings')
    ctx.expect(seen).toBeInstanceOf(Y.XmlFragment) // what a Yjs 13 user finds
    ctx.expect(seen).not.toBeInstanceOf(Y.Map)
    ctx.expect((seen as Y.XmlFragment).toJSON()).toBe('') // 'theme' is there, but not readable via Yjs 13's API
    // A map created by Yjs 13 stays a map for both.
    const prefs = new Y.Map<unknown>()
    p13.doc.getMap('nested').set('prefs', prefs)
    prefs.set('font', 'mono')
    await waitFor(() => (p14.doc.get('nested').getAttr('prefs') as Y14.Type | undefined)?.getAttr('font') === 'mono', 'Yjs 14 to read a Yjs 13 map')
    ;(p14.doc.get('nested').getAttr('prefs') as Y14.Type).setAttr('size', 12)
    await waitFor(() => prefs.get('size') === 12, 'Yjs 13 to read Yjs 14\'s entry in that map')
  })
})
