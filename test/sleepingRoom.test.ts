// A room asleep (its document kept as encoded updates, see `EncodedDoc`) against the same
// room awake throughout and against plain Yjs: seeded runs of random edits of every shared
// type, with the room put to sleep at random moments, fresh joiners served from the encoded
// form, and returning peers that wake it. At the end both rooms, every peer, every joiner and
// the store hold what plain Yjs holds after the same updates.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe as group, expect, test } from 'vitest'
import * as Y from 'yjs'
import { SHAPES, describe, pendingIn, randomEdit, sameHistory } from '../server/cli/converge/shapes.js'
import { createRandom } from '../server/cli/converge/random.js'
import { decodeFrame, encodeSyncStep1, encodeSyncStep2, encodeUpdate } from '../server/protocol/messages.js'
import { EncodedDoc } from '../server/room/encodedDoc.js'
import { Room, type Peer } from '../server/room/room.js'
import type { ConcordServer } from '../server/server.js'
import { sqliteStorage } from '../server/storage/sqlite.js'
import type { Storage } from '../server/storage/types.js'
import { startServer, waitFor } from './helpers.js'
import { ClientKit } from './thirdPartyClients.js'
import { docOf, removeFormattingAsIn } from './yjsPeer.js'

/// A peer with a document of its own: it applies what it is sent and answers a sync step 1,
/// as a y-websocket client does; its own edits are collected to be sent.
class DocPeer implements Peer {
  readonly readOnly = false
  readonly wantsAck = false
  readonly awarenessIds = new Set<number>()
  readonly doc = new Y.Doc()
  readonly outgoing: Uint8Array[] = []
  /// Sync step 1s it was sent (answered by the test, which owns the room).
  readonly asked: Uint8Array[] = []
  closed: number | null = null
  /// `clientId`: fixed, so that two runs of one seed make the same updates.
  constructor(readonly id: string, clientId: number) {
    this.doc.clientID = clientId
    this.doc.on('update', (update: Uint8Array, origin: unknown) => { if (origin !== this) this.outgoing.push(update) })
  }
  send(frame: Uint8Array): void {
    for (const m of decodeFrame(frame)) {
      if (m.type === 'update' || m.type === 'syncStep2') Y.applyUpdate(this.doc, m.update, this)
      else if (m.type === 'syncStep1') this.asked.push(m.stateVector)
    }
  }
  close(code: number): void { this.closed = code }
}

/// A room over an in-memory log, and what its store holds.
function roomOver(sleeps: boolean, stored: Uint8Array[]): Room {
  const room = new Room('r', {
    persist: (_name, update, done) => {
      if (update) stored.push(update.slice())
      done()
    },
    empty: () => undefined,
    failed: (_room, error) => { throw error },
  }, { sleeps })
  room.document.restore(stored)
  return room
}

/// Join `peer` as a y-websocket client does: answer the room's step 1 with what it lacks, then
/// ask with its own state vector.
function joinPeer(room: Room, peer: DocPeer): void {
  peer.asked.length = 0
  room.join(peer)
  for (const sv of peer.asked.splice(0)) room.receive(peer, encodeSyncStep2(Y.encodeStateAsUpdate(peer.doc, sv)))
  peer.outgoing.length = 0 // what it had is sent by its step 2
  room.receive(peer, encodeSyncStep1(Y.encodeStateVector(peer.doc)))
}

/// Send a peer's own edits as live updates.
function sendEdits(room: Room, peer: DocPeer): void {
  for (const update of peer.outgoing.splice(0)) room.receive(peer, encodeUpdate(update))
}

interface Outcome {
  room: Room
  stored: Uint8Array[]
  peers: DocPeer[]
  joiners: DocPeer[]
  slept: number
  /// Edits taken while asleep, without waking.
  keptAsleep: number
}

