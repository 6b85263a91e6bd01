// Versions through the HTTP API against a real server: taken on request and automatically,
// with their authors; restored on every shared type as an edit that every client receives;
// kept across compaction.
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import { SECRET, sign } from './authHelpers.js'
import { startServer, TestClient, waitFor } from './helpers.js'

const servers: ConcordServer[] = []
const clients: TestClient[] = []
const cleanups: Array<() => void> = []
afterEach(async () => {
  for (const f of cleanups.splice(0)) f()
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
})

const httpOf = (server: ConcordServer) => server.url.replace('ws:', 'http:')
interface Version { id: number; createdAt: number; label: string | null; authors: string[]; bytes: number }

async function versions(server: ConcordServer, room: string, headers: Record<string, string> = {}): Promise<Version[]> {
  const res = await fetch(`${httpOf(server)}/api/rooms/${encodeURIComponent(room)}/versions`, { headers })
  expect(res.status).toBe(200)
  return ((await res.json()) as { versions: Version[] }).versions
}

async function name(server: ConcordServer, room: string, label: string | null, headers: Record<string, string> = {}): Promise<Version> {
  const res = await fetch(`${httpOf(server)}/api/rooms/${encodeURIComponent(room)}/versions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(label === null ? {} : { label }),
  })
  expect(res.status).toBe(201)
  return ((await res.json()) as { version: Version }).version
}

async function connect(server: ConcordServer, room: string, user?: string, query = ''): Promise<TestClient> {
  const c = new TestClient(server.url, room, query)
  clients.push(c)
  await c.connect()
  // Sent once open (the test client drops what it sends before).
  if (user) c.awareness.setLocalStateField('user', { name: user, color: '#123456' })
  return c
}

/// Every shared type of a document, as comparable JSON (rich text as its delta, XML as markup).
function content(doc: Y.Doc) {
  return {
    rich: doc.getText('rich').toDelta(),
    map: doc.getMap('map').toJSON(),
    array: doc.getArray('array').toJSON(),
    xml: doc.getXmlFragment('xml').toString(),
    later: doc.getText('later').toString(),
  }
}

/// Build a document of every type, in one client.
function build(doc: Y.Doc): void {
  doc.transact(() => {
    const rich = doc.getText('rich')
    rich.insert(0, 'Hello brave world')
    rich.format(0, 5, { bold: true })
    rich.insertEmbed(5, { image: 'a.png' })
    const map = doc.getMap('map')
    map.set('title', 'draft')
    const inner = new Y.Map<unknown>()
    map.set('meta', inner)
    inner.set('tags', ['a', 'b'])
    const list = new Y.Array<unknown>()
    list.push(['x', 'y'])
    inner.set('list', list)
    doc.getArray('array').push([1, 'two', { three: 3 }])
    const p = new Y.XmlElement('paragraph')
    p.setAttribute('align', 'left')
    const t = new Y.XmlText()
    t.insert(0, 'para', { em: true })
    p.insert(0, [t])
    doc.getXmlFragment('xml').insert(0, [p])
  })
}

/// Change every type of `doc` (built by `build`), nested ones included.
function change(doc: Y.Doc): void {
  doc.transact(() => {
    const rich = doc.getText('rich')
    rich.delete(0, 6)
    rich.insert(rich.length, ' and more', { italic: true })
    const map = doc.getMap('map')
    map.set('title', 'final')
    map.set('added', true)
    const inner = map.get('meta') as Y.Map<unknown>
    inner.delete('tags')
    ;(inner.get('list') as Y.Array<unknown>).insert(0, ['w'])
    doc.getArray('array').delete(0, 2)
    doc.getArray('array').push(['four'])
    const fragment = doc.getXmlFragment('xml')
    const p = fragment.get(0) as Y.XmlElement
    p.setAttribute('align', 'right')
    ;(p.get(0) as Y.XmlText).insert(0, 'new ', { strong: true })
    fragment.insert(1, [new Y.XmlElement('heading')])
    doc.getText('later').insert(0, 'made after the version')
  })
}

test('a restore brings every shared type back to the version, as an edit every client receives; restoring the version before undoes it', async () => {
  const server = await startServer({ store: memoryStorage() })
  servers.push(server)
  const a = await connect(server, 'doc', 'Ada')
  const b = await connect(server, 'doc', 'Bo')
  // A stock y-websocket client follows the restore too.
  const stockDoc = new Y.Doc()
  const stock = new WebsocketProvider(server.url, 'doc', stockDoc, { WebSocketPolyfill: WebSocket as never, disableBc: true })
  cleanups.push(() => { stock.destroy(); stockDoc.destroy() })
  build(a.doc)
  await waitFor(() => JSON.stringify(content(b.doc)) === JSON.stringify(content(a.doc)), 'b to have the document')
  const v1 = await name(server, 'doc', 'first')
  const atV1 = content(a.doc)
  change(b.doc)
  await waitFor(() => JSON.stringify(content(a.doc)) === JSON.stringify(content(b.doc)), 'a to have the changes')
  const changed = content(a.doc)
  expect(changed).not.toEqual(atV1)

  const http = httpOf(server)
  const res = await fetch(`${http}/api/rooms/doc/versions/${v1.id}/restore`, { method: 'POST' })
  expect(res.status).toBe(200)
  const { restored, before } = (await res.json()) as { restored: number; before: Version }
  expect(restored).toBe(v1.id)
  expect(before.label).toBe(`Before restoring version ${v1.id}`)
  for (const doc of [a.doc, b.doc, stockDoc]) await waitFor(() => JSON.stringify(content(doc)) === JSON.stringify(atV1), 'the client to show the version')
  expect(content(server.rooms.get('doc')!.document.doc)).toEqual(atV1)
  // What the version holds, served as an update, is that content too.
  const stored = new Y.Doc()
  Y.applyUpdate(stored, new Uint8Array(await (await fetch(`${http}/api/rooms/doc/versions/${v1.id}/update`)).arrayBuffer()))
  expect(content(stored)).toEqual(atV1)

  // The restore is one more change: restoring the version taken before it undoes it.
  expect((await fetch(`${http}/api/rooms/doc/versions/${before.id}/restore`, { method: 'POST' })).status).toBe(200)
  for (const c of [a, b]) await waitFor(() => JSON.stringify(content(c.doc)) === JSON.stringify(changed), 'the client to show the changes again')
  // A client joining now has the same document as everyone.
  const late = await connect(server, 'doc')
  expect(content(late.doc)).toEqual(changed)
})

test('versions name who changed the document since the previous one: token subjects, else display names', async () => {
  const server = await startServer({ store: memoryStorage(), authSecret: SECRET })
  servers.push(server)
  const token = async (sub: string) => `?token=${await sign({ rooms: 'r', access: 'write', sub })}`
  const read = { authorization: `Bearer ${await sign({ rooms: 'r', sub: 'reader' })}` }
  const alice = await connect(server, 'r', 'Alice in the editor', await token('alice'))
  const bob = await connect(server, 'r', undefined, await token('bob'))
  alice.doc.getText('codemirror').insert(0, 'from alice ')
  bob.doc.getText('codemirror').insert(0, 'from bob ')
  await waitFor(() => alice.doc.getText('codemirror').length === bob.doc.getText('codemirror').length && bob.doc.getText('codemirror').length === 20, 'both edits')
  const writer = { authorization: `Bearer ${await sign({ rooms: 'r', access: 'write', sub: 'carol' })}` }
  const atFirst = alice.doc.getText('codemirror').toString() // the order of the two inserts is Yjs'
  const first = await name(server, 'r', 'both', writer)
  expect(first.authors).toEqual(['alice', 'bob'])
  // Only alice since then.
  alice.doc.getText('codemirror').insert(0, 'again ')
  await waitFor(() => bob.doc.getText('codemirror').toString().startsWith('again'), 'the edit')
  const second = await name(server, 'r', null, writer)
  expect(second.authors).toEqual(['alice'])
  expect((await versions(server, 'r', read)).map((v) => v.id)).toEqual([second.id, first.id])
  // A read token may list and read versions, not take or restore them.
  expect((await fetch(`${httpOf(server)}/api/rooms/r/versions`, { method: 'POST', headers: read })).status).toBe(403)
  expect((await fetch(`${httpOf(server)}/api/rooms/r/versions/${first.id}/restore`, { method: 'POST', headers: read })).status).toBe(403)
  expect(await (await fetch(`${httpOf(server)}/api/rooms/r/versions/${first.id}/text`, { headers: read })).text()).toBe(atFirst)

  // Without auth, the display name of the writer's awareness state is the author.
  const open = await startServer({ store: memoryStorage() })
  servers.push(open)
  const ada = await connect(open, 'n', 'Ada')
  ada.doc.getText('codemirror').insert(0, 'by Ada')
  await waitFor(() => open.rooms.get('n')?.document.doc.getText('codemirror').length === 6, 'the edit')
  expect((await name(open, 'n', null)).authors).toEqual(['Ada'])

  // A volatile store (`--storage memory`) is never appended to: it hears of authors as changes
  // happen (`noteChange`), and names them the same.
  const volatile = await startServer()
  servers.push(volatile)
  const bo = await connect(volatile, 'v', 'Bo')
  bo.doc.getText('codemirror').insert(0, 'by Bo')
  await waitFor(() => volatile.rooms.get('v')?.document.doc.getText('codemirror').length === 5, 'the edit')
  expect((await name(volatile, 'v', null)).authors).toEqual(['Bo'])
})

test('automatic versions: after a quiet spell, and at the interval while edits go on; none for a room that did not change', async () => {
  const server = await startServer({ store: memoryStorage(), versionAfterQuietMs: 150, versionEveryMs: 1000 })
  servers.push(server)
  const a = await connect(server, 'auto', 'Ada')
  a.doc.getText('codemirror').insert(0, 'one')
  let list: Version[] = []
  const poll = async (count: number) => {
    const deadline = Date.now() + 5000
    while ((list = await versions(server, 'auto')).length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    return list
  }
  expect((await poll(1)).map((v) => [v.label, v.authors])).toEqual([[null, ['Ada']]])
  // Typing without a quiet spell of 150 ms still gets a version once the interval passes.
  const started = list.length
  const typing = setInterval(() => a.doc.getText('codemirror').insert(0, 'x'), 40)
  try {
    await poll(started + 1)
  } finally {
    clearInterval(typing)
  }
  expect(list.length).toBeGreaterThan(started)
  // Quiet with no change: no version is added.
  await poll(list.length + 1) // the last typing's quiet version
  const settled = list.length
  await new Promise((r) => setTimeout(r, 400))
  expect((await versions(server, 'auto')).length).toBe(settled)
})

test('versions survive compaction, and unlabelled ones are pruned to --max-versions', async () => {
  const store = memoryStorage()
  const server = await startServer({ store, compactAfterUpdates: 5, maxVersions: 2 })
  servers.push(server)
  const a = await connect(server, 'c')
  const text = a.doc.getText('codemirror')
  const taken: Array<{ v: Version; text: string }> = []
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 8; i++) text.insert(text.length, `${round}.${i} `)
    await waitFor(() => server.rooms.get('c')?.document.doc.getText('codemirror').toString() === text.toString(), 'the edits')
    taken.push({ v: await name(server, 'c', round === 0 ? 'kept' : null), text: text.toString() })
  }
  await server.rooms.compactor.idle()
  expect((await store.load('c')).length).toBeLessThan(10) // compacted
  const list = await versions(server, 'c')
  // The labelled one stays; of the three unlabelled ones, the newest two.
  expect(list.map((v) => v.id)).toEqual([taken[3].v.id, taken[2].v.id, taken[0].v.id])
  for (const { v, text: expected } of [taken[3], taken[2], taken[0]]) {
    expect(await (await fetch(`${httpOf(server)}/api/rooms/c/versions/${v.id}/text`)).text()).toBe(expected)
  }
})

test('a restore undoes changes made only to top-level types (text, array, map), one type at a time', async () => {
  const server = await startServer({ store: memoryStorage() })
  servers.push(server)
  const a = await connect(server, 'flat')
  a.doc.getText('codemirror').insert(0, 'first draft')
  a.doc.getArray('list').push(['a', 'b'])
  a.doc.getMap('props').set('k', 'v')
  await waitFor(() => server.rooms.get('flat')?.document.doc.getText('codemirror').length === 11, 'the edits')
  const v1 = await name(server, 'flat', 'v1')
  const edits: Array<() => void> = [
    () => a.doc.getText('codemirror').insert(11, ' and a second line'),
    () => a.doc.getArray('list').delete(0, 1),
    () => a.doc.getMap('props').set('k', 'changed'),
  ]
  const flat = (doc: Y.Doc) => JSON.stringify([doc.getText('codemirror').toString(), doc.getArray('list').toJSON(), doc.getMap('props').toJSON()])
  for (const edit of edits) {
    edit()
    await waitFor(() => flat(server.rooms.get('flat')!.document.doc) === flat(a.doc), 'the change')
    expect((await fetch(`${httpOf(server)}/api/rooms/flat/versions/${v1.id}/restore`, { method: 'POST' })).status).toBe(200)
    await waitFor(() => a.doc.getText('codemirror').toString() === 'first draft' && a.doc.getArray('list').length === 2 && a.doc.getMap('props').get('k') === 'v', 'the restore')
  }
})
