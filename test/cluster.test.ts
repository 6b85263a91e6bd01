// Scale-out: several Concord instances as one service through Redis, with shared storage.
// In-process servers sharing one store test the protocol between instances; real `concord`
// processes against Redis and PostgreSQL test crashes and a Redis restart.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { Redis } from 'ioredis'
import * as awarenessProtocol from 'y-protocols/awareness'
import { encodeClusterAwareness, encodeClusterUpdate, encodeHeartbeat } from '../server/cluster/messages.js'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import { postgresStorage } from '../server/storage/postgres.js'
import type { AppendEntry, Storage } from '../server/storage/types.js'
import {
  ClusterClient, contains, deleteRedisKeys, killSpawned, randomEdit, startInstance,
  startPrivateRedis, type Instance, type PrivateRedis,
} from './clusterKit.js'
import { createDatabase } from './pgDatabase.js'
import { mulberry32 as prng } from './random.js'
import { sleep, startServer, waitFor } from './helpers.js'

const SHARED_REDIS = 'redis://127.0.0.1:6379'
const runId = randomBytes(4).toString('hex')
const prefixes: string[] = []
const newPrefix = () => {
  const p = `concord-test-${runId}-${prefixes.length}:`
  prefixes.push(p)
  return p
}

const servers: ConcordServer[] = []
const clients: ClusterClient[] = []
const instances: Instance[] = []
const redises: PrivateRedis[] = []
const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await Promise.all(servers.splice(0).map((s) => s.close()))
  instances.length = 0
  await killSpawned()
  await Promise.all(redises.splice(0).map((r) => r.stop()))
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

afterAll(async () => {
  for (const p of prefixes) await deleteRedisKeys(SHARED_REDIS, p)
})

/// A store shared by in-process instances that records every append.
function recordingStore(): Storage & { appended: AppendEntry[]; hold: boolean } {
  const inner = memoryStorage()
  const held: Array<() => void> = []
  const store = {
    appended: [] as AppendEntry[],
    set hold(value: boolean) {
      holding = value
      if (!value) for (const release of held.splice(0)) release()
    },
    get hold() { return holding },
    ...inner,
    appendNow: undefined, // every append goes through `append`, where it can be held
    async append(entries: readonly AppendEntry[]) {
      if (holding) await new Promise<void>((r) => held.push(r))
      store.appended.push(...entries)
      await inner.append(entries)
    },
    ping: () => inner.ping(),
    close: async () => undefined,
  }
  let holding = false
  return store
}

async function connected(room: string, name: string, url: string): Promise<ClusterClient> {
  const c = new ClusterClient(room, name)
  clients.push(c)
  await c.connect(url)
  return c
}

