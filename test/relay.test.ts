// Relay rules over a real server on 127.0.0.1 with real `ws` clients: what a joiner is sent,
// convergence of concurrent editors, no echo of updates or awareness, query-awareness, the
// opt-in acknowledgement, and how fast a closed client's presence disappears for the others.
import { CROWDED_ROOM } from '../server/room/turnOutbox.js'
import { afterEach, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { decodeAwareness } from '../server/room/presence.js'
import { encodeAwareness, encodeQueryAwareness, encodeUpdate, type Message } from '../server/protocol/messages.js'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import { sleep, startServer, TestClient, waitFor } from './helpers.js'
import { seededInt as seeded } from './random.js'

let server: ConcordServer
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
})

async function join(room: string, query = ''): Promise<TestClient> {
  const c = new TestClient(server.url, room, query)
  clients.push(c)
  return c.connect()
}


/// Client ids whose structs an update carries.
function authors(update: Uint8Array): Set<number> {
  return new Set(Y.decodeUpdate(update).structs.map((s) => s.id.client))
}

/// Client ids an awareness message mentions.
function awarenessClients(message: Message): number[] {
  return message.type === 'awareness' ? decodeAwareness(message.update).map((e) => e.client) : []
}

/// Random inserts and deletes, `rounds` times per client, all clients at once each round.
async function randomEdits(all: TestClient[], rounds: number, seed: number): Promise<void> {
  const rand = seeded(seed)
  for (let round = 0; round < rounds; round++) {
    for (const c of all) {
      const text = c.doc.getText('t')
      for (let k = 1 + rand(3); k > 0; k--) {
        if (text.length > 0 && rand(4) === 0) {
          const at = rand(text.length)
          text.delete(at, Math.min(1 + rand(5), text.length - at))
        } else {
          text.insert(rand(text.length + 1), 'abcdefghij'.slice(0, 1 + rand(10)))
        }
      }
    }
    // Let some rounds interleave with delivery and some pile up in one turn.
    if (rand(2) === 0) await sleep(rand(5))
  }
}

async function converged(room: string, all: TestClient[]): Promise<string> {
  const serverText = () => server.rooms.get(room)?.document.doc.getText('t').toString()
  await waitFor(() => all.every((c) => c.text === serverText()), 'every replica to match the server', 15_000)
  return serverText() as string
}

describe('joining', () => {
  test('the server speaks first: sync step 1 with its state vector, then the awareness states', async () => {
    server = await startServer()
    const a = await join('join')
    a.doc.getText('t').insert(0, 'before you came')
    a.awareness.setLocalState({ name: 'Ada' })
    const room = () => server.rooms.get('join')
    await waitFor(() => room()?.document.doc.getText('t').length === 15 && room()?.presence.size === 1, 'the server to hold the edit and the state')

    // A client that says nothing at all.
    const b = new TestClient(server.url, 'join')
    clients.push(b)
    await b.opened
    await waitFor(() => b.received.length >= 2, 'the greeting')
    await sleep(50)
    expect(b.received.map((m) => m.type)).toEqual(['syncStep1', 'awareness'])
    expect(b.received[0]).toEqual({ type: 'syncStep1', stateVector: Y.encodeStateVector(room()!.document.doc) })
    expect(awarenessClients(b.received[1])).toEqual([a.doc.clientID])
    expect(b.awareness.getStates().get(a.doc.clientID)).toEqual({ name: 'Ada' })
  })

  test('a joiner to an empty room gets sync step 1 only', async () => {
    server = await startServer()
    const c = new TestClient(server.url, 'quiet')
    clients.push(c)
    await c.opened
    await waitFor(() => c.received.length >= 1, 'sync step 1')
    await sleep(50)
    expect(c.received.map((m) => m.type)).toEqual(['syncStep1'])
  })
})

describe('convergence', () => {
  test('two clients editing concurrently converge', async () => {
    server = await startServer()
    const all = [await join('two'), await join('two')]
    await randomEdits(all, 60, 2)
    const text = await converged('two', all)
    expect(text.length).toBeGreaterThan(50)
  })

  test('ten clients editing concurrently converge', async () => {
    server = await startServer()
    const all: TestClient[] = []
    for (let i = 0; i < 10; i++) all.push(await join('ten'))
    await randomEdits(all, 30, 10)
    const text = await converged('ten', all)
    expect(text.length).toBeGreaterThan(100)
    // A late joiner gets the whole document in its sync step 2.
    const late = await join('ten')
    expect(late.text).toBe(text)
  })
})

