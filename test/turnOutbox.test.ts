// What a room sends for a turn that holds updates from several writers (fan-out): a peer that
// wrote nothing gets the turn as one update, a writer gets only the others' edits, and every
// peer ends with the same document.
import { expect, test } from 'vitest'
import * as Y from 'yjs'
import { decodeFrame, encodeUpdate } from '../server/protocol.js'
import { Room, type Peer } from '../server/room.js'

/// A peer that applies the updates it is sent, as a client does, and keeps them.
class RecordingPeer implements Peer {
  readonly readOnly = false
  readonly wantsAck = false
  readonly awarenessIds = new Set<number>()
  readonly doc = new Y.Doc()
  readonly updates: Uint8Array[] = []
  readonly frames: Uint8Array[] = []
  constructor(readonly id: string) {}
  send(frame: Uint8Array): void {
    this.frames.push(frame)
    for (const m of decodeFrame(frame)) {
      if (m.type !== 'update') continue
      this.updates.push(m.update)
      Y.applyUpdate(this.doc, m.update)
    }
  }
  close(): void {}
  /// The Yjs clients whose edits each received update carries.
  get authors(): number[][] {
    return this.updates.map((u) => [...Y.parseUpdateMeta(u).to.keys()].sort())
  }
}

function typed(client: number, text: string): Uint8Array[] {
  const doc = new Y.Doc()
  doc.clientID = client
  const out: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => out.push(u))
  for (const ch of text) doc.getText('t').insert(doc.getText('t').length, ch)
  doc.destroy()
  return out
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

test('in a turn with two writers, a bystander gets one update with both, each writer only the other\'s', async () => {
  const stored: Uint8Array[] = []
  const room = new Room('r', {
    persist: (_name, update, done) => { if (update) stored.push(update); done() },
    empty: () => undefined,
    failed: (_room, error) => { throw error },
  })
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => new RecordingPeer(id))
  for (const p of [a, b, c, d]) room.join(p)
  // Interleaved keystrokes from a (client 1) and b (client 2), all in one turn.
  const fromA = typed(1, 'abc')
  const fromB = typed(2, 'xyz')
  for (let i = 0; i < 3; i++) {
    room.receive(a, encodeUpdate(fromA[i]))
    room.receive(b, encodeUpdate(fromB[i]))
  }
  await tick()

  expect(c.authors).toEqual([[1, 2]])
  expect(d.authors).toEqual([[1, 2]])
  expect(c.frames.at(-1)).toBe(d.frames.at(-1)) // one encoded message for every bystander
  expect(a.authors).toEqual([[2]])
  expect(b.authors).toEqual([[1]])
  // Each writer's edits are stored as their own update (acknowledgements are per writer).
  expect(stored.map((u) => [...Y.parseUpdateMeta(u).to.keys()])).toEqual([[1], [2]])

  const text = room.doc.getText('t').toString()
  expect(text).toHaveLength(6)
  for (const p of [c, d]) expect(p.doc.getText('t').toString()).toBe(text)
  // A writer has its own edits already: with the other's, it holds the same text.
  for (const [p, own] of [[a, fromA], [b, fromB]] as const) {
    for (const u of own) Y.applyUpdate(p.doc, u)
    expect(p.doc.getText('t').toString()).toBe(text)
  }
  room.destroy()
})

test('in a turn with one writer and an empty step 2 from another, the writer\'s update goes to all others', async () => {
  const room = new Room('r', { persist: (_name, _update, done) => done(), empty: () => undefined, failed: (_room, error) => { throw error } })
  const [a, b, c] = ['a', 'b', 'c'].map((id) => new RecordingPeer(id))
  for (const p of [a, b, c]) room.join(p)
  room.receive(a, encodeUpdate(typed(1, 'q')[0]))
  room.receive(b, encodeUpdate(Uint8Array.of(0, 0)))
  await tick()
  expect(b.authors).toEqual([[1]])
  expect(c.authors).toEqual([[1]])
  expect(a.updates).toEqual([])
  room.destroy()
})
