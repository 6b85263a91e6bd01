// Regression for the fuzz test's divergence (seed 20261122): Yjs integrates an update's
// structs before it reads the delete set, and keeps them when the delete set is malformed.
// The server closed the sender with 4400 but relayed and stored nothing, so its document
// held text no peer had; and a later valid update with the same ids but other content was
// then taken by the peers and ignored by the server. The server now reads a whole update
// (`checkUpdate`) before Yjs integrates any of it, so such an update changes nothing anywhere;
// server, peers, joiners and storage all end with what the server's document holds.
import { afterEach, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { CloseCode } from '../server/protocol/closeCodes.js'
import { decodeFrame, encodeSyncStep1, encodeUpdate } from '../server/protocol/messages.js'
import { Room, type Peer } from '../server/room/room.js'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import { startServer, TestClient, waitFor } from './helpers.js'

/// A peer that applies every update it is sent to a document of its own, as a client does.
class DocPeer implements Peer {
  readonly readOnly = false
  readonly wantsAck = false
  readonly awarenessIds = new Set<number>()
  readonly doc = new Y.Doc()
  closed: number | null = null
  constructor(readonly id: string) {}
  send(frame: Uint8Array): void {
    for (const m of decodeFrame(frame)) if (m.type === 'update' || m.type === 'syncStep2') Y.applyUpdate(this.doc, m.update)
  }
  close(code: number): void { this.closed = code }
  get text(): string { return this.doc.getText('t').toString() }
}

/// An update from a fresh author: its structs are intact, its delete set is cut short (one
/// client announced, then the frame ends), so Yjs integrates the text and then throws.
function structsThenBrokenDeleteSet(author: number, text: string, base?: Uint8Array): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = author
  if (base) Y.applyUpdate(doc, base)
  const before = Y.encodeStateVector(doc)
  doc.getText('t').insert(0, text)
  const update = Y.encodeStateAsUpdate(doc, before)
  doc.destroy()
  // A V1 update ends with its delete set; with nothing deleted that is one 0 (no clients).
  expect(update[update.length - 1]).toBe(0)
  return Uint8Array.from([...update.subarray(0, update.length - 1), 1, 5])
}

/// The same structs as `structsThenBrokenDeleteSet`, well-formed.
function wellFormed(author: number, text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = author
  doc.getText('t').insert(0, text)
  const update = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return update
}

function room(store: Uint8Array[] = []): Room {
  return new Room('r', {
    persist: (_name, update, done) => {
      if (update) store.push(update)
      done()
    },
    empty: () => undefined,
    failed: (_room, error) => { throw error },
  })
}

describe('an update that Yjs would integrate in part and then refuse', () => {
  test('is refused whole: nothing is applied, relayed or stored, and joiners agree', async () => {
    const stored: Uint8Array[] = []
    const r = room(stored)
    const honest = new DocPeer('honest')
    const early = new DocPeer('early') // primes the joiners' state cache before the failure
    const hostile = new DocPeer('hostile')
    for (const p of [honest, early, hostile]) r.join(p)
    r.receive(early, encodeSyncStep1(Uint8Array.of(0)))

    expect(() => r.receive(hostile, encodeUpdate(structsThenBrokenDeleteSet(424242, ' z')))).toThrow(/invalid Yjs update/)
    r.flushNow()
    await Promise.resolve()

    expect(r.document.doc.getText('t').toString()).toBe('')
    expect(honest.text).toBe('')
    expect(stored).toEqual([])
    const joiner = new DocPeer('joiner')
    r.join(joiner)
    r.receive(joiner, encodeSyncStep1(Uint8Array.of(0)))
    expect(Y.encodeStateVector(joiner.doc)).toEqual(Y.encodeStateVector(r.document.doc))
  })

  test('a later valid update with the same ids leaves the server and its peers alike', () => {
    const r = room()
    const honest = new DocPeer('honest')
    const hostile = new DocPeer('hostile')
    const other = new DocPeer('other')
    for (const p of [honest, hostile, other]) r.join(p)
    // The mutated copy carries other content under the same author and clocks as the real one.
    expect(() => r.receive(hostile, encodeUpdate(structsThenBrokenDeleteSet(777, 'xy')))).toThrow(/invalid Yjs update/)
    r.receive(other, encodeUpdate(wellFormed(777, ' z')))
    r.flushNow()
    expect(r.document.doc.getText('t').toString()).toBe(' z')
    expect(honest.text).toBe(' z')
    expect(Y.encodeStateVector(honest.doc)).toEqual(Y.encodeStateVector(r.document.doc))
  })
})

describe('over a real server', () => {
  let server: ConcordServer | undefined
  const clients: TestClient[] = []
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy()
    await server?.close()
  })

  test('the offender is closed with 4400 and every client ends with the server\'s text', async () => {
    const store = memoryStorage()
    server = await startServer({ store })
    const live = server
    const join = async () => { const c = new TestClient(live.url, 'partial'); clients.push(c); return c.connect() }
    const a = await join()
    const b = await join()
    a.doc.getText('t').insert(0, 'honest ')
    await waitFor(() => b.text === 'honest ', 'the honest edit to reach b')

    const hostile = new WebSocket(`${live.url}/partial`)
    const closed = new Promise<number>((resolve) => hostile.on('close', (code) => resolve(code)))
    await new Promise<void>((resolve) => hostile.once('message', () => resolve()))
    const base = Y.encodeStateAsUpdate(a.doc)
    hostile.send(encodeUpdate(structsThenBrokenDeleteSet(31337, 'kept ', base)))
    expect(await closed).toBe(CloseCode.Malformed)

    const serverText = () => live.rooms.get('partial')?.document.doc.getText('t').toString()
    expect(serverText()).toBe('honest ') // nothing of the refused update
    await waitFor(() => a.text === serverText() && b.text === serverText(), 'a and b to hold the server\'s text')
    const late = await join()
    expect(late.text).toBe(serverText())
    await live.rooms.flushAll()
    const reloaded = new Y.Doc()
    Y.applyUpdate(reloaded, Y.mergeUpdates(await store.load('partial')))
    expect(reloaded.getText('t').toString()).toBe(serverText())
    reloaded.destroy()
  })
})

describe('what a refused update leaves pending', () => {
  test('is dropped: a joiner is still sent the document', () => {
    const r = room()
    const hostile = new DocPeer('hostile')
    r.join(hostile)
    // Seen in the fuzz run: one struct whose origin client is past 2^53 (Yjs reads it, but
    // cannot read it back once it re-encodes what it holds pending), then a cut delete set.
    const frame = Buffer.from('000217010180d9d4c60613848bd9d4c6ffffff7f060402c3bc00', 'hex')
    expect(() => r.receive(hostile, frame)).toThrow(/invalid Yjs update/)
    const joiner = new DocPeer('joiner')
    r.join(joiner)
    expect(() => r.receive(joiner, encodeSyncStep1(Uint8Array.of(0)))).not.toThrow()
    expect(Y.encodeStateVector(joiner.doc)).toEqual(Y.encodeStateVector(r.document.doc))
    expect(r.document.doc.store.pendingStructs).toBeNull()
  })
})