/// One run over one room; the same seed drives the same edits whatever `sleeps` is.
function run(seed: number, sleeps: boolean, steps: number): Outcome {
  const rng = createRandom(seed)
  // A stored document from writers who are gone: a snapshot and a log on top.
  const writer = new Y.Doc()
  writer.clientID = 1
  const earlier: Uint8Array[] = []
  writer.on('update', (u: Uint8Array) => earlier.push(u))
  for (let i = 0; i < 40; i++) randomEdit(writer, rng.pick(SHAPES), rng)
  const stored = [Y.mergeUpdates(earlier.splice(0, 30)), ...earlier]
  const room = roomOver(sleeps, stored)
  const peers = [0, 1, 2].map((i) => new DocPeer(`p${i}`, 10 + i))
  const joiners: DocPeer[] = []
  for (const p of peers) joinPeer(room, p)
  let slept = 0
  let keptAsleep = 0
  for (let step = 0; step < steps; step++) {
    const r = rng.next()
    const peer = rng.pick(peers)
    if (r < 0.08) {
      room.flushNow()
      if (room.document.sleep()) slept++
    } else if (r < 0.12) {
      const joiner = new DocPeer(`j${joiners.length}`, 100 + joiners.length)
      joiners.push(joiner)
      joinPeer(room, joiner)
    } else if (r < 0.15) {
      // A returning peer: it left, edited offline, and comes back with what it holds.
      room.leave(peer)
      randomEdit(peer.doc, rng.pick(SHAPES), rng)
      joinPeer(room, peer)
    } else {
      randomEdit(peer.doc, rng.pick(SHAPES), rng)
      if (rng.chance(0.7)) {
        const [asleep, version] = [room.document.sleeping, room.document.version]
        sendEdits(room, peer)
        if (asleep && room.document.sleeping && room.document.version > version) keptAsleep++
      }
    }
  }
  for (const p of peers) sendEdits(room, p)
  room.flushNow()
  return { room, stored, peers, joiners, slept, keptAsleep }
}

/// Every way `outcome` differs from `want` (a document's `describe`) and from `truth`.
function differences(outcome: Outcome, want: string, truth: Y.Doc): string[] {
  const problems: string[] = []
  const check = (name: string, doc: Y.Doc) => {
    if (pendingIn(doc)) problems.push(`${name} holds ${pendingIn(doc)}`)
    if (describe(doc) !== want) problems.push(`${name} differs from plain Yjs`)
    else if (!sameHistory(doc, truth)) problems.push(`${name} differs from plain Yjs in items or deletions`)
  }
  outcome.peers.forEach((p, i) => check(`peer ${i}`, p.doc))
  outcome.joiners.forEach((p, i) => check(`joiner ${i}`, p.doc))
  const late = new DocPeer('late', 99)
  joinPeer(outcome.room, late)
  check('a late joiner', late.doc)
  check('the room', outcome.room.document.doc)
  check('the store', docOf(outcome.stored))
  return problems
}

/// Plain Yjs after every update the run made, and the formatting cleanups its room made.
function truthOf(outcome: Outcome, initial: number): Y.Doc {
  const truth = docOf(outcome.stored.slice(0, initial))
  for (const p of outcome.peers) Y.applyUpdate(truth, Y.encodeStateAsUpdate(p.doc))
  for (const u of outcome.stored.slice(initial)) removeFormattingAsIn(truth, u)
  return truth
}

group('a sleeping room equals one awake throughout and plain Yjs', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    test(`seed ${seed}`, () => {
      const asleep = run(seed, true, 400)
      const awake = run(seed, false, 400)
      expect(asleep.slept).toBeGreaterThan(5)
      expect(asleep.keptAsleep).toBeGreaterThan(5)
      const initial = 11 // the stored snapshot and its ten-update log
      const truth = truthOf(awake, initial)
      const want = describe(truth)
      expect(differences(awake, want, truth)).toEqual([])
      expect(differences(asleep, want, truth)).toEqual([])
      expect(describe(asleep.room.document.doc)).toBe(describe(awake.room.document.doc))
    })
  }
})