describe('no echo', () => {
  test('a sole writer receives no update frame after sync; the others receive every edit', async () => {
    server = await startServer()
    const writer = await join('solo')
    const readers = [await join('solo'), await join('solo')]
    for (let i = 0; i < 50; i++) {
      writer.doc.getText('t').insert(i, String(i % 10))
      if (i % 7 === 0) await sleep(1)
    }
    await converged('solo', [writer, ...readers])
    await sleep(100) // anything late would arrive now
    expect(writer.count('update')).toBe(0)
    expect(writer.count('syncStep2')).toBe(1)
    for (const r of readers) expect(r.count('update')).toBeGreaterThan(0)
  })

  test('with many writers, no update a client receives carries its own edits', async () => {
    server = await startServer()
    const all: TestClient[] = []
    for (let i = 0; i < 5; i++) all.push(await join('many'))
    await randomEdits(all, 40, 5)
    await converged('many', all)
    await sleep(100)
    for (const c of all) {
      const updates = c.received.filter((m) => m.type === 'update')
      expect(updates.length).toBeGreaterThan(0)
      for (const m of updates) expect(authors((m as { update: Uint8Array }).update).has(c.doc.clientID)).toBe(false)
    }
  })

  test('awareness changes reach the others verbatim and never come back to their sender', async () => {
    server = await startServer()
    const a = await join('aw')
    const b = await join('aw')
    const c = await join('aw')
    const rawAtB: Uint8Array[] = []
    b.ws.on('message', (data: Buffer) => rawAtB.push(new Uint8Array(data)))
    for (let i = 0; i < 5; i++) a.awareness.setLocalStateField('cursor', i)
    await waitFor(
      () => b.awareness.getStates().get(a.doc.clientID)?.cursor === 4 && c.awareness.getStates().get(a.doc.clientID)?.cursor === 4,
      'the others to see the cursor',
    )
    await sleep(100)
    expect(a.received.filter((m) => awarenessClients(m).includes(a.doc.clientID))).toEqual([])
    expect(a.count('awareness')).toBe(0)
    expect(b.count('awareness')).toBe(5)
    // Relayed verbatim: a clock written as a non-minimal varint (0x82 0x00 = 2) would not
    // survive a decode and re-encode, but it reaches b byte for byte.
    const odd = Uint8Array.of(1, 10, 1, 0x92, 0x21, 0x82, 0x00, 4, 0x7b, 0x7d, 0x20, 0x20)
    a.sendRaw(odd)
    await waitFor(() => rawAtB.some((f) => Buffer.from(f).equals(Buffer.from(odd))), 'the exact bytes at b')
    await waitFor(() => c.awareness.getStates().has(4242), 'c to apply it')
    await sleep(50)
    expect(a.count('awareness')).toBe(0)
  })

  test('in a crowded room awareness goes out in batches: every change, in order, never echoed; a leaver\'s batch is dropped', async () => {
    server = await startServer({ maxConnectionsPerIp: 0 })
    const all: TestClient[] = []
    for (let i = 0; i < CROWDED_ROOM; i++) all.push(await join('crowd'))
    const [a, leaver, ...rest] = all
    const moves = 10
    for (let i = 0; i < moves; i++) a.awareness.setLocalStateField('cursor', i)
    // The leaver's change waits in the batch; it leaves before the batch goes.
    leaver.awareness.setLocalStateField('cursor', 'gone')
    leaver.ws.close()
    await waitFor(() => rest.every((c) => c.awareness.getStates().get(a.doc.clientID)?.cursor === moves - 1), 'everyone to see the last move', 10_000)
    await sleep(100)
    for (const c of rest) {
      const fromA = c.received.filter((m) => awarenessClients(m).includes(a.doc.clientID)).map((m) => decodeAwareness((m as { update: Uint8Array }).update)[0].clock)
      expect(fromA).toEqual([...fromA].sort((x, y) => x - y))
      expect(fromA.length).toBe(moves)
      expect(c.awareness.getStates().get(leaver.doc.clientID)).toBe(undefined)
    }
    expect(a.received.filter((m) => awarenessClients(m).includes(a.doc.clientID))).toEqual([])
  })

  test('query-awareness is answered with every state, the asker\'s own included', async () => {
    server = await startServer()
    const all = [await join('q'), await join('q'), await join('q')]
    all.forEach((c, i) => c.awareness.setLocalState({ n: i }))
    const asker = all[2]
    // Let every relay arrive first, so the next awareness message can only be the answer.
    await waitFor(() => server.rooms.get('q')?.presence.size === 3 && asker.awareness.getStates().size === 3, 'three states everywhere')
    await sleep(50)
    const before = asker.count('awareness')
    asker.sendRaw(encodeQueryAwareness())
    await waitFor(() => asker.count('awareness') > before, 'the answer')
    await sleep(50)
    expect(asker.count('awareness')).toBe(before + 1)
    const answer = asker.received.filter((m) => m.type === 'awareness').at(-1) as Message
    expect(awarenessClients(answer).sort()).toEqual(all.map((c) => c.doc.clientID).sort())
  })
})

