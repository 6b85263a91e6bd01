// Write acknowledgements: opt-in with ?ack=1, sent only after the updates are stored, in
// order, never to stock clients, and never for a write that failed.
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import type { Storage } from '../server/storage/types.js'
import { AckClient, missingFrom } from './ackClient.js'
import { sleep, startServer, TestClient, waitFor } from './helpers.js'

let server: ConcordServer | undefined
const cleanups: Array<() => void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) c()
  await server?.close()
  server = undefined
})

/// A memory store whose appends can be held back or made to fail.
function gated() {
  const base = memoryStorage()
  const control = { held: false, fail: false, calls: 0, waiting: [] as Array<() => void> }
  const store: Storage = {
    ...base,
    appendNow: undefined, // every append goes through `append` below
    async append(entries) {
      control.calls++
      if (control.held) await new Promise<void>((r) => control.waiting.push(r))
      if (control.fail) throw new Error('disk full')
      return base.append(entries)
    },
  }
  const release = () => {
    control.held = false
    for (const r of control.waiting.splice(0)) r()
  }
  return { store, base, control, release }
}

test('acknowledgements come after storage, in order, and count every update sent', async () => {
  const { store, base, control, release } = gated()
  server = await startServer({ store })
  const c = new AckClient(server.url, 'acked', false)
  cleanups.push(() => c.destroy())
  await waitFor(() => c.allAcked, 'the sync to be acknowledged')
  control.held = true
  const callsBefore = control.calls
  c.type('hello')
  await waitFor(() => control.calls > callsBefore, 'the append to reach the store')
  await sleep(50)
  expect(c.allAcked).toBe(false) // not stored yet, so not acknowledged
  release()
  await waitFor(() => c.allAcked, 'the ack')
  for (let i = 0; i < 100; i++) {
    c.type(`${i},`)
    if (i % 10 === 0) await sleep(1) // spread over several turns and batches
  }
  await waitFor(() => c.allAcked, 'every update to be acknowledged')
  // Monotonic counts; the last one is every update message of the connection.
  for (let i = 1; i < c.ackCounts.length; i++) expect(c.ackCounts[i]).toBeGreaterThan(c.ackCounts[i - 1])
  expect(c.ackCounts.at(-1)).toBe(1 + 1 + 100) // sync step 2 + 'hello' + 100 edits
  expect(missingFrom(await base.load('acked'), c.acked)).toEqual([])
})

test('stock clients (no ?ack=1) never receive the acknowledgement message', async () => {
  const base = memoryStorage()
  server = await startServer({ store: base })
  const stock = await new TestClient(server.url, 'plain').connect()
  const acking = new AckClient(server.url, 'plain', false)
  cleanups.push(() => stock.destroy(), () => acking.destroy())
  stock.doc.getText('t').insert(0, 'stock ')
  acking.type('acking ')
  await waitFor(() => acking.allAcked && acking.ackCounts.length > 0, 'the acking client to be acknowledged')
  await waitFor(() => stock.text.includes('acking') && acking.text.includes('stock'), 'both edits to cross')
  await server.rooms.flushAll()
  const doc = new Y.Doc()
  for (const u of await base.load('plain')) Y.applyUpdate(doc, u)
  expect(doc.getText('t').toString()).toContain('stock')
  expect(stock.count('ack')).toBe(0)
})

test('a failed write is never acknowledged: the room closes with 1013 and the client re-sends on reconnect', async () => {
  const { store, base, control } = gated()
  server = await startServer({ store })
  const c = new AckClient(server.url, 'flaky', true)
  cleanups.push(() => c.destroy())
  await waitFor(() => c.allAcked, 'the first sync')
  c.type('saved ')
  await waitFor(() => c.allAcked, 'the first edit to be acknowledged')
  const acked = c.ackCounts.length
  control.fail = true
  c.type('lost? ')
  await waitFor(() => c.closeCodes.length > 0, 'the room to close')
  expect(c.closeCodes[0]).toBe(1013)
  expect(c.ackCounts.length).toBe(acked)
  control.fail = false
  // The client reconnects to a freshly loaded room and re-sends what the store lacks.
  await waitFor(() => c.connections >= 2 && c.allAcked, 'the reconnection to be acknowledged')
  const doc = new Y.Doc()
  for (const u of await base.load('flaky')) Y.applyUpdate(doc, u)
  expect(doc.getText('t').toString()).toBe('saved lost? ')
})

test('while a write is in flight, later updates gather into one batch (group commit)', async () => {
  const { store, base, control, release } = gated()
  server = await startServer({ store })
  const c = new AckClient(server.url, 'grouped', false)
  cleanups.push(() => c.destroy())
  await waitFor(() => c.allAcked, 'the first sync')
  control.held = true
  const callsBefore = control.calls
  c.type('first ')
  await waitFor(() => control.calls === callsBefore + 1, 'the first write to start')
  for (let i = 0; i < 20; i++) {
    c.type(`${i} `)
    await sleep(2) // separate turns on the server
  }
  await waitFor(() => server!.rooms.get('grouped')?.document.doc.getText('t').toString().includes('19 ') === true, 'the edits to arrive')
  await sleep(20)
  expect(control.calls).toBe(callsBefore + 1) // nothing else written while the first is in flight
  release()
  await waitFor(() => c.allAcked, 'every edit to be acknowledged')
  expect(control.calls).toBe(callsBefore + 2) // the twenty edits in one write
  expect(missingFrom(await base.load('grouped'), c.acked)).toEqual([])
})
