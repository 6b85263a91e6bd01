// Room lifecycle: one load per room however many joins race, nothing answered before the
// load, a failing load closes with 1013 and stores nothing, and unloading returns memory.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import type { ConcordServer } from '../server/server.js'
import { encodeSyncStep1 } from '../server/protocol/messages.js'
import { memoryStorage } from '../server/storage/memory.js'
import { sqliteStorage } from '../server/storage/sqlite.js'
import type { Storage } from '../server/storage/types.js'
import { sleep, startServer, TestClient, waitFor } from './helpers.js'

let server: ConcordServer | undefined
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
  server = undefined
})

/// Stored updates of a document whose text is `text`.
function storedText(text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  const u = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return u
}

/// A memory store whose loads are counted and can be held back or made to fail.
function instrumented(base: Storage = memoryStorage()) {
  let release!: () => void
  let gate: Promise<void> = Promise.resolve()
  const control = {
    loads: 0,
    appends: 0,
    failLoads: false,
    hold() { gate = new Promise((r) => (release = r)) },
    release: () => release(),
  }
  const store: Storage = {
    ...base,
    appendNow: undefined, // every append goes through `append` below
    async load(room) {
      control.loads++
      await gate
      if (control.failLoads) throw new Error('disk on fire')
      return base.load(room)
    },
    async append(entries) {
      control.appends += entries.length
      return base.append(entries)
    },
  }
  return { store, control, base }
}

test('concurrent joins share one load, and nobody is answered before it completes', async () => {
  const { store, control, base } = instrumented()
  await base.append([{ room: 'shared', update: storedText('stored ') }])
  control.hold()
  server = await startServer({ store })
  const joiners = Array.from({ length: 20 }, () => new TestClient(server!.url, 'shared'))
  clients.push(...joiners)
  await Promise.all(joiners.map((c) => c.opened))
  for (const [i, c] of joiners.entries()) {
    c.sendRaw(encodeSyncStep1(Y.encodeStateVector(c.doc)))
    c.doc.getText('t').insert(0, `[${i}]`) // sent before the room exists
  }
  await waitFor(() => control.loads === 1, 'the load to start')
  await sleep(100) // the frames above have reached the server by now
  expect(control.loads).toBe(1)
  expect(joiners.map((c) => c.received.length)).toEqual(joiners.map(() => 0))
  control.release()
  await waitFor(() => joiners.every((c) => c.synced), 'every joiner to sync')
  await waitFor(() => joiners.every((c) => c.text.length === joiners[0].text.length && c.text.includes('stored')), 'convergence')
  for (const c of joiners) {
    expect(c.text).toBe(joiners[0].text)
    for (let i = 0; i < joiners.length; i++) expect(c.text).toContain(`[${i}]`)
  }
  expect(control.loads).toBe(1)
})

test('a failing load closes with 1013, applies nothing, and never stores over the real document', async () => {
  const { store, control, base } = instrumented()
  await base.append([{ room: 'precious', update: storedText('the real text') }])
  control.failLoads = true
  server = await startServer({ store })
  const a = new TestClient(server.url, 'precious')
  clients.push(a)
  await a.opened
  a.sendRaw(encodeSyncStep1(Y.encodeStateVector(a.doc)))
  a.doc.getText('t').insert(0, 'blank-doc edit ')
  expect(await a.closed()).toBe(1013)
  expect(a.received).toHaveLength(0)
  expect(server.rooms.size).toBe(0)
  expect(control.appends).toBe(0)

  // The store recovers: the next join loads the real document, not an empty one.
  control.failLoads = false
  const b = await new TestClient(server.url, 'precious').connect()
  clients.push(b)
  expect(b.text).toBe('the real text')
  expect(control.loads).toBe(2)
  await server.rooms.flushAll()
  const stored = new Y.Doc()
  for (const u of await base.load('precious')) Y.applyUpdate(stored, u)
  expect(stored.getText('t').toString()).toBe('the real text')
})

test('a room without peers is stored and unloaded after the grace period, and a returning peer keeps it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-life-'))
  const store = sqliteStorage(join(dir, 'rooms.db'))
  try {
    server = await startServer({ store, unloadAfterMs: 200 })
    const a = await new TestClient(server.url, 'grace').connect()
    a.doc.getText('t').insert(0, 'kept')
    await waitFor(() => server!.rooms.get('grace')?.document.doc.getText('t').toString() === 'kept', 'the edit to arrive')
    const room = server.rooms.get('grace')
    a.destroy()
    // Back within the grace period: same room object.
    const b = await new TestClient(server.url, 'grace').connect()
    clients.push(b)
    expect(server.rooms.get('grace')).toBe(room)
    b.destroy()
    await waitFor(() => server!.rooms.size === 0, 'the room to unload', 10_000)
    // It was stored: a new server over the same file has it.
    const loaded = await store.load('grace')
    const doc = new Y.Doc()
    for (const u of loaded) Y.applyUpdate(doc, u)
    expect(doc.getText('t').toString()).toBe('kept')
  } finally {
    await server?.close()
    server = undefined
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

// Exposing gc at run time works in Node: vitest's workers need no special flags.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(20)
  }
  return process.memoryUsage().heapUsed
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

