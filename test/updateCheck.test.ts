// checkUpdate reads Yjs updates without integrating them. It must reject what Yjs cannot
// read, and call "plain" only what Yjs integrates without error into any document: a room
// relays a plain update before it integrates it.
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { ProtocolError } from '../server/protocol/messages.js'
import { Room, type Peer } from '../server/room/room.js'
import { checkUpdate, type Clocks } from '../server/protocol/updateCheck.js'
import { updatesOf } from './helpers.js'
import { mulberry32, seededInt } from './random.js'

/// Check each update against a mirror of the document it came from, then apply it there.
function checkInOrder(updates: Uint8Array[], mirror = new Y.Doc()): boolean[] {
  const clocks: Clocks = (client) => Y.getState(mirror.store, client)
  return updates.map((u) => {
    const plain = checkUpdate(u, clocks)
    Y.applyUpdate(mirror, u)
    return plain
  })
}

const none: Clocks = () => 0

it('text, map and array edits under root types are plain', () => {
  const doc = new Y.Doc()
  const updates = updatesOf(doc, (d) => {
    const text = d.getText('codemirror')
    text.insert(0, 'héllo wörld 🎉')
    text.delete(2, 3)
    d.getMap('meta').set('title', { nested: [1, 2.5, 'three', null, true, new Uint8Array([1])] })
    d.getArray('list').insert(0, [-7, 2 ** 40, 'x'])
  })
  expect(updates.length).toBe(4)
  expect(checkInOrder(updates)).toEqual(updates.map(() => true))
  expect(checkUpdate(Y.encodeStateAsUpdate(doc), none)).toBe(true)
  // Out of order, an update depends on what the document lacks: Yjs would hold it pending.
  expect(checkInOrder([...updates].reverse()).some((plain) => !plain)).toBe(true)
})

it('formatting and embeds are not plain: Yjs integrates them at once (and may clean up after them)', () => {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'hello')
  const [format] = updatesOf(doc, (d) => d.getText('t').format(0, 4, { bold: true }))
  const [embed] = updatesOf(doc, (d) => d.getText('t').insertEmbed(1, { image: 'x.png' }))
  const clocks: Clocks = (client) => Y.getState(doc.store, client)
  expect(checkUpdate(format, clocks)).toBe(false)
  expect(checkUpdate(embed, clocks)).toBe(false)
})

it('a client twice in one update, or a clock past 2^53, is refused', () => {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'ab')
  const u = Y.encodeStateAsUpdate(doc)
  // [2 clients] + the one block + an empty second block of the same client + no deletions
  const client = Y.encodeStateVector(doc).subarray(1, -1) // varuint client, then clock 2: cut
  const twice = Uint8Array.from([2, ...u.subarray(1, u.length - 1), 0, ...client, 0, 0])
  expect(() => checkUpdate(twice, none)).toThrow(/appears twice/)
  const big = Number.MAX_SAFE_INTEGER - 1
  const varuint = (n: number): number[] => {
    const out: number[] = []
    while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) }
    return [...out, n]
  }
  const deletion = Uint8Array.from([0, 1, 5, 1, ...varuint(big), 5])
  expect(() => checkUpdate(deletion, none)).toThrow(/2\^53/)
})

it('nested types and subdocuments are not plain: Yjs integrates them at once', () => {
  const nested = updatesOf(new Y.Doc(), (d) => d.getMap('m').set('inner', new Y.Text('x')))
  expect(checkInOrder(nested)).toContain(false)
  const doc = new Y.Doc()
  const inner = new Y.Array<number>()
  doc.getMap('m').set('list', inner)
  const mirror = new Y.Doc()
  Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
  const intoNested = updatesOf(doc, () => inner.insert(0, [1]))
  expect(checkInOrder(intoNested, mirror)).toEqual([false]) // parent is an item's ID
  const sub = updatesOf(new Y.Doc(), (d) => d.getMap('docs').set('a', new Y.Doc()))
  expect(checkInOrder(sub)).toEqual([false])
})

it('malformed updates are refused with a ProtocolError', () => {
  const [valid] = updatesOf(new Y.Doc(), (d) => d.getText('t').insert(0, 'hello'))
  for (let cut = 1; cut < valid.length; cut++) {
    expect(() => checkUpdate(valid.subarray(0, cut), none), `cut at ${cut}`).toThrow(ProtocolError)
  }
  // A clock of 2^53 + 1, which lib0 would misread: 8 bytes, the last without a stop bit set.
  const huge = Uint8Array.of(1, 1, 1, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0)
  expect(() => checkUpdate(huge, none)).toThrow(/varint/)
  const badUtf8 = Uint8Array.of(1, 1, 1, 0, 4, 1, 1, 't'.charCodeAt(0), 2, 0xc3, 0x28, 0)
  expect(() => checkUpdate(badUtf8, none)).toThrow(/UTF-8/)
  const unknownContent = Uint8Array.of(1, 1, 1, 0, 15, 1, 1, 't'.charCodeAt(0), 0)
  expect(() => checkUpdate(unknownContent, none)).toThrow(/content kind/)
})

it('a room integrates every update it held back without error (mutated updates, seeded)', () => {
  const next = mulberry32(0xc0c0)
  const int = seededInt(0xfeed)
  // A history of two writers, and their updates as the source of mutations.
  const a = new Y.Doc()
  const b = new Y.Doc()
  a.clientID = 1 // fixed ids: the same history, and the same run, every time
  b.clientID = 2
  const sources: Uint8Array[] = []
  a.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== 'remote') { sources.push(u); Y.applyUpdate(b, u, 'remote') } })
  b.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== 'remote') { sources.push(u); Y.applyUpdate(a, u, 'remote') } })
  for (let i = 0; i < 200; i++) {
    const text = (i % 2 ? a : b).getText('codemirror')
    if (text.length > 5 && next() < 0.3) text.delete(int(text.length - 2), 2)
    else text.insert(int(text.length + 1), i % 7 ? 'x' : 'ü🎉')
  }
  const closed: string[] = []
  const peer: Peer = {
    id: 'p', readOnly: false, wantsAck: false, awarenessIds: new Set(),
    send: () => undefined,
    close: (_code, reason) => { closed.push(reason) },
  }
  let refused = 0
  let held = 0
  // Episodes: a room holding a prefix of the history gets the next updates, some mutated.
  for (let episode = 0; episode < 2000; episode++) {
    const room = new Room('fuzz', { persist: (_name, _update, done) => done(), empty: () => undefined, failed: () => undefined })
    const k = 1 + int(sources.length - 8)
    room.document.restore(sources.slice(0, k))
    room.join(peer)
    for (let j = 0; j < 6; j++) {
      const bytes = Uint8Array.from(sources[k + j])
      if (next() < 0.7) for (let flips = 1 + int(3); flips > 0; flips--) bytes[int(bytes.length)] = int(256)
      const before = room.document.heldUpdates
      try {
        room.document.apply(bytes, peer, true)
        if (room.document.heldUpdates > before) held++
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolError) // refused at once: the sender is closed then
        refused++
      }
    }
    expect(room.document.doc.getText('codemirror').length).toBeGreaterThan(0) // integrates what was held
    expect(closed, `episode ${episode}`).toEqual([]) // nothing held back failed later
    room.destroy()
  }
  // Both outcomes are common, so neither check above is vacuous.
  expect(refused).toBeGreaterThan(1000)
  expect(held).toBeGreaterThan(1000)
  a.destroy()
  b.destroy()
})