describe('nothing new, nothing relayed', () => {
  test('a client reconnecting with a document the room already has causes no relay and no store', async () => {
    const store = memoryStorage()
    server = await startServer({ store })
    const writer = await join('again')
    const watcher = await join('again')
    const text = writer.doc.getText('t')
    const rand = seeded(7)
    for (let i = 0; i < 500; i++) {
      text.insert(rand(text.length + 1), 'ab')
      if (text.length > 10) text.delete(rand(text.length - 2), 1) // a delete set, repeated in every step 2
    }
    await converged('again', [writer, watcher])
    await server.rooms.flushAll()
    const storedBefore = (await store.load('again')).length
    const framesBefore = watcher.count('update')

    // The same user comes back (a network blip): its sync step 2 repeats what the room has.
    const back = new TestClient(server.url, 'again')
    clients.push(back)
    Y.applyUpdate(back.doc, Y.encodeStateAsUpdate(writer.doc), back)
    await back.connect()
    await sleep(100)
    await server.rooms.flushAll()
    expect(watcher.count('update')).toBe(framesBefore)
    expect((await store.load('again')).length).toBe(storedBefore)

    // Something new from it is relayed and stored as usual.
    back.doc.getText('t').insert(0, 'new')
    await converged('again', [writer, watcher, back])
    await server.rooms.flushAll()
    expect(watcher.count('update')).toBe(framesBefore + 1)
    expect((await store.load('again')).length).toBe(storedBefore + 1)
  })

  test('an update whose dependencies are missing is stored at once and relayed once the room can integrate it', async () => {
    const store = memoryStorage()
    server = await startServer({ store })
    const sender = await join('pending')
    const watcher = await join('pending')
    const source = new Y.Doc()
    const updates: Uint8Array[] = []
    source.on('update', (u: Uint8Array) => updates.push(u))
    source.getText('t').insert(0, 'first')
    source.getText('t').insert(5, ' second')
    // Send the second update before the first: the server holds it pending and stores it,
    // but sends peers nothing they would only hold pending too.
    sender.sendRaw(encodeUpdate(updates[1]))
    await waitFor(() => server.rooms.get('pending')?.document.doc.store.pendingStructs != null, 'the room to hold it pending')
    await server.rooms.flushAll()
    expect((await store.load('pending')).length).toBe(1)
    expect(watcher.count('update')).toBe(0)
    sender.sendRaw(encodeUpdate(updates[0]))
    await waitFor(() => watcher.text === 'first second', 'both to apply at the watcher')
    expect(watcher.doc.store.pendingStructs).toBeNull()
    await server.rooms.flushAll()
    expect((await store.load('pending')).length).toBe(2)
    source.destroy()
  })
})

describe('encode once', () => {
  test('a broadcast hands the very same bytes to every receiver', async () => {
    server = await startServer()
    const writer = await join('once')
    const readers = [await join('once'), await join('once'), await join('once')]
    const handed = new Map<string, Uint8Array[]>()
    for (const conn of server.connections) {
      const send = conn.send.bind(conn)
      handed.set(conn.id, [])
      conn.send = (frame: Uint8Array) => { handed.get(conn.id)?.push(frame); send(frame) }
    }
    writer.doc.getText('t').insert(0, 'broadcast')
    await waitFor(() => readers.every((r) => r.text === 'broadcast'), 'every reader')
    const lists = [...handed.values()].filter((l) => l.length > 0)
    expect(lists).toHaveLength(3) // the writer was handed nothing
    for (const l of lists) expect(l).toHaveLength(1)
    expect(lists[1][0]).toBe(lists[0][0])
    expect(lists[2][0]).toBe(lists[0][0])
  })
})