describe('instances in one process, one shared store', () => {
  const fast = { clusterSyncMs: 200, clusterHeartbeatMs: 100 }

  test('edits and cursors cross instances, nothing is echoed, each update is stored once', async () => {
    const store = recordingStore()
    const prefix = newPrefix()
    const s1 = await startServer({ store, redis: SHARED_REDIS, redisPrefix: prefix, ...fast })
    const s2 = await startServer({ store, redis: SHARED_REDIS, redisPrefix: prefix, ...fast })
    servers.push(s1, s2)
    expect(s1.cluster?.isReady()).toBe(true)
    const a = await connected('r', 'alice', s1.url)
    const b = await connected('r', 'bob', s2.url)
    const echoes: Uint8Array[] = []
    a.doc.on('update', (_u: Uint8Array, origin: unknown) => { if (origin === a) echoes.push(_u) })

    a.doc.getText('t').insert(0, 'hello ')
    await waitFor(() => b.text === 'hello ', 'bob to see alice', 10_000)
    b.doc.getText('t').insert(6, 'world')
    await waitFor(() => a.text === 'hello world', 'alice to see bob', 10_000)
    await waitFor(() => a.seenUsers.has('bob') && b.seenUsers.has('alice'), 'cursors across instances', 10_000)
    await waitFor(() => a.allAcked && b.allAcked, 'acknowledgements', 10_000)
    // Let periodic state exchanges run: they must not store anything.
    await sleep(600)
    // Alice heard bob's one update, never her own.
    expect(echoes.length).toBe(1)
    const roomAppends = store.appended.filter((e) => e.room === 'r' && !(e.update.length === 2 && e.update[0] === 0))
    expect(roomAppends.length).toBe(2)
    const stored = new Y.Doc()
    Y.applyUpdate(stored, Y.mergeUpdates(await store.load('r')))
    expect(stored.getText('t').toString()).toBe('hello world')
    stored.destroy()

    // Bob leaves: his cursor disappears from alice's instance at once.
    b.destroy()
    await waitFor(() => !a.seenUsers.has('bob'), 'bob\'s cursor to vanish', 10_000)
  })

  test('a joiner gets updates another instance holds but has not stored yet', async () => {
    const store = recordingStore()
    const prefix = newPrefix()
    const s1 = await startServer({ store, redis: SHARED_REDIS, redisPrefix: prefix, ...fast, clusterSyncMs: 60_000 })
    const s2 = await startServer({ store, redis: SHARED_REDIS, redisPrefix: prefix, ...fast, clusterSyncMs: 60_000 })
    servers.push(s1, s2)
    const a = await connected('held', 'alice', s1.url)
    cleanups.push(async () => { store.hold = false })
    store.hold = true // stores hang: the text exists only in s1's memory
    a.doc.getText('t').insert(0, 'not stored yet')
    await sleep(100)
    expect(await store.load('held')).toEqual([])
    // s2 loads an empty room from storage; the state exchange after the load fills it in
    // (the periodic exchange is off, so only the join can have done it).
    const b = await connected('held', 'bob', s2.url)
    await waitFor(() => b.text === 'not stored yet', 'the joiner to get the unstored text', 10_000)
    store.hold = false
    await waitFor(() => a.allAcked, 'the held store to finish', 10_000)
  })

  test('an instance that dies silently: its last updates are stored by the others and its cursors vanish', async () => {
    const store = recordingStore()
    const prefix = newPrefix()
    const s1 = await startServer({ store, redis: SHARED_REDIS, redisPrefix: prefix, ...fast })
    servers.push(s1)
    const b = await connected('ghostly', 'bob', s1.url)
    // A second instance, speaking the wire format by hand: it relays one update and one
    // cursor of its client, then crashes before storing the update.
    const ghost = new Redis(SHARED_REDIS)
    cleanups.push(async () => { ghost.disconnect() })
    const beat = setInterval(() => void ghost.publish(`${prefix}instances`, encodeHeartbeat('ghost')), 50)
    const doc = new Y.Doc()
    const awareness = new awarenessProtocol.Awareness(doc)
    cleanups.push(async () => { clearInterval(beat); awareness.destroy(); doc.destroy() })
    doc.getText('t').insert(0, 'sent, never stored by its instance')
    awareness.setLocalState({ user: 'ghost-user' })
    await ghost.publish(`${prefix}room:ghostly`, encodeClusterUpdate('ghost', Y.encodeStateAsUpdate(doc)))
    await ghost.publish(`${prefix}room:ghostly`, encodeClusterAwareness('ghost', awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])))
    await waitFor(() => b.text === doc.getText('t').toString() && b.seenUsers.has('ghost-user'), 'the ghost\'s edit and cursor', 10_000)
    expect(store.appended.some((e) => e.room === 'ghostly' && e.update.length > 2)).toBe(false)
    clearInterval(beat) // the crash
    await waitFor(() => !b.seenUsers.has('ghost-user'), 'the ghost\'s cursor to vanish', 10_000)
    await waitFor(() => store.appended.some((e) => e.room === 'ghostly' && e.update.length > 2), 'the ghost\'s update to be stored', 10_000)
    const stored = new Y.Doc()
    Y.applyUpdate(stored, Y.mergeUpdates(await store.load('ghostly')))
    expect(stored.getText('t').toString()).toBe('sent, never stored by its instance')
    stored.destroy()

    // The ghost's user comes back late, after the removal: shown again at its first change.
    const back = new ClusterClient('ghostly', 'ghost-user', doc.clientID)
    clients.push(back)
    await back.connect(s1.url)
    back.awareness.setLocalStateField('cursor', 3)
    await waitFor(() => b.seenUsers.has('ghost-user'), 'the returning user\'s cursor', 10_000)
  })

  test('a user who moved off a dead instance shows again at its next change, and goes when it leaves', async () => {
    const store = recordingStore()
    const prefix = newPrefix()
    const s1 = await startServer({ store, redis: SHARED_REDIS, redisPrefix: prefix, ...fast })
    const s2 = await startServer({ store, redis: SHARED_REDIS, redisPrefix: prefix, ...fast })
    servers.push(s1, s2)
    const local = await connected('moving', 'local-watcher', s1.url)
    const remote = await connected('moving', 'remote-watcher', s2.url)
    const ghost = new Redis(SHARED_REDIS)
    cleanups.push(async () => { ghost.disconnect() })
    const beat = setInterval(() => void ghost.publish(`${prefix}instances`, encodeHeartbeat('ghost')), 50)
    cleanups.push(async () => clearInterval(beat))
    // The user's tab, first on the ghost instance: its state reaches both watchers.
    const tab = new ClusterClient('moving', 'mover', 4242)
    clients.push(tab)
    const announce = awarenessProtocol.encodeAwarenessUpdate(tab.awareness, [tab.doc.clientID])
    await ghost.publish(`${prefix}room:moving`, encodeClusterAwareness('ghost', announce))
    await waitFor(() => local.seenUsers.has('mover') && remote.seenUsers.has('mover'), 'the mover\'s cursor', 10_000)
    // The ghost dies; the tab reconnects to s1 and re-announces the same state (same clock).
    // The server cannot tell it from a stock client echoing another's state, so the ghost's
    // death removes it; the tab's next awareness change (a cursor move, or y-protocols'
    // renewal every 15 s) shows it again.
    clearInterval(beat)
    await tab.connect(s1.url)
    await sleep(1000) // the ghost is declared dead after 300 ms of silence
    tab.awareness.setLocalStateField('cursor', 7)
    await waitFor(() => local.seenUsers.has('mover') && remote.seenUsers.has('mover'), 'the mover back everywhere', 10_000)
    // It is now held by s1: when the tab closes, its cursor goes everywhere.
    tab.destroy()
    await waitFor(() => !local.seenUsers.has('mover') && !remote.seenUsers.has('mover'), 'the mover\'s cursor to go', 10_000)
  })

  test('an echo of a user\'s state by another instance does not tie the user to that instance', async () => {
    const store = recordingStore()
    const prefix = newPrefix()
    const s1 = await startServer({ store, redis: SHARED_REDIS, redisPrefix: prefix, ...fast })
    servers.push(s1)
    const watcher = await connected('echo', 'watcher', s1.url)
    const redis = new Redis(SHARED_REDIS)
    cleanups.push(async () => { redis.disconnect() })
    const beats = ['home', 'echoer'].map((id) => setInterval(() => void redis.publish(`${prefix}instances`, encodeHeartbeat(id)), 50))
    cleanups.push(async () => { for (const b of beats) clearInterval(b) })
    const tab = new ClusterClient('echo', 'user', 777)
    clients.push(tab)
    const state = awarenessProtocol.encodeAwarenessUpdate(tab.awareness, [tab.doc.clientID])
    // The user lives on 'home'; a stock client on 'echoer' repeats its state (same clock), as
    // y-websocket providers do, and 'echoer' relays that.
    await redis.publish(`${prefix}room:echo`, encodeClusterAwareness('home', state))
    await redis.publish(`${prefix}room:echo`, encodeClusterAwareness('echoer', state))
    await waitFor(() => watcher.seenUsers.has('user'), 'the user\'s cursor', 10_000)
    clearInterval(beats[1]) // 'echoer' dies; 'home' lives on
    await sleep(1000)
    expect(watcher.seenUsers.has('user')).toBe(true)
    clearInterval(beats[0]) // now its own instance dies
    await waitFor(() => !watcher.seenUsers.has('user'), 'the user\'s cursor to go with its instance', 10_000)
  })

  test('Redis down: each instance serves its own clients, is not ready, and reconverges', async () => {
    const redis = await startPrivateRedis()
    redises.push(redis)
    const store = recordingStore()
    const opts = { store, redis: redis.url, redisPrefix: 'x:', ...fast }
    const s1 = await startServer(opts)
    const s2 = await startServer(opts)
    servers.push(s1, s2)
    const a1 = await connected('down', 'a1', s1.url)
    const a2 = await connected('down', 'a2', s1.url)
    const b1 = await connected('down', 'b1', s2.url)
    a1.doc.getText('t').insert(0, 'start.')
    await waitFor(() => b1.text === 'start.', 'b1 to see a1', 10_000)

    const readyz = async (s: ConcordServer) => {
      const res = await fetch(s.url.replace('ws://', 'http://') + '/readyz')
      return { status: res.status, body: (await res.json()) as { checks: Record<string, { ok: boolean }> } }
    }
    expect((await readyz(s1)).status).toBe(200)
    await redis.stop()
    await waitFor(() => !s1.cluster?.isReady() && !s2.cluster?.isReady(), 'not ready', 10_000)
    const down = await readyz(s1)
    expect(down.status).toBe(503)
    expect(down.body.checks.redis.ok).toBe(false)
    expect(down.body.checks.storage.ok).toBe(true)
    a1.doc.getText('t').insert(0, 'A')
    b1.doc.getText('t').insert(6, 'B')
    await waitFor(() => a2.text === a1.text, 'local clients to keep working', 10_000)
    await waitFor(() => a1.allAcked && b1.allAcked, 'local edits stored', 10_000)
    expect(a1.text).not.toBe(b1.text)

    await redis.start()
    await waitFor(() => !!s1.cluster?.isReady() && !!s2.cluster?.isReady(), 'ready again', 15_000)
    expect((await readyz(s1)).status).toBe(200)
    await waitFor(() => a1.text === b1.text && a2.text === b1.text, 'reconvergence', 15_000)
    expect(a1.text).toBe('Astart.B')
  })
})

