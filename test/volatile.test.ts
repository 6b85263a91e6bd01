// `--storage memory` keeps nothing across a restart, so a loaded room's document is as safe
// as the store: live updates are not appended one by one, and the room's state goes to the
// store when it unloads or the server stops. What users see must not change: a room typed
// in, left and reopened has its text; write acknowledgements still arrive; an embedder that
// keeps its store across servers keeps the documents.
import { afterEach, expect, test } from 'vitest'
import { AckClient } from './ackClient.js'
import { TestClient, startServer, storedText, waitFor } from './helpers.js'
import { memoryStorage } from '../server/storage/memory.js'
import type { ConcordServer } from '../server/server.js'
import type { Storage } from '../server/storage/types.js'

const servers: ConcordServer[] = []
const clients: Array<{ destroy(): void }> = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
})

async function start(store: Storage, unloadAfterMs = 30_000): Promise<ConcordServer> {
  const server = await startServer({ store, unloadAfterMs })
  servers.push(server)
  return server
}

test('a room typed in, left and reopened has its text; the store holds one snapshot of it', async () => {
  const store = memoryStorage({ volatile: true })
  const server = await start(store, 50)
  const a = await new TestClient(server.url, 'notes').connect()
  clients.push(a)
  const text = a.doc.getText('t')
  for (const ch of 'kept in memory') text.insert(text.length, ch)
  await waitFor(() => server.rooms.get('notes')?.document.doc.getText('t').toString() === 'kept in memory', 'the edits to arrive')
  expect(await store.load('notes')).toEqual([]) // nothing appended per keystroke
  a.destroy()
  await waitFor(() => server.rooms.size === 0, 'the room to unload')
  const stored = await store.load('notes')
  expect(stored).toHaveLength(1)
  expect(await storedText(store, 'notes')).toBe('kept in memory')
  const b = await new TestClient(server.url, 'notes').connect()
  clients.push(b)
  await waitFor(() => b.doc.getText('t').toString() === 'kept in memory', 'the reopened room to sync')
})

test('a room reopened unchanged is not stored again; one changed again replaces its snapshot', async () => {
  const stored: string[] = []
  const inner = memoryStorage({ volatile: true })
  const store: Storage = { ...inner, replace: (room, snapshot) => { stored.push(room); inner.replace!(room, snapshot) } }
  const server = await start(store, 50)
  const visit = async (edit: string) => {
    const c = await new TestClient(server.url, 'r').connect()
    if (edit) c.doc.getText('t').insert(0, edit)
    await waitFor(() => server.rooms.get('r')?.document.doc.getText('t').toString().startsWith(edit) === true, 'the edit')
    c.destroy()
    await waitFor(() => server.rooms.size === 0, 'the room to unload')
  }
  await visit('one ')
  await visit('')
  expect(stored).toEqual(['r'])
  await visit('two ')
  expect(stored).toEqual(['r', 'r'])
  expect(await storedText(store, 'r')).toBe('two one ')
  expect(await store.load('r')).toHaveLength(1)
})

test('write acknowledgements arrive for every update', async () => {
  const server = await start(memoryStorage({ volatile: true }))
  const c = new AckClient(server.url, 'acked', false)
  clients.push(c)
  await waitFor(() => c.synced, 'sync')
  for (let i = 0; i < 20; i++) c.type('x')
  await waitFor(() => c.allAcked && c.ackCounts.at(-1) === 1 + 20, 'twenty acknowledgements') // and step 2's
})

test('a server closing gives an embedder\'s store every room; the next server over it has them', async () => {
  const store = memoryStorage({ volatile: true })
  const first = await start(store)
  const a = await new TestClient(first.url, 'embedded').connect()
  a.doc.getText('t').insert(0, 'survives a server')
  await waitFor(() => first.rooms.get('embedded')?.document.doc.getText('t').toString() === 'survives a server', 'the edit')
  a.destroy()
  await first.close()
  servers.splice(servers.indexOf(first), 1)
  expect(await storedText(store, 'embedded')).toBe('survives a server')
  const second = await start(store)
  const b = await new TestClient(second.url, 'embedded').connect()
  clients.push(b)
  await waitFor(() => b.doc.getText('t').toString() === 'survives a server', 'the next server to serve it')
})