describe('several messages in one frame', () => {
  test('an update, an awareness change and a query in one frame are all handled', async () => {
    server = await startServer()
    const sender = await join('multi')
    const other = await join('multi')
    const doc = new Y.Doc()
    doc.getText('t').insert(0, 'from one frame')
    const update = encodeUpdate(Y.encodeStateAsUpdate(doc))
    const awareness = encodeAwareness(Uint8Array.of(1, 77, 1, 2, 0x7b, 0x7d))
    const before = sender.count('awareness')
    sender.sendRaw(Buffer.concat([update, awareness, encodeQueryAwareness()]))
    await waitFor(() => other.text === 'from one frame' && other.awareness.getStates().has(77), 'the update and the state at the other client')
    await waitFor(() => sender.count('awareness') === before + 1, 'the query answered')
    const answer = sender.received.filter((m) => m.type === 'awareness').at(-1) as Message
    expect(awarenessClients(answer)).toEqual([77])
    doc.destroy()
  })
})

describe('acknowledgements', () => {
  test('a client that asked with ?ack=1 hears how many of its updates are stored; others never see type 100', async () => {
    server = await startServer()
    const acked = await join('ack', '?ack=1')
    const plain = await join('ack')
    for (let i = 0; i < 3; i++) {
      acked.doc.getText('t').insert(0, 'x')
      await sleep(5)
    }
    plain.doc.getText('t').insert(0, 'y')
    await waitFor(() => acked.received.some((m) => m.type === 'ack' && m.count === 3), 'ack of 3 updates')
    await waitFor(() => acked.text === plain.text && plain.text.length === 4, 'convergence')
    await sleep(100)
    const counts = acked.received.flatMap((m) => (m.type === 'ack' ? [m.count] : []))
    expect(counts).toEqual([...counts].sort((x, y) => x - y)) // monotonic
    expect(plain.count('ack')).toBe(0)
  })
})

describe('awareness removal on close', () => {
  async function removalReaches(leave: (c: TestClient) => void): Promise<void> {
    const room = `gone-${Math.random()}`
    const leaver = await join(room)
    const watchers = [await join(room), await join(room)]
    leaver.awareness.setLocalState({ name: 'leaving soon' })
    await waitFor(() => watchers.every((w) => w.awareness.getStates().has(leaver.doc.clientID)), 'watchers to see the state')
    leave(leaver)
    // Relayed when the socket closes, not when the state times out (30 s): a short wait.
    await waitFor(() => watchers.every((w) => !w.awareness.getStates().has(leaver.doc.clientID)), 'the removal', 10_000)
  }

  test('a clean close removes the state for the others at once (not after the 30 s timeout)', async () => {
    server = await startServer()
    await removalReaches((c) => c.ws.close(1000))
  })

  test('a dropped TCP connection removes the state for the others at once', async () => {
    server = await startServer()
    await removalReaches((c) => c.ws.terminate())
  })

  test('only the closed connection\'s states go; a raw client announcing two ids loses both', async () => {
    server = await startServer()
    const stays = await join('ids')
    stays.awareness.setLocalState({ stays: true })
    const watcher = await join('ids')
    const raw = new WebSocket(`${server.url}/ids`)
    await new Promise((resolve) => raw.once('open', resolve))
    const entries = (ids: number[]) => Uint8Array.from([ids.length, ...ids.flatMap((id) => [id, 1, 2, 0x7b, 0x7d])])
    raw.send(encodeAwareness(entries([101, 102])))
    await waitFor(() => watcher.awareness.getStates().has(101) && watcher.awareness.getStates().has(102), 'two raw states')
    raw.close()
    await waitFor(() => !watcher.awareness.getStates().has(101) && !watcher.awareness.getStates().has(102), 'both removed')
    expect(watcher.awareness.getStates().get(stays.doc.clientID)).toEqual({ stays: true })
    expect(server.rooms.get('ids')?.presence.size).toBe(1)
  })
})
