// A room's awareness states follow y-protocols' rules exactly: checked by feeding the same
// updates to `Presence` and to a y-protocols `Awareness` and comparing what each ends with.
import { afterEach, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { Presence, decodeAwareness, encodeAwarenessEntries } from '../server/room/presence.js'
import { ProtocolError } from '../server/protocol/messages.js'
import { seededInt as seeded } from './random.js'

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))

/// One awareness update with explicit entries, encoded the way y-protocols does.
function update(...entries: Array<[client: number, clock: number, state: unknown]>): Uint8Array {
  return encodeAwarenessEntries(entries.map(([client, clock, state]) => [client, { clock, state: json(state) }]))
}

/// Apply an update; which clients it gave a state and which it removed.
function applied(p: Presence, u: Uint8Array, ids?: Set<number>): { set: number[]; removed: number[] } {
  const before = new Map([...p.entries].map(([client, e]) => [client, { clock: e.clock, state: e.state }]))
  p.apply(u, ids)
  const out = { set: [] as number[], removed: [] as number[] }
  for (const [client, e] of p.entries) {
    const old = before.get(client)
    if (old && old.clock === e.clock && old.state === e.state) continue
    ;(e.state ? out.set : out.removed).push(client)
  }
  return out
}

/// Parsed present states of a Presence.
function states(p: Presence): Map<number, unknown> {
  const out = new Map<number, unknown>()
  for (const [client, e] of p.entries) if (e.state) out.set(client, JSON.parse(new TextDecoder().decode(e.state)))
  return out
}


const owned: Array<{ destroy(): void }> = []
function awarenessOf(clientID?: number): awarenessProtocol.Awareness {
  const doc = new Y.Doc()
  if (clientID !== undefined) doc.clientID = clientID
  const a = new awarenessProtocol.Awareness(doc)
  a.setLocalState(null) // a server-side mirror has no state of its own
  owned.push(a, doc)
  return a
}
afterEach(() => { for (const o of owned.splice(0)) o.destroy() })

describe('clock rules', () => {
  test('a higher clock wins; an equal or lower clock with a state is ignored', () => {
    const p = new Presence()
    // y-protocols counts an unknown client as clock 0, so a first state at clock 0 is ignored.
    expect(applied(p, update([1, 0, { v: 'clock 0' }]))).toEqual({ set: [], removed: [] })
    expect(applied(p, update([1, 1, { v: 'a' }]))).toEqual({ set: [1], removed: [] })
    expect(applied(p, update([1, 1, { v: 'same clock' }]))).toEqual({ set: [], removed: [] })
    expect(applied(p, update([1, 0, { v: 'older' }]))).toEqual({ set: [], removed: [] })
    expect(states(p).get(1)).toEqual({ v: 'a' })
    expect(applied(p, update([1, 5, { v: 'newer' }]))).toEqual({ set: [1], removed: [] })
    expect(states(p).get(1)).toEqual({ v: 'newer' })
  })

  test('null at the same clock removes; the clock is kept so a stale state cannot return', () => {
    const p = new Presence()
    p.apply(update([7, 3, { v: 'x' }]))
    expect(applied(p, update([7, 3, null]))).toEqual({ set: [], removed: [7] })
    expect(p.size).toBe(0)
    expect(applied(p, update([7, 3, { v: 'replayed' }]))).toEqual({ set: [], removed: [] })
    expect(applied(p, update([7, 2, { v: 'older' }]))).toEqual({ set: [], removed: [] })
    expect(applied(p, update([7, 4, { v: 'back' }]))).toEqual({ set: [7], removed: [] })
    expect(states(p).get(7)).toEqual({ v: 'back' })
  })

  test('the same random update stream leaves Presence and y-protocols Awareness identical', () => {
    const rand = seeded(42)
    const p = new Presence()
    const mirror = awarenessOf()
    for (let i = 0; i < 2000; i++) {
      const entries: Array<[number, number, unknown]> = []
      for (let k = 1 + rand(3); k > 0; k--) {
        entries.push([1 + rand(40), rand(6), rand(4) === 0 ? null : { i, pos: rand(100) }])
      }
      const u = update(...entries)
      p.apply(u)
      awarenessProtocol.applyAwarenessUpdate(mirror, u, 'test')
      expect(states(p), `after update ${i}`).toEqual(new Map([...mirror.getStates()]))
    }
  })
})