// ---- real processes, real PostgreSQL -------------------------------------------------------

const trace = (msg: string) => { if (process.env.CLUSTER_TRACE) process.stderr.write(`[cluster.test] ${msg}\n`) }
const built = existsSync(fileURLToPath(new URL('../dist/server/cli/main.js', import.meta.url)))
const ROOMS = ['alpha', 'beta', 'gamma']

interface Run {
  db: { url: string }
  prefix: string
  redisUrl: string
}

async function setup(redisUrl: string): Promise<Run> {
  const db = await createDatabase()
  cleanups.push(() => db.drop())
  return { db, prefix: newPrefix(), redisUrl }
}

function instanceArgs(run: Run): string[] {
  return [
    '--storage', run.db.url, '--redis', run.redisUrl, '--redis-prefix', run.prefix,
    '--cluster-heartbeat-ms', '250', '--cluster-sync-ms', '500', '--log-level', 'info',
  ]
}

async function startThree(run: Run): Promise<Instance[]> {
  const started = await Promise.all([0, 1, 2].map(() => startInstance(instanceArgs(run))))
  instances.push(...started)
  return started
}

/// Seeded random edits by random clients, with short pauses so messages interleave.
async function editRandomly(list: ClusterClient[], random: () => number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const live = list.filter((c) => c.connected)
    if (live.length) randomEdit(live[Math.floor(random() * live.length)], random)
    if (i % 5 === 4) await sleep(Math.floor(random() * 8))
  }
}

