// Held batches are integrated after the turn's sends, a few per event-loop iteration: rooms
// whose batches fill together (typists who started together) must not stall the server for
// all of them at once, and a batch must still never grow without bound.
import { afterEach, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MAX_HELD, OVERFULL } from '../server/room/heldBack.js'
import { Room, type Peer } from '../server/room/room.js'
import { updatesOf } from './helpers.js'

const rooms: Room[] = []
afterEach(() => {
  for (const room of rooms.splice(0)) room.destroy()
})

function openRoom(name: string): { room: Room; peer: Peer } {
  const room = new Room(name, { persist: (_name, _update, done) => done(), empty: () => undefined, failed: () => undefined })
  const peer: Peer = { id: name, readOnly: false, wantsAck: false, awarenessIds: new Set(), send: () => undefined, close: () => undefined }
  room.join(peer)
  rooms.push(room)
  return { room, peer }
}

/// `count` keystrokes typed at the end of a text, one update each.
function keystrokes(client: number, count: number): Uint8Array[] {
  const doc = new Y.Doc()
  doc.clientID = client
  const out = updatesOf(doc, (d) => {
    const text = d.getText('codemirror')
    for (let i = 0; i < count; i++) text.insert(i, String.fromCharCode(97 + (i % 26)))
  })
  doc.destroy()
  return out
}

const nextIteration = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

it('rooms whose batches fill together are integrated over several iterations, not at once', async () => {
  const typed = keystrokes(7, MAX_HELD)
  const all = Array.from({ length: 100 }, (_, i) => openRoom(`room-${i}`))
  for (const { room, peer } of all) for (const u of typed) room.document.apply(u, peer, true)
  // Relayed, not yet integrated: the turn that filled them sends before anything integrates.
  expect(all.every(({ room }) => room.document.heldUpdates === MAX_HELD)).toBe(true)

  await nextIteration()
  const left = all.filter(({ room }) => room.document.heldUpdates > 0).length
  expect(left).toBeGreaterThan(0) // a budget per iteration, not all hundred in one go
  expect(left).toBeLessThan(100) // but the queue did start

  for (let i = 0; i < 1000 && all.some(({ room }) => room.document.heldUpdates > 0); i++) await nextIteration()
  expect(all.map(({ room }) => room.document.heldUpdates)).toEqual(all.map(() => 0)) // without anyone reading them
  const text = 'abcdefghijklmnopqrstuvwxyz'.repeat(20).slice(0, MAX_HELD)
  for (const { room } of all) expect(room.document.doc.getText('codemirror').toString()).toBe(text)
})

it('a batch that fills faster than the queue drains is integrated at its bound', () => {
  const { room, peer } = openRoom('flood')
  const bound = OVERFULL * MAX_HELD
  let most = 0
  for (const u of keystrokes(9, 3 * bound)) {
    room.document.apply(u, peer, true)
    most = Math.max(most, room.document.heldUpdates)
  }
  expect(most).toBe(bound - 1) // integrated in the same turn when it reached the bound
  expect(room.document.doc.getText('codemirror').length).toBe(3 * bound)
})
