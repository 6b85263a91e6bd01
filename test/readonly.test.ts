// Read-only access: the client receives everything, may share its cursor, but its document
// edits never reach the room's document, its storage, or other clients; it is told once.
import { afterEach, expect, test, vi } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import { sign, SECRET } from './authHelpers.js'
import { startServer, storedText, TestClient, waitFor } from './helpers.js'

let server: ConcordServer | undefined
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
  server = undefined
})


test("a read-only client's edits reach neither the document, storage nor other clients; it is told once; its view updates", async () => {
  const store = memoryStorage()
  server = await startServer({ authSecret: SECRET, store })
  const writeToken = await sign({ rooms: ['notes/*'], access: 'write', sub: 'writer' })
  const readToken = await sign({ rooms: ['notes/*'], access: 'read', sub: 'reader' })

  const writer = await new TestClient(server.url, 'notes/ro', `?token=${writeToken}`).connect()
  const other = await new TestClient(server.url, 'notes/ro', `?token=${writeToken}`).connect()
  clients.push(writer, other)
  writer.doc.getText('t').insert(0, 'base ')
  await waitFor(() => other.text === 'base ', 'other to see the base text')

  // The reader brings offline edits of its own: its sync step 2 carries them and is dropped too.
  const reader = new TestClient(server.url, 'notes/ro', `?token=${readToken}`)
  clients.push(reader)
  reader.doc.getText('t').insert(0, 'OFFLINE ')
  await reader.connect()
  for (let i = 0; i < 5; i++) reader.doc.getText('t').insert(0, `X${i} `)
  reader.awareness.setLocalStateField('user', { name: 'viewer' })

  // Its view still updates.
  writer.doc.getText('t').insert(5, 'more')
  await waitFor(() => reader.text.includes('base more'), 'the reader to see the writer')
  // Its awareness is relayed (a viewer's cursor may be shown).
  await waitFor(() => [...writer.awareness.getStates().values()].some((s) => s.user?.name === 'viewer'), 'the reader’s awareness')

  // Told once, with a reason, however many edits it sent.
  await waitFor(() => reader.count('auth') >= 1, 'the permission-denied message')
  const told = reader.received.filter((m) => m.type === 'auth')
  expect(told).toHaveLength(1)
  expect(told[0]).toMatchObject({ type: 'auth', reason: expect.stringMatching(/read-only/) })

  // Nothing of it anywhere: room document, other clients, storage.
  await server.rooms.flushAll()
  const room = server.rooms.get('notes/ro')
  expect(room?.document.doc.getText('t').toString()).toBe('base more')
  expect(writer.text).toBe('base more')
  expect(other.text).toBe('base more')
  expect(await storedText(store, 'notes/ro')).toBe('base more')
  expect(reader.closeCode).toBeNull() // read-only is not a reason to drop the connection
})

test('a stock y-websocket client with a read token follows the document and is told it may not write', async () => {
  server = await startServer({ authSecret: SECRET })
  const writer = await new TestClient(server.url, 'doc', `?token=${await sign({ rooms: ['doc'], access: 'write' })}`).connect()
  clients.push(writer)
  writer.doc.getText('t').insert(0, 'hello')
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(server.url, 'doc', doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    params: { token: await sign({ rooms: ['doc'], access: 'read' }) },
  })
  try {
    await waitFor(() => doc.getText('t').toString() === 'hello', 'the stock client to sync')
    doc.getText('t').insert(0, 'nope ')
    writer.doc.getText('t').insert(5, ' world')
    await waitFor(() => doc.getText('t').toString().endsWith('hello world'), 'the stock client to follow')
    await waitFor(() => warn.mock.calls.some((c) => String(c[0]).includes('Permission denied')), 'the permission-denied warning')
    expect(server.rooms.get('doc')?.document.doc.getText('t').toString()).toBe('hello world')
    expect(writer.text).toBe('hello world')
    expect(provider.wsconnected).toBe(true)
  } finally {
    provider.destroy()
    doc.destroy()
    warn.mockRestore()
  }
})

test('with --read-only-awareness off, a reader sees others’ awareness but shares none', async () => {
  server = await startServer({ authSecret: SECRET, readOnlyAwareness: false })
  const writer = await new TestClient(server.url, 'quiet', `?token=${await sign({ rooms: ['quiet'], access: 'write' })}`).connect()
  const reader = await new TestClient(server.url, 'quiet', `?token=${await sign({ rooms: ['quiet'], access: 'read' })}`).connect()
  clients.push(writer, reader)
  reader.awareness.setLocalStateField('user', { name: 'viewer' })
  reader.doc.getText('t').insert(0, 'dropped') // its refusal arrives after the awareness frame was handled
  await waitFor(() => reader.count('auth') === 1, 'the permission-denied message')
  writer.awareness.setLocalStateField('user', { name: 'editor' })
  await waitFor(() => [...reader.awareness.getStates().values()].some((s) => s.user?.name === 'editor'), 'the reader to see the editor')
  expect([...writer.awareness.getStates().values()].map((s) => s.user?.name)).toEqual(['editor'])
  expect(server.rooms.get('quiet')?.presence.size).toBe(1)
})