async function storedText(run: Run, room: string): Promise<{ text: string; state: Uint8Array }> {
  const store = await postgresStorage(run.db.url)
  try {
    const updates = await store.load(room)
    const doc = new Y.Doc()
    if (updates.length) Y.applyUpdate(doc, Y.mergeUpdates(updates))
    const out = { text: doc.getText('t').toString(), state: Y.encodeStateAsUpdate(doc) }
    doc.destroy()
    return out
  } finally {
    await store.close()
  }
}

/// Every client of each room holds the same text, and so does storage.
async function expectConverged(run: Run, list: ClusterClient[]): Promise<void> {
  for (const room of ROOMS) {
    const inRoom = list.filter((c) => c.room === room)
    trace(`waiting for ${room}`)
    await waitFor(() => inRoom.every((c) => c.text === inRoom[0].text), `clients of ${room} to converge`, 30_000)
    trace(`clients of ${room} converged`)
    await waitFor(() => inRoom.every((c) => c.allAcked), `acknowledgements in ${room}`, 30_000)
    const deadline = Date.now() + 30_000
    let stored = await storedText(run, room)
    while (stored.text !== inRoom[0].text && Date.now() < deadline) {
      await sleep(200)
      stored = await storedText(run, room)
    }
    expect(stored.text, `stored ${room}`).toBe(inRoom[0].text)
    expect(inRoom[0].text.length).toBeGreaterThan(0)
  }
}

