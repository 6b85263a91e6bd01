// Compaction from the live document: a loaded room's snapshot is its document, encoded once,
// instead of a replay of the log, but only while the store holds nothing the document lacks.
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import type { Storage } from '../server/storage/types.js'
import { sleep, startServer, TestClient, textOf, waitFor } from './helpers.js'

let server: ConcordServer | undefined
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
  server = undefined
})

/// Rows folded by each compaction of the store.
function counted(base: Storage, folds: number[]): Storage {
  return { ...base, compact: (room, merge) => base.compact!(room, (inputs) => (folds.push(inputs.length), merge(inputs))) }
}

async function typeAndCompact(client: TestClient, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    client.doc.getText('t').insert(client.doc.getText('t').length, `${i};`)
    await sleep(1) // one row per edit: the server merges the edits of one turn
  }
  await waitFor(() => server!.rooms.get('doc')?.document.doc.getText('t').toString() === client.text, 'the server to have every edit')
  await server!.rooms.flushAll()
  await server!.rooms.compactor.idle()
}

test('a loaded room compacts to its own document: the stored rows are not replayed', async () => {
  // Hand compaction a log of empty updates in place of the real rows: a replay would fold
  // them into an empty document; the live document still has every edit.
  const base = memoryStorage()
  const folds: number[] = []
  const store: Storage = {
    ...base,
    compact: (room, merge) => base.compact!(room, (inputs) => (folds.push(inputs.length), merge(inputs.map(() => Uint8Array.of(0, 0))))),
  }
  // Awake throughout: an asleep room holds no encoded snapshot while it keeps live edits, and
  // its compactions merge the rows (on the worker).
  server = await startServer({ store, compactAfterUpdates: 20, sleepAfterMs: 0 })
  const a = await new TestClient(server.url, 'doc').connect()
  clients.push(a)
  await typeAndCompact(a, 0, 60)
  expect(folds.length).toBeGreaterThan(0)
  expect(folds[0]).toBeGreaterThanOrEqual(20)
  expect(textOf(await base.load('doc'))).toBe(a.text)
})

test('rows another writer added behind the room\'s back are replayed, not lost', async () => {
  const base = memoryStorage()
  const folds: number[] = []
  server = await startServer({ store: counted(base, folds), compactAfterUpdates: 20 })
  const a = await new TestClient(server.url, 'doc').connect()
  clients.push(a)
  await typeAndCompact(a, 0, 5)
  // Another process writing the same store: the room's document never hears of this row.
  const other = new Y.Doc()
  other.getText('t').insert(0, 'from elsewhere;')
  await base.append([{ room: 'doc', update: Y.encodeStateAsUpdate(other) }])
  other.destroy()
  await typeAndCompact(a, 5, 60)
  expect(folds.length).toBeGreaterThan(0)
  const stored = await base.load('doc')
  expect(stored.length).toBeLessThan(folds[0]) // the foreign row was among the folded ones
  expect(textOf(stored)).toContain('from elsewhere;')
  expect(textOf(stored)).toContain('59;')
})