describe('snapshot and removal', () => {
  test('snapshot holds every present state and rebuilds them in a y-protocols Awareness', () => {
    const p = new Presence()
    expect(p.snapshot()).toBeNull()
    p.apply(update([1, 1, { name: 'Ada' }], [2, 4, { name: 'Grace' }], [3, 2, { name: 'gone' }]))
    p.apply(update([3, 2, null]))
    const mirror = awarenessOf()
    awarenessProtocol.applyAwarenessUpdate(mirror, p.snapshot() as Uint8Array, 'server')
    expect(new Map(mirror.getStates())).toEqual(new Map([[1, { name: 'Ada' }], [2, { name: 'Grace' }]]))
    expect(mirror.meta.get(2)?.clock).toBe(4)
  })

  test('remove() announces a removal that y-protocols applies, and returns null for no states', () => {
    const p = new Presence()
    p.apply(update([10, 3, { c: 1 }], [11, 1, { c: 2 }], [12, 1, { c: 3 }]))
    const peer = awarenessOf()
    awarenessProtocol.applyAwarenessUpdate(peer, p.snapshot() as Uint8Array, 'server')
    const removed: number[] = []
    peer.on('change', ({ removed: r }: { removed: number[] }) => removed.push(...r))
    const removal = p.remove([10, 11, 99])
    expect(removal).not.toBeNull()
    awarenessProtocol.applyAwarenessUpdate(peer, removal as Uint8Array, 'server')
    expect(removed.sort()).toEqual([10, 11])
    expect([...peer.getStates().keys()]).toEqual([12])
    expect(p.size).toBe(1)
    expect(p.remove([10, 11, 99])).toBeNull()
  })

  test('a y-protocols client announcing and removing its own state', () => {
    const client = awarenessOf(555)
    client.setLocalState({ user: 'Lin' })
    const p = new Presence()
    const ids = new Set<number>()
    expect(applied(p, awarenessProtocol.encodeAwarenessUpdate(client, [555]), ids).set).toEqual([555])
    expect([...ids]).toEqual([555]) // the sender's announced ids, for its removal when it leaves
    client.setLocalState(null)
    expect(applied(p, awarenessProtocol.encodeAwarenessUpdate(client, [555]), ids).removed).toEqual([555])
    expect([...ids]).toEqual([555]) // its removal's clock stays the sender's until it leaves
    expect(p.snapshot()).toBeNull()
    p.remove(ids)
    expect(p.entries.size).toBe(0)
  })
})

describe('invalid awareness updates are refused whole', () => {
  const entry = (state: Uint8Array) => Uint8Array.from([1, 9, 1, state.length, ...state])
  const cases: Array<[string, Uint8Array]> = [
    ['a state that is not JSON', entry(new TextEncoder().encode('{nope'))],
    ['a state that is not UTF-8', entry(Uint8Array.of(0x22, 0xff, 0x22))],
    ['an empty state', entry(new Uint8Array(0))],
    ['a count larger than the entries', Uint8Array.of(200, 1, 1, 1, 0x31)],
    ['a truncated entry', Uint8Array.of(1, 9)],
    ['trailing bytes', Uint8Array.of(...entry(json(1)), 0)],
    ['an empty update', new Uint8Array(0)],
  ]
  test.each(cases)('%s', (_name, bytes) => {
    const p = new Presence()
    p.apply(update([9, 1, { keep: true }]))
    expect(() => p.apply(bytes)).toThrowError(ProtocolError)
    expect(states(p)).toEqual(new Map([[9, { keep: true }]]))
  })

  test('a valid entry before an invalid one is not applied either', () => {
    const p = new Presence()
    const bad = Uint8Array.from([2, 1, 1, 1, 0x31, 2, 1, 1, 0x7b])
    expect(() => p.apply(bad)).toThrowError(/not valid JSON/)
    expect(p.size).toBe(0)
  })

  test('decodeAwareness copies states out of the received frame', () => {
    const frame = update([1, 1, { big: 'x'.repeat(100) }])
    const [decoded] = decodeAwareness(frame)
    expect(decoded.state?.buffer).not.toBe(frame.buffer)
  })
})