group('EncodedDoc', () => {
  /// Updates of a text typed in pieces, the first merged as a snapshot.
  function stored(): { updates: Uint8Array[]; doc: Y.Doc } {
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    const text = doc.getText('t')
    for (let i = 0; i < 20; i++) text.insert(Math.floor(text.length / 2), `w${i} `)
    text.delete(2, 5)
    return { updates: [Y.mergeUpdates(updates.slice(0, 10)), ...updates.slice(10)], doc }
  }

  test('its state vector is the one a Y.Doc of the same updates reports', () => {
    const { updates, doc } = stored()
    expect(EncodedDoc.fromStored(updates).stateVector()).toEqual(Y.encodeStateVector(doc))
  })

  test('a state vector stops where a gap begins, as a Y.Doc holding the rest pending', () => {
    const { updates } = stored()
    const withGap = [updates[0], ...updates.slice(3)] // two updates lost from the log
    const doc = docOf(withGap)
    expect(pendingIn(doc)).not.toBeNull()
    expect(EncodedDoc.fromStored(withGap).stateVector()).toEqual(Y.encodeStateVector(doc))
  })

  test('a fresh joiner gets the whole document; a plain edit is kept and counted', () => {
    const { updates, doc } = stored()
    const encoded = EncodedDoc.fromStored(updates)
    const edit = (() => {
      const before = Y.encodeStateVector(doc)
      doc.getText('t').insert(0, 'more ')
      return Y.encodeStateAsUpdate(doc, before)
    })()
    expect(encoded.check(edit)).toBe(true)
    encoded.add(edit)
    const joiner = new Y.Doc()
    const reply = decodeFrame(encoded.fullReply())
    expect(reply.map((m) => m.type)).toEqual(['syncStep2'])
    for (const m of reply) if ('update' in m) Y.applyUpdate(joiner, m.update)
    expect(joiner.getText('t').toString()).toBe(doc.getText('t').toString())
    expect(encoded.stateVector()).toEqual(Y.encodeStateVector(doc))
    expect(docOf([encoded.snapshot()]).getText('t').toString()).toBe(doc.getText('t').toString())
  })

  test('a long stored log is read once: a fresh joiner is served asleep, in one step 2', () => {
    const doc = new Y.Doc()
    const updates: Uint8Array[] = []
    doc.on('update', (u: Uint8Array) => updates.push(u))
    for (let i = 0; i < 600; i++) doc.getText('t').insert(i % 7, 'ab')
    const room = roomOver(true, updates.slice())
    const peer = new DocPeer('fresh', 5)
    joinPeer(room, peer)
    expect(room.document.sleeping).toBe(true)
    expect(peer.doc.getText('t').toString()).toBe(doc.getText('t').toString())
  })

  test('an empty update (a keepalive) is no change, asleep or awake: a quiet room can sleep', () => {
    for (const sleeps of [true, false]) {
      const room = roomOver(sleeps, stored().updates)
      const peer = new DocPeer('keepalive', 6)
      joinPeer(room, peer)
      const version = room.document.version
      room.receive(peer, encodeUpdate(Uint8Array.of(0, 0)))
      room.flushNow()
      expect(room.document.version).toBe(version)
      expect(room.document.sleeping).toBe(sleeps)
    }
  })

  test('an edit that builds on what the document lacks is not plain', () => {
    const { updates, doc } = stored()
    const encoded = EncodedDoc.fromStored(updates.slice(0, 5))
    const before = Y.encodeStateVector(docOf(updates.slice(0, 12)))
    doc.getText('t').insert(3, 'x')
    expect(encoded.check(Y.encodeStateAsUpdate(doc, before))).toBe(false)
  })
})