/// Open `n` rooms, each with a client that writes a line, then close every client.
async function churn(s: ConcordServer, prefix: string, n: number): Promise<void> {
  for (let start = 0; start < n; start += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - start) }, (_, i) => new TestClient(s.url, `${prefix}-${start + i}`).connect()),
    )
    for (const c of batch) c.doc.getText('t').insert(0, `line of room ${c.ws.url} `.repeat(300))
    await waitFor(() => batch.every((c) => s.rooms.get(c.ws.url.split('/').pop()!)?.document.doc.getText('t').length), 'edits to arrive')
    for (const c of batch) c.destroy()
  }
}

test('1000 rooms opened and closed: none stays resident, timers and heap come back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-life-'))
  const store = sqliteStorage(join(dir, 'rooms.db'))
  try {
    server = await startServer({ store, unloadAfterMs: 20 })
    await churn(server, 'warm', 50) // load code paths and caches first
    await waitFor(() => server!.rooms.size === 0, 'warm-up rooms to unload', 20_000)
    const heapBefore = await settledHeap()
    const timersBefore = timers()

    await churn(server, 'room', 1000)
    await waitFor(() => server!.rooms.size === 0, 'every room to unload', 60_000)
    const heapAfter = await settledHeap()

    expect(server.rooms.size).toBe(0)
    expect([...server.rooms.loaded()]).toHaveLength(0)
    expect(timers()).toBeLessThanOrEqual(timersBefore)
    // Each room's text alone is over 12 KB, so 1000 resident rooms would hold over 12 MB;
    // all of it returns, give or take a few MB of noise.
    expect(heapAfter - heapBefore).toBeLessThan(8 * 1024 * 1024)
    console.log(`lifecycle: heap ${(heapBefore / 1e6).toFixed(1)} MB before, ${(heapAfter / 1e6).toFixed(1)} MB after 1000 rooms`)
    // Every room's text is in the store.
    const doc = new Y.Doc()
    for (const u of await store.load('room-999')) Y.applyUpdate(doc, u)
    expect(doc.getText('t').toString()).toContain('line of room')
  } finally {
    await server?.close()
    server = undefined
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test("a room's log is compacted past the threshold while clients keep typing, losing nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-life-'))
  const store = sqliteStorage(join(dir, 'rooms.db'))
  try {
    server = await startServer({ store, compactAfterUpdates: 20 })
    const a = await new TestClient(server.url, 'busy').connect()
    const b = await new TestClient(server.url, 'busy').connect()
    clients.push(a, b)
    for (let i = 0; i < 300; i++) {
      ;(i % 2 ? a : b).doc.getText('t').insert(0, `${i};`)
      if (i % 3 === 0) await sleep(1) // many turns, many appends
    }
    await waitFor(() => a.text === b.text && a.text.split(';').length === 301, 'convergence', 20_000)
    await server.rooms.flushAll()
    await server.rooms.compactor.idle()
    const loaded = await store.load('busy')
    expect(loaded.length).toBeLessThan(300 / 5) // a snapshot and a short tail, not 300 rows
    const doc = new Y.Doc()
    for (const u of loaded) Y.applyUpdate(doc, u)
    expect(doc.getText('t').toString()).toBe(a.text)
  } finally {
    await server?.close()
    server = undefined
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('initial content is applied once, however many joins and instances race', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-seed-'))
  const file = join(dir, 'welcome.md')
  writeFileSync(file, '# Welcome\n')
  // Two servers over one store stand for two instances; loads are held until both have
  // asked, so both really see an empty room.
  const base = memoryStorage()
  let asked = 0
  let bothAsked!: () => void
  const gate = new Promise<void>((r) => (bothAsked = r))
  const shared: Storage = {
    ...base,
    async load(room) {
      if (++asked === 2) bothAsked()
      await gate
      return base.load(room)
    },
  }
  const other = await startServer({ store: shared, initialContent: file, initialContentField: 't' })
  try {
    server = await startServer({ store: shared, initialContent: file, initialContentField: 't' })
    const joiners = Array.from({ length: 10 }, (_, i) => new TestClient(i % 2 ? server!.url : other.url, 'fresh'))
    clients.push(...joiners)
    await Promise.all(joiners.map((c) => c.connect()))
    for (const c of joiners) expect(c.text).toBe('# Welcome\n')
    joiners[0].doc.getText('t').insert(10, 'hello')
    await waitFor(() => other.rooms.get('fresh')?.document.doc.getText('t').toString().endsWith('hello') === true, 'the edit to arrive')
    await server.rooms.flushAll()
    await other.rooms.flushAll()
    // Both instances stored the seed; the text is still there once.
    const doc = new Y.Doc()
    const stored = await base.load('fresh')
    expect(stored.length).toBeGreaterThanOrEqual(3) // two seeds and the edit
    for (const u of stored) Y.applyUpdate(doc, u)
    expect(doc.getText('t').toString()).toBe('# Welcome\nhello')
  } finally {
    for (const c of clients.splice(0)) c.destroy()
    await other.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
