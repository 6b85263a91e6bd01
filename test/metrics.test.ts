// /metrics read before and after real traffic over real sockets: the counters move by
// exactly what the clients did. Also the per-connection log lines.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterEach, expect, test } from 'vitest'
import * as Y from 'yjs'
import { encodeUpdate } from '../server/protocol/messages.js'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import type {
  AppendEntry, CompactionResult, ListQuery, MergeUpdates, NewVersion, Retention, RoomRecord, Storage,
} from '../server/storage/types.js'
import { timedStorage } from '../server/storage/timed.js'
import { SECRET, sign } from './authHelpers.js'
import { startServer, TestClient, waitFor } from './helpers.js'

const servers: ConcordServer[] = []
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
})

/// Scrape /metrics into `series{labels}` → value.
async function scrape(server: ConcordServer): Promise<Map<string, number>> {
  const res = await fetch(`${server.url.replace('ws:', 'http:')}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
  const out = new Map<string, number>()
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

const get = (m: Map<string, number>, key: string) => m.get(key) ?? 0

/// A class-based store (its methods need `this`) that can compact a room's log into one
/// update, as the storage contract's optional `compact(room, merge)` does.
class CompactingStore implements Storage {
  readonly #logs = new Map<string, Uint8Array[]>()
  // What this test does not look at: rooms' facts and versions.
  readonly #rest = memoryStorage()
  pings = 0
  list(query: ListQuery) { return this.#rest.list(query) }
  addVersion(room: string, version: NewVersion) { return this.#rest.addVersion(room, version) }
  versions(room: string) { return this.#rest.versions(room) }
  version(room: string, id: number) { return this.#rest.version(room, id) }
  pruneVersions(room: string, retention: Retention) { return this.#rest.pruneVersions(room, retention) }
  deleteRoom(room: string, tombstone: Uint8Array) { return this.#rest.deleteRoom(room, tombstone) }
  tombstone(room: string) { return this.#rest.tombstone(room) }
  putRoom(record: RoomRecord) { return this.#rest.putRoom(record) }
  async load(room: string) { return [...(this.#logs.get(room) ?? [])] }
  async append(entries: readonly AppendEntry[]) {
    for (const { room, update } of entries) this.#logs.set(room, [...(this.#logs.get(room) ?? []), update])
  }
  async compact(room: string, merge: MergeUpdates): Promise<CompactionResult> {
    const log = this.#logs.get(room) ?? []
    const snapshot = await merge(log)
    this.#logs.set(room, [snapshot])
    const bytesBefore = log.reduce((n, u) => n + u.length, 0)
    return { compacted: true, rows: log.length, bytesBefore, bytesAfter: snapshot.length }
  }
  async ping() { this.pings++ }
  async close() { this.#logs.clear() }
}

test('counters move by exactly the traffic the clients made', async () => {
  // Rooms awake throughout: what is integrated when is counted below.
  const server = await startServer({ unloadAfterMs: 0, keepaliveMs: 600_000, sleepAfterMs: 0, store: new CompactingStore() })
  servers.push(server)
  const before = await scrape(server)

  const a = await new TestClient(server.url, 'metrics-room').connect()
  const b = await new TestClient(server.url, 'metrics-room').connect()
  clients.push(a, b)
  let during = await scrape(server)
  expect(get(during, 'concord_connections')).toBe(2)
  expect(get(during, 'concord_rooms_loaded')).toBe(1)

  // Five edits, each seen by b before the next, so each is relayed as its own frame.
  for (let i = 0; i < 5; i++) {
    a.doc.getText('t').insert(i, String(i))
    await waitFor(() => b.text.length === i + 1, `edit ${i} to reach b`)
  }
  const updateBytesIn = a.sentUpdates.reduce((n, u) => n + encodeUpdate(u).length, 0)
  const relayed = b.received.filter((m) => m.type === 'update')
  expect(relayed).toHaveLength(5)
  const updateBytesOut = relayed.reduce((n, m) => n + (m.type === 'update' ? encodeUpdate(m.update).length : 0), 0)

  // b leaves cleanly; a sends garbage and is closed by the server with 4400.
  b.ws.close(1000)
  await b.closed()
  a.sendRaw(Uint8Array.of(0xff, 0x01))
  expect(await a.closed()).toBe(4400)
  await waitFor(() => server.connections.size === 0 && server.rooms.size === 0, 'the room to unload')

  during = await scrape(server)
  const after = during
  const delta = (key: string) => get(after, key) - get(before, key)
  expect(delta('concord_connections_opened_total')).toBe(2)
  expect(get(after, 'concord_connections')).toBe(0)
  expect(get(after, 'concord_rooms_loaded')).toBe(0)
  expect(delta('concord_connections_closed_total{code="1000"}')).toBe(1)
  expect(delta('concord_connections_closed_total{code="4400"}')).toBe(1)

  // In: each client's sync step 1 and its step 2 reply, a's five updates, a's bad frame.
  expect(delta('concord_messages_received_total{type="sync_step1"}')).toBe(2)
  expect(delta('concord_messages_received_total{type="sync_step2"}')).toBe(2)
  expect(delta('concord_messages_received_total{type="update"}')).toBe(5)
  expect(delta('concord_received_bytes_total{type="update"}')).toBe(updateBytesIn)
  expect(delta('concord_messages_received_total{type="other"}')).toBe(1)
  // Out: step 1 and step 2 to each joiner, the five updates to b only (no echo).
  expect(delta('concord_messages_sent_total{type="sync_step1"}')).toBe(2)
  expect(delta('concord_messages_sent_total{type="sync_step2"}')).toBe(2)
  expect(delta('concord_messages_sent_total{type="update"}')).toBe(5)
  expect(delta('concord_sent_bytes_total{type="update"}')).toBe(updateBytesOut)
  expect(a.count('update')).toBe(0)

  // Integrated: a's five updates as one batch (plain edits wait until the document is read,
  // here when the room unloads); the two empty step-2 replies change nothing and are not.
  expect(delta('concord_update_apply_seconds_count')).toBe(1)
  expect(delta('concord_update_apply_seconds_bucket{le="+Inf"}')).toBe(1)
  expect(delta('concord_update_apply_seconds_sum')).toBeGreaterThan(0)
  expect(delta('concord_room_load_seconds_count')).toBe(1)
  expect(delta('concord_room_unloads_total{reason="idle"}')).toBe(1)
  expect(delta('concord_room_unloads_total{reason="failed"}')).toBe(0)
  // Five updates were stored in at least one batch.
  expect(delta('concord_storage_append_seconds_count')).toBeGreaterThanOrEqual(1)
  expect(delta('concord_storage_append_seconds_count')).toBeLessThanOrEqual(5)
  // Process-wide figures are there too.
  expect(after.has('nodejs_eventloop_lag_p99_seconds')).toBe(true)
  expect(after.has('process_resident_memory_bytes')).toBe(true)
})

test('the timed store counts compactions and keeps every other method of the store working', async () => {
  const inner = new CompactingStore()
  const server = await startServer({ store: inner })
  servers.push(server)
  const store = timedStorage(inner, server.metrics)
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  for (const c of 'abc') doc.getText('t').insert(0, c)
  doc.destroy()
  await store.append(updates.map((update) => ({ room: 'r', update })))
  const result = await (store as CompactingStore).compact('r', (u) => Y.mergeUpdates(u))
  expect(result).toMatchObject({ compacted: true, rows: 3 })
  expect(await store.load('r')).toHaveLength(1)
  await store.ping!()
  expect(inner.pings).toBe(1)
  const m = await scrape(server)
  expect(get(m, 'concord_storage_compaction_seconds_count')).toBe(1)
  expect(get(m, 'concord_storage_append_seconds_count')).toBe(1)
  // The server registered the store's ping as its readiness check.
  expect((await fetch(`${server.url.replace('ws:', 'http:')}/readyz`)).status).toBe(200)
  expect(inner.pings).toBe(2)
})

test('two servers in one process keep separate counters; auth refusals are counted', async () => {
  const quiet = await startServer()
  const busy = await startServer({ authSecret: SECRET })
  servers.push(quiet, busy)
  const c = await new TestClient(busy.url, 'solo', `?token=${await sign({ rooms: 'solo', access: 'write' })}`).connect()
  clients.push(c)
  c.doc.getText('t').insert(0, 'x')
  const http = busy.url.replace('ws:', 'http:')
  expect((await fetch(`${http}/api/rooms`)).status).toBe(401)
  const readOnly = { authorization: `Bearer ${await sign({ rooms: 'solo', access: 'read' })}` }
  expect((await fetch(`${http}/api/rooms/solo/update`, { method: 'POST', headers: readOnly, body: new Uint8Array([0, 0]) })).status).toBe(403)
  // A WebSocket without a token is refused before the upgrade, and counted too.
  const refused = new TestClient(busy.url, 'solo')
  clients.push(refused)
  await expect(refused.opened).rejects.toThrow(/401/)
  await waitFor(() => busy.rooms.get('solo')?.document.doc.getText('t').toString() === 'x', 'the edit to apply')

  const q = await scrape(quiet)
  const m = await scrape(busy)
  expect(get(m, 'concord_connections_opened_total')).toBe(1)
  expect(get(m, 'concord_messages_received_total{type="update"}')).toBe(1)
  expect(get(m, 'concord_auth_refusals_total{channel="http",status="401"}')).toBe(1)
  expect(get(m, 'concord_auth_refusals_total{channel="http",status="403"}')).toBe(1)
  expect(get(m, 'concord_auth_refusals_total{channel="websocket",status="401"}')).toBe(1)
  expect(get(q, 'concord_connections_opened_total')).toBe(0)
  expect(get(q, 'concord_messages_received_total{type="update"}')).toBe(0)
  expect(get(q, 'concord_auth_refusals_total{channel="http",status="401"}')).toBe(0)
})

test('one JSON log line per connection open and close, with room, id, user, duration, bytes, code', async () => {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  const server = await startServer({ logger: pino({ level: 'info' }, sink) })
  servers.push(server)
  const a = await new TestClient(server.url, 'logged/room').connect()
  clients.push(a)
  a.doc.getText('t').insert(0, 'hello')
  await waitFor(() => server.rooms.get('logged/room')?.document.doc.getText('t').length === 5, 'the edit')
  a.ws.close(4000, 'bye')
  await a.closed()
  await waitFor(() => lines.some((l) => l.msg === 'close'), 'the close line')

  const opens = lines.filter((l) => l.msg === 'open')
  const closes = lines.filter((l) => l.msg === 'close')
  expect(opens).toHaveLength(1)
  expect(closes).toHaveLength(1)
  expect(opens[0]).toMatchObject({ room: 'logged/room', user: null, level: 30 })
  expect(typeof opens[0].conn).toBe('string')
  expect(closes[0]).toMatchObject({ room: 'logged/room', conn: opens[0].conn, user: null, code: 4000 })
  expect(closes[0].durationMs).toBeGreaterThanOrEqual(0)
  expect(closes[0].bytesIn).toBeGreaterThan(5)
  expect(closes[0].bytesOut).toBeGreaterThan(0)
})

test('--metrics false: no /metrics, and nothing is counted on the hot paths', async () => {
  const server = await startServer({ metrics: false })
  servers.push(server)
  const res = await fetch(`${server.url.replace('ws:', 'http:')}/metrics`)
  expect(res.status).toBe(404)
  expect(await res.json()).toEqual({ error: 'not found' })
  const a = await new TestClient(server.url, 'uncounted').connect()
  clients.push(a)
  a.doc.getText('t').insert(0, 'x')
  await waitFor(() => server.rooms.get('uncounted')?.document.doc.getText('t').toString() === 'x', 'the edit')
  expect(server.metrics.traffic.messagesIn.reduce((n, v) => n + v, 0)).toBe(0)
  expect(server.metrics.traffic.messagesOut.reduce((n, v) => n + v, 0)).toBe(0)
})
