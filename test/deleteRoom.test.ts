// Listing and deleting documents through the HTTP API against a real server: the list comes
// from storage (loaded or not) a page at a time; a delete closes the room's connections with
// 4410 on every instance, leaves nothing stored, and a client still holding the deleted
// document cannot bring it back.
import { randomBytes } from 'node:crypto'
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider as ProviderV1 } from 'y-websocket-v1'
import { WebsocketProvider as ProviderV3 } from 'y-websocket'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import { sqliteStorage } from '../server/storage/sqlite.js'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SECRET, sign } from './authHelpers.js'
import { deleteRedisKeys } from './clusterKit.js'
import { startServer, TestClient, waitFor } from './helpers.js'

const servers: ConcordServer[] = []
const clients: TestClient[] = []
const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
  for (const f of cleanups.splice(0)) await f()
})

const httpOf = (server: ConcordServer) => server.url.replace('ws:', 'http:')
const text = (c: TestClient) => c.doc.getText('codemirror').toString()

async function typed(server: ConcordServer, room: string, content: string): Promise<TestClient> {
  const c = await new TestClient(server.url, room).connect()
  clients.push(c)
  c.doc.getText('codemirror').insert(0, content)
  await waitFor(() => server.rooms.get(room)?.document.doc.getText('codemirror').toString().startsWith(content) === true, 'the edit to arrive')
  return c
}

