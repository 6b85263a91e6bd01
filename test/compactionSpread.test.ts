// Rooms typed in at the same pace pass the compaction threshold at different counts, so their
// compactions spread out rather than queueing back to back.
import { expect, test } from 'vitest'
import * as Y from 'yjs'
import { Rooms } from '../server/room/rooms.js'
import { memoryStorage } from '../server/storage/memory.js'

test('each room compacts somewhere between the threshold and a quarter above it', async () => {
  const folded = new Map<string, number>()
  const rooms = new Rooms({
    storage: memoryStorage(),
    unloadAfterMs: 60_000,
    compactAfterUpdates: 40,
    compacted: (room, result) => { if (!folded.has(room)) folded.set(room, result.rows) },
  })
  const names = Array.from({ length: 30 }, (_, i) => `room-${i}`)
  const writers = names.map(() => new Y.Doc())
  const loaded = await Promise.all(names.map((n) => rooms.acquire(n)))
  for (let i = 0; i < 60; i++) {
    for (let r = 0; r < names.length; r++) {
      const doc = writers[r]
      const before = Y.encodeStateVector(doc)
      doc.getText('t').insert(0, 'x')
      loaded[r].document.apply(Y.encodeStateAsUpdate(doc, before), 'api')
      loaded[r].flushNow()
    }
    await rooms.writes.drain()
    await rooms.compactor.idle()
  }
  expect(folded.size).toBe(names.length) // every room compacted once it passed the threshold
  const rows = [...folded.values()]
  for (const n of rows) expect(n).toBeGreaterThanOrEqual(40)
  for (const n of rows) expect(n).toBeLessThanOrEqual(50)
  expect(new Set(rows).size).toBeGreaterThan(3) // not all at the same count
  for (const doc of writers) doc.destroy()
  await rooms.stopCompacting()
  rooms.destroyAll()
})