group('over a real server with SQLite and stock clients', () => {
  let server: ConcordServer | undefined
  let kit: ClientKit | undefined
  const dir = mkdtempSync(join(tmpdir(), 'concord-sleep-'))
  afterEach(async () => {
    kit?.destroyAll()
    await server?.close()
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('a stored room loads asleep, serves joiners and plain edits so, wakes for a nested edit, sleeps again', async () => {
    const store = sqliteStorage(join(dir, 'rooms.db'))
    const options = { store, sleepAfterMs: 40, unloadAfterMs: 60_000 }
    server = await startServer(options)
    kit = new ClientKit(server.url)
    const writer = kit.yjs13('y-websocket@3.1.0', 'sleepy')
    await waitFor(() => writer.synced, 'the writer to sync')
    writer.doc.getText('t').insert(0, 'stored text ')
    writer.doc.getText('rich').insert(0, 'bold', { bold: true })
    writer.doc.getMap('m').set('inner', new Y.Map([['k', 1]]))
    await waitFor(() => server!.rooms.get('sleepy')?.document.version === 3, 'the writer\'s edits to arrive')
    kit.destroyAll()
    await server.close()

    server = await startServer(options)
    kit = new ClientKit(server.url)
    const live = server
    const room = () => live.rooms.get('sleepy')!
    const a = kit.yjs13('y-websocket@1.5.4', 'sleepy')
    await waitFor(() => a.synced && a.doc.getText('t').toString() === 'stored text ', 'a fresh joiner to get the stored text')
    expect(room().document.sleeping).toBe(true)
    expect(await (await fetch(`${live.url.replace(/^ws/, "http")}/metrics`)).text()).toMatch(/^concord_rooms_asleep 1$/m)
    expect((a.doc.getMap('m').get('inner') as Y.Map<number>).get('k')).toBe(1)

    // A plain edit is relayed, stored and kept without building the document; a stock client
    // joining after it has the whole document when it says it is synced (one sync step 2).
    a.doc.getText('t').insert(0, 'typed ')
    await waitFor(() => room().document.version === 2, 'the edit to arrive')
    const atSync: string[] = []
    const d = kit.yjs13('y-websocket@3.1.0', 'sleepy')
    ;(d as unknown as { on(event: 'sync', f: (synced: boolean) => void): void }).on('sync', (synced) => { if (synced) atSync.push(d.doc.getText('t').toString()) })
    await waitFor(() => atSync.length > 0, 'd to sync')
    expect(atSync[0]).toBe('typed stored text ')
    const b = kit.replica14(kit.yjs14('sleepy'))
    await waitFor(() => b.read().getText('t').toString() === 'typed stored text ', 'a second joiner (Yjs 14) to get the edit')
    expect(room().document.sleeping).toBe(true)

    // A nested edit needs the Y.Doc to judge it: the room wakes, and everyone gets it.
    ;(a.doc.getMap('m').get('inner') as Y.Map<number>).set('k', 2)
    a.doc.getMap('m').set('added', new Y.Array())
    await waitFor(() => b.read().getMap('m').has('added'), 'the nested edit to reach b')
    expect(room().document.sleeping).toBe(false)

    // Quiet: asleep again, and a later joiner still gets everything.
    await waitFor(() => room().document.sleeping, 'the room to fall asleep again')
    const c = kit.yjs13('y-websocket@2.1.0', 'sleepy')
    await waitFor(() => c.synced && c.doc.getMap('m').has('added'), 'a later joiner to sync')
    const want = describeAll(room().document.doc)
    expect(describeAll(a.doc)).toBe(want)
    expect(describeAll(c.doc)).toBe(want)
    expect(describeAll(b.read())).toBe(want)
    expect(Y.encodeStateVector(c.doc)).toEqual(Y.encodeStateVector(room().document.doc))
    kit.destroyAll()
    await server.close()
    server = undefined
    expect(describeAll(docOf(await reopen(join(dir, 'rooms.db')).load('sleepy')))).toBe(want)
  })
})

/// Text, formatted text and the map, as JSON.
function describeAll(doc: Y.Doc): string {
  return JSON.stringify([doc.getText('t').toString(), doc.getText('rich').toDelta(), doc.getMap('m').toJSON()])
}

function reopen(file: string): Storage {
  return sqliteStorage(file)
}