test('the list holds stored rooms, loaded or not, by name or newest first, a page at a time, filtered by prefix', async () => {
  const store = memoryStorage()
  const server = await startServer({ store, unloadAfterMs: 20 })
  servers.push(server)
  const names = ['notes/a', 'notes/b', 'notes/c', 'notes_x', 'other', 'notes/d']
  for (const name of names) {
    const c = await typed(server, name, `content of ${name}`)
    c.destroy()
    await new Promise((r) => setTimeout(r, 5)) // distinct update times
  }
  await waitFor(() => server.rooms.size === 0, 'every room to unload')
  const live = await typed(server, 'notes/b', 'more ') // one loaded, with a connection
  const http = httpOf(server)
  const all = await (await fetch(`${http}/api/rooms`)).json()
  expect(all.rooms.map((r: { name: string }) => r.name)).toEqual([...names].sort())
  expect(all.rooms.find((r: { name: string }) => r.name === 'notes/b').connections).toBe(1)
  expect(all.rooms.find((r: { name: string }) => r.name === 'other').connections).toBe(0)
  const recent = await (await fetch(`${http}/api/rooms?order=recent`)).json()
  expect(recent.rooms[0].name).toBe('notes/b') // changed last
  expect(recent.rooms.slice(1).map((r: { name: string }) => r.name)).toEqual(['notes/d', 'other', 'notes_x', 'notes/c', 'notes/a'])
  // Pages of two, with the prefix (an underscore is not a wildcard).
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const page: { rooms: Array<{ name: string }>; next: string | null } =
      await (await fetch(`${http}/api/rooms?prefix=notes/&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json()
    seen.push(...page.rooms.map((r) => r.name))
    cursor = page.next
    pages++
  } while (cursor)
  expect(seen).toEqual(['notes/a', 'notes/b', 'notes/c', 'notes/d'])
  expect(pages).toBe(2)
  live.destroy()
})

test('a delete closes every connection with 4410, forgets everything, and a later join starts empty', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-delete-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const store = sqliteStorage(join(dir, 'd.db'))
  const server = await startServer({ store })
  servers.push(server)
  const a = await typed(server, 'gone', 'secret plans')
  const b = await new TestClient(server.url, 'gone').connect()
  clients.push(b)
  await fetch(`${httpOf(server)}/api/rooms/gone/versions`, { method: 'POST', body: '{"label":"kept?"}' })
  const http = httpOf(server)
  const res = await fetch(`${http}/api/rooms/gone`, { method: 'DELETE' })
  expect(res.status).toBe(200)
  expect(await res.json()).toEqual({ room: 'gone', deleted: true })
  for (const c of [a, b]) {
    expect(await c.closed()).toBe(4410)
    expect(c.closeReason).toBe('document deleted')
  }
  expect(await store.load('gone')).toEqual([])
  expect(await store.versions('gone')).toEqual([])
  expect((await fetch(`${http}/api/rooms/gone/text`)).status).toBe(404)
  expect((await (await fetch(`${http}/api/rooms`)).json()).rooms).toEqual([])
  expect((await fetch(`${http}/api/rooms/gone`, { method: 'DELETE' })).status).toBe(404)

  // A fresh client starts empty and writes a new document.
  const fresh = await new TestClient(server.url, 'gone').connect()
  clients.push(fresh)
  expect(text(fresh)).toBe('')
  fresh.doc.getText('codemirror').insert(0, 'a new start')
  await waitFor(() => server.rooms.get('gone')?.document.doc.getText('codemirror').toString() === 'a new start', 'the new edit')

  // A client still holding the deleted document is refused: it cannot bring it back.
  const stale = new TestClient(server.url, 'gone')
  clients.push(stale)
  Y.applyUpdate(stale.doc, Y.encodeStateAsUpdate(a.doc))
  await stale.opened
  stale.sendRaw(new Uint8Array([0, 0, 1, 0])) // sync step 1 with an empty state vector
  expect(await stale.closed()).toBe(4410)
  // Its whole document went with its step 2: refused whole.
  await new Promise((r) => setTimeout(r, 50))
  expect(server.rooms.get('gone')?.document.doc.getText('codemirror').toString()).toBe('a new start')
  expect((await store.list({ order: 'name', limit: 10 })).rooms.map((r) => r.name)).toEqual(['gone'])
})

test.each([['1.5.4 (reconnects after any close)', ProviderV1], ['3.1.0 (stops on 44xx)', ProviderV3]] as const)('a stock y-websocket %s client of a deleted document does not bring it back', async (_, Provider) => {
  const store = memoryStorage()
  const server = await startServer({ store })
  servers.push(server)
  const doc = new Y.Doc()
  const provider = new Provider(server.url, 'stock', doc, { WebSocketPolyfill: WebSocket as never, disableBc: true, maxBackoffTime: 100 })
  cleanups.push(() => { provider.destroy(); doc.destroy() })
  await waitFor(() => provider.synced, 'the provider to sync')
  doc.getText('codemirror').insert(0, 'to be deleted')
  await waitFor(() => server.rooms.get('stock')?.document.doc.getText('codemirror').length === 13, 'the edit')
  expect((await fetch(`${httpOf(server)}/api/rooms/stock`, { method: 'DELETE' })).status).toBe(200)
  // Whether or not it reconnects, the document stays deleted.
  await new Promise((r) => setTimeout(r, 1500))
  const now = server.rooms.get('stock')
  expect(now?.document.doc.getText('codemirror').toString() ?? '').toBe('')
  expect(await store.load('stock')).toEqual([])
})

test('deleting needs admin access when auth is on', async () => {
  const server = await startServer({ store: memoryStorage(), authSecret: SECRET })
  servers.push(server)
  const http = httpOf(server)
  const post = await fetch(`${http}/api/rooms/locked/update`, {
    method: 'POST', headers: { authorization: `Bearer ${await sign({ rooms: 'locked', access: 'write' })}` },
    body: (() => { const d = new Y.Doc(); d.getText('codemirror').insert(0, 'x'); return new Uint8Array(Y.encodeStateAsUpdate(d)) })(),
  })
  expect(post.status).toBe(200)
  const del = async (headers: Record<string, string>) => fetch(`${http}/api/rooms/locked`, { method: 'DELETE', headers })
  expect((await del({})).status).toBe(401)
  const writer = await del({ authorization: `Bearer ${await sign({ rooms: 'locked', access: 'write' })}` })
  expect(writer.status).toBe(403)
  expect((await writer.json()).error).toMatch(/admin access/)
  expect((await del({ authorization: `Bearer ${await sign({ rooms: 'other', access: 'admin' })}` })).status).toBe(403)
  expect((await del({ authorization: `Bearer ${await sign({ rooms: 'locked', access: 'admin', sub: 'root' })}` })).status).toBe(200)
  expect((await fetch(`${http}/api/rooms/locked/text`, { headers: { authorization: `Bearer ${await sign({ rooms: 'locked' })}` } })).status).toBe(404)
})

test('a delete on one instance closes the room on every instance of a cluster', async () => {
  const store = memoryStorage()
  const prefix = `concord-test-delete-${randomBytes(4).toString('hex')}:`
  cleanups.push(() => deleteRedisKeys('redis://127.0.0.1:6379', prefix))
  const options = { store, redis: 'redis://127.0.0.1:6379', redisPrefix: prefix }
  const one = await startServer(options)
  const two = await startServer(options)
  servers.push(one, two)
  const a = await typed(one, 'shared', 'on one')
  const b = await new TestClient(two.url, 'shared').connect()
  clients.push(b)
  await waitFor(() => text(b) === 'on one', 'the second instance to have it')
  expect((await fetch(`${httpOf(one)}/api/rooms/shared`, { method: 'DELETE' })).status).toBe(200)
  expect(await a.closed()).toBe(4410)
  expect(await b.closed()).toBe(4410)
  await waitFor(() => two.rooms.get('shared') === undefined, 'the second instance to drop the room')
  expect(await store.load('shared')).toEqual([])
})

test('rows of the deleted document still in flight when it was deleted never load again; new content does', async () => {
  const store = memoryStorage()
  const server = await startServer({ store, unloadAfterMs: 10 })
  servers.push(server)
  const a = await typed(server, 'race', 'old secret')
  const old = Y.encodeStateAsUpdate(a.doc)
  expect((await fetch(`${httpOf(server)}/api/rooms/race`, { method: 'DELETE' })).status).toBe(200)
  // Another instance's batch, written after the delete: the whole old document, and a later
  // edit of it.
  a.doc.getText('codemirror').insert(0, 'more ')
  await store.append([{ room: 'race', update: old }, { room: 'race', update: Y.encodeStateAsUpdate(a.doc) }])
  const fresh = await new TestClient(server.url, 'race').connect()
  clients.push(fresh)
  expect(text(fresh)).toBe('')
  fresh.doc.getText('codemirror').insert(0, 'new life')
  await waitFor(() => server.rooms.get('race')?.document.doc.getText('codemirror').toString() === 'new life', 'the new edit')
  fresh.destroy()
  await waitFor(() => server.rooms.get('race') === undefined, 'the room to unload')
  const later = await new TestClient(server.url, 'race').connect()
  clients.push(later)
  expect(text(later)).toBe('new life')
})