describe.skipIf(!built)('three concord processes, Redis and PostgreSQL', () => {
  test('seeded edits converge; a SIGKILLed instance loses nothing acknowledged and its cursors vanish', async () => {
    const run = await setup(SHARED_REDIS)
    const servers3 = await startThree(run)
    const random = prng(0xc0ffee)
    // Every room has a client on every instance.
    const list: ClusterClient[] = []
    for (const room of ROOMS) {
      for (let i = 0; i < 3; i++) list.push(await connected(room, `${room}-${i}`, servers3[i].url))
    }
    trace('connected')
    const all = new Set(list.map((c) => c.name))
    for (const c of list) {
      const peers = new Set(list.filter((o) => o.room === c.room).map((o) => o.name))
      await waitFor(() => [...peers].every((p) => c.seenUsers.has(p)), `${c.name} to see its room's cursors`, 15_000)
    }
    await editRandomly(list, random, 150)
    trace('phase 1 done')

    // Kill instance 2 mid-run. Its clients in alpha and beta reconnect to instance 0; the one in
    // gamma closed its tab at the same moment.
    const victims = list.filter((c) => c.name.endsWith('-2'))
    const acknowledgedBefore = new Map(victims.map((c) => [c, c.acknowledged()]))
    await servers3[2].kill('SIGKILL')
    trace('killed')
    const gone = victims.find((c) => c.room === 'gamma') as ClusterClient
    const survivors = list.filter((c) => c !== gone)
    await editRandomly(survivors.filter((c) => !victims.includes(c)), random, 20)
    for (const c of victims) {
      if (c === gone) continue
      await waitFor(() => !c.connected, `${c.name} to notice the crash`, 10_000)
      await c.connect(servers3[0].url)
    }
    // Its user's cursor vanishes everywhere within a bounded time (heartbeat 250 ms × 3).
    trace('reconnected')
    const gammaPeers = survivors.filter((c) => c.room === 'gamma')
    await waitFor(() => gammaPeers.every((c) => !c.seenUsers.has(gone.name)), 'the dead user\'s cursor to vanish', 10_000)

    await editRandomly(survivors, random, 150)
    trace('phase 2 done')
    await expectConverged(run, survivors)
    trace('converged')
    // Nothing acknowledged is lost: the gone client's and the moved clients' acknowledged
    // updates (before and after the crash) are all in storage.
    for (const c of victims) {
      const stored = await storedText(run, c.room)
      expect(contains(stored.state, acknowledgedBefore.get(c) ?? []), `${c.name} acknowledged before the crash`).toBe(true)
      expect(contains(stored.state, c.acknowledged()), `${c.name} acknowledged`).toBe(true)
    }
    for (const c of survivors) {
      const stored = await storedText(run, c.room)
      expect(contains(stored.state, c.acknowledged()), `${c.name} acknowledged`).toBe(true)
    }
    // The moved users' cursors are back everywhere; the gone one stays gone.
    for (const c of survivors) {
      const expected = [...all].filter((n) => n.startsWith(c.room) && n !== gone.name)
      await waitFor(() => expected.every((n) => c.seenUsers.has(n)) && !c.seenUsers.has(gone.name), `${c.name}'s cursors`, 15_000)
    }
  })

  test('restarting Redis mid-run: every client and storage reconverge', async () => {
    const redis = await startPrivateRedis()
    redises.push(redis)
    const run = await setup(redis.url)
    const servers3 = await startThree(run)
    const random = prng(42)
    const list: ClusterClient[] = []
    for (const room of ROOMS) {
      for (let i = 0; i < 3; i++) list.push(await connected(room, `${room}-${i}`, servers3[i].url))
    }
    await editRandomly(list, random, 100)
    await redis.stop()
    await editRandomly(list, random, 100)
    await sleep(300)
    await redis.start()
    await editRandomly(list, random, 100)
    await expectConverged(run, list)
  })
})

describe.skipIf(!built)('concord --workers', () => {
  test('N workers share one port, serve one room together, and stop together on SIGTERM', async () => {
    const run = await setup(SHARED_REDIS)
    const primary = await startInstance(['--workers', '2', ...instanceArgs(run)])
    instances.push(primary)
    await waitFor(() => primary.output.filter((l) => l.includes('listening on')).length === 2, 'both workers to listen', 20_000)
    const random = prng(7)
    const list: ClusterClient[] = []
    for (let i = 0; i < 6; i++) list.push(await connected(ROOMS[i % 3], `${ROOMS[i % 3]}-${i}`, primary.url))
    await editRandomly(list, random, 200)
    await expectConverged(run, list)
    const exited = new Promise<number | null>((r) => primary.child.once('exit', (code) => r(code)))
    primary.child.kill('SIGTERM')
    expect(await exited).toBe(0)
    // The connections were spread over both workers: their close logs name two instances.
    const connIds = primary.output.flatMap((line) => /"conn":"([0-9a-f]+)-\d+"/.exec(line)?.[1] ?? [])
    expect(new Set(connIds).size).toBe(2)
  })

  test('--workers without --redis is refused with a clear message', async () => {
    await expect(startInstance(['--workers', '2', '--storage', 'memory'])).rejects.toThrow(/--workers needs --redis/)
  })
})
