// Several instances as one service through Redis pub/sub: one channel per room carries
// updates and awareness between the instances that hold the room, plus state-vector
// exchanges that repair what pub/sub dropped; one instances channel carries heartbeats, so
// the cursors of a dead instance's users disappear within a bounded time.
//
// Each update is stored by the instance whose client sent it; updates from other instances
// are applied with origin 'cluster' (relayed to local peers, neither stored nor re-published).
// The one exception: when an instance dies, the others store what it sent in its last
// seconds, since it may have died before storing it.
import { createHash, randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import * as Y from 'yjs'
import type { Room } from '../room/room.js'
import type { RoomsCluster } from '../room/rooms.js'
import { isEmptyUpdate } from '../protocol/messages.js'
import {
  decodeClusterMessage, encodeBye, encodeClusterAwareness, encodeClusterUpdate, encodeDeleted, encodeHeartbeat,
  encodeMissing, encodeState, type ClusterMessage,
} from './messages.js'
import { applyOwned, ownAwareness, removeOwned, type Owners } from './owners.js'
import { RecentUpdates } from './recent.js'

/// Options of the Redis cluster link.
export interface RedisClusterOptions {
  /// redis://HOST:PORT (any URL ioredis accepts).
  url: string
  /// Prefix of every channel, so several clusters can share one Redis.
  prefix: string
  /// How often each shared room's state is compared with the peers'.
  syncIntervalMs: number
  /// Heartbeat interval; an instance silent for three intervals is dead.
  heartbeatMs: number
  /// Another instance deleted this room: drop it here (see `Rooms.dropDeleted`).
  deleted?(room: string): void
  /// Where to report connection changes and bad messages.
  log?: { info(msg: string): void; warn(obj: object, msg: string): void }
}

/// A running cluster link.
export interface RedisCluster extends RoomsCluster {
  /// This instance's id, carried by every message it publishes.
  readonly instance: string
  /// Send a local client's update or awareness change to the other instances.
  publish(room: string, kind: 'update' | 'awareness', payload: Uint8Array): void
  /// Whether both Redis connections are up (for /readyz). While not, local clients are
  /// served and rooms reconverge once Redis is back.
  isReady(): boolean
  /// Instances heard from recently (not counting this one).
  peers(): string[]
  /// Say goodbye (after every room was stored) and disconnect.
  close(): Promise<void>
}

interface SharedRoom {
  readonly name: string
  readonly channel: string
  room: Room | null
  store: ((update: Uint8Array) => Promise<void>) | null
  /// Updates that arrived while the room was loading.
  early: Uint8Array[]
  earlyBytes: number
  owners: Owners
  /// Updates received from each instance in the last seconds, stored if it dies.
  recent: RecentUpdates
  /// Digest of the document's delete set and state vector; null once the doc changed.
  digest: Uint8Array | null
  stopWatching: () => void
}

const MAX_EARLY_BYTES = 16 * 1024 * 1024
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}

/// Whether state vector `a` has a clock ahead of `b` for some client.
function ahead(a: Map<number, number>, b: Map<number, number>): boolean {
  for (const [client, clock] of a) if (clock > (b.get(client) ?? 0)) return true
  return false
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    promise.then(
      (v) => { clearTimeout(timer); resolve(v) },
      () => { clearTimeout(timer); resolve(undefined) },
    )
  })
}

/// Connect to Redis and join the cluster. Resolves after at most ~2 s even if Redis is
/// down: the instance then serves its local clients and joins when Redis comes up.
export async function createRedisCluster(options: RedisClusterOptions): Promise<RedisCluster> {
  const instance = randomBytes(8).toString('hex')
  const log = options.log
  const roomPrefix = `${options.prefix}room:`
  const instancesChannel = `${options.prefix}instances`
  const deadAfterMs = options.heartbeatMs * 3
  // Long enough to cover an instance's last updates before its death is noticed.
  const recentMs = deadAfterMs + options.heartbeatMs * 2 + 1000
  const connection = {
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
    maxRetriesPerRequest: null,
  }
  // Publishing fails at once while disconnected (dropped messages are repaired by the state
  // exchange); the subscriber queues its subscriptions and renews them on reconnect.
  const pub = new Redis(options.url, { ...connection, enableOfflineQueue: false })
  const sub = new Redis(options.url, { ...connection, enableOfflineQueue: true, autoResubscribe: true })
  const rooms = new Map<string, SharedRoom>()
  const byChannel = new Map<string, SharedRoom>()
  /// Last time each other instance was heard from.
  const instances = new Map<string, number>()
  let readySince = 0
  let closed = false
  let wasReady = false

  const isReady = () => pub.status === 'ready' && sub.status === 'ready'

  function send(channel: string, message: Buffer): void {
    if (closed || pub.status !== 'ready') return
    pub.publish(channel, message).catch(() => undefined)
  }

  function digestOf(shared: SharedRoom, doc: Y.Doc): Uint8Array {
    if (!shared.digest) {
      shared.digest = createHash('sha1').update(Y.encodeSnapshot(Y.snapshot(doc))).digest()
    }
    return shared.digest
  }

  function announceState(shared: SharedRoom, target: string, wantAwareness: boolean): void {
    const room = shared.room
    if (!room) return
    const awareness = wantAwareness ? ownAwareness(room) : null
    send(shared.channel, encodeState(instance, target, wantAwareness, Y.encodeStateVector(room.document.doc), digestOf(shared, room.document.doc), awareness))
  }

  function applyUpdate(shared: SharedRoom, room: Room, update: Uint8Array): void {
    if (isEmptyUpdate(update)) return
    try {
      room.document.apply(update, 'cluster')
    } catch (error) {
      log?.warn({ err: error, room: shared.name }, 'invalid update from another instance')
    }
  }

  function applyAwareness(shared: SharedRoom, room: Room, from: string, awareness: Uint8Array): void {
    try {
      applyOwned(shared.owners, room, from, awareness)
    } catch (error) {
      log?.warn({ err: error, room: shared.name }, 'invalid awareness from another instance')
    }
  }

  function onRoomMessage(shared: SharedRoom, message: ClusterMessage): void {
    if (message.kind === 'deleted') return void options.deleted?.(shared.name)
    const room = shared.room
    if (!room) {
      // Still loading: keep updates for after the load; awareness comes with the state exchange.
      if (message.kind === 'update' && shared.earlyBytes + message.update.length <= MAX_EARLY_BYTES) {
        shared.early.push(message.update.slice())
        shared.earlyBytes += message.update.length
      }
      return
    }
    switch (message.kind) {
      case 'update':
        shared.recent.add(message.from, message.update)
        applyUpdate(shared, room, message.update)
        return
      case 'awareness':
        applyAwareness(shared, room, message.from, message.awareness)
        return
      case 'state': {
        if (message.awareness.length) applyAwareness(shared, room, message.from, message.awareness)
        let theirs: Map<number, number>
        try {
          theirs = Y.decodeStateVector(message.stateVector)
        } catch (error) {
          log?.warn({ err: error, room: shared.name }, 'invalid state vector from another instance')
          return
        }
        const mine = Y.decodeStateVector(Y.encodeStateVector(room.document.doc))
        const differs = ahead(mine, theirs) || !sameBytes(digestOf(shared, room.document.doc), message.digest)
        if (differs || message.wantAwareness) {
          const update = differs ? Y.encodeStateAsUpdate(room.document.doc, message.stateVector) : null
          const awareness = message.wantAwareness ? ownAwareness(room) : null
          send(shared.channel, encodeMissing(instance, message.from, update, awareness))
        }
        // They hold something we lack: ask them (a targeted state is never answered in kind).
        if (message.target === '' && ahead(theirs, mine)) announceState(shared, message.from, false)
        return
      }
      case 'missing':
        applyUpdate(shared, room, message.update)
        if (message.awareness.length) applyAwareness(shared, room, message.from, message.awareness)
        return
      default:
        return
    }
  }

  /// An instance stopped (`crashed`: without storing everything): remove its users' awareness
  /// and, after a crash, store what it sent lately.
  function forget(dead: string, crashed: boolean): void {
    instances.delete(dead)
    for (const shared of rooms.values()) {
      const room = shared.room
      const ids = shared.owners.get(dead)
      shared.owners.delete(dead)
      const recent = shared.recent.take(dead)
      if (!room) continue
      if (ids?.size) removeOwned(room, ids)
      if (crashed && recent && shared.store) {
        shared.store(recent).catch((error: unknown) => log?.warn({ err: error, room: shared.name }, 'storing a dead instance\'s updates failed'))
      }
    }
    log?.info(`instance ${dead} ${crashed ? 'is silent: presumed dead' : 'left'}`)
  }

  sub.on('messageBuffer', (channelBytes: Buffer, bytes: Buffer) => {
    let message: ClusterMessage
    try {
      message = decodeClusterMessage(bytes)
    } catch (error) {
      log?.warn({ err: error }, 'malformed cluster message')
      return
    }
    if (message.from === instance) return
    if (message.target !== '' && message.target !== instance) return
    const channel = channelBytes.toString()
    if (message.kind === 'bye') {
      forget(message.from, false)
      return
    }
    instances.set(message.from, Date.now())
    if (channel === instancesChannel) return
    const shared = byChannel.get(channel)
    if (shared) onRoomMessage(shared, message)
  })

  // After (re)connecting: pub/sub dropped whatever was sent meanwhile, so compare every room
  // with the peers again, awareness included.
  function onReady(): void {
    if (!isReady()) return
    readySince = Date.now()
    for (const id of instances.keys()) instances.set(id, readySince)
    if (!wasReady) log?.info('cluster: connected to Redis')
    wasReady = true
    send(instancesChannel, encodeHeartbeat(instance))
    for (const shared of rooms.values()) announceState(shared, '', true)
  }
  function onDown(): void {
    if (wasReady && !closed) log?.warn({}, 'cluster: Redis connection lost; serving local clients only')
    wasReady = false
  }
  for (const client of [pub, sub]) {
    client.on('ready', onReady)
    client.on('close', onDown)
    client.on('error', () => undefined) // reported by onDown; ioredis reconnects by itself
  }

  const heartbeat = setInterval(() => {
    if (!isReady()) return
    send(instancesChannel, encodeHeartbeat(instance))
    // Until we have been connected for a full period, silence may be our own fault.
    const now = Date.now()
    if (now - readySince < deadAfterMs) return
    for (const [id, seen] of instances) if (now - seen > deadAfterMs) forget(id, true)
  }, options.heartbeatMs)
  heartbeat.unref()

  const sync = setInterval(() => {
    if (!isReady()) return
    for (const shared of rooms.values()) {
      announceState(shared, '', false)
      shared.recent.pruneAll()
    }
  }, options.syncIntervalMs)
  sync.unref()

  sub.subscribe(instancesChannel).catch(() => undefined)
  const up = (client: Redis) => new Promise<void>((resolve) => {
    if (client.status === 'ready') resolve()
    else client.once('ready', () => resolve())
  })
  await withTimeout(Promise.all([up(pub), up(sub)]), 2000)

  return {
    instance,
    isReady,
    peers: () => [...instances.keys()],

    publish(room, kind, payload) {
      const channel = roomPrefix + room
      send(channel, kind === 'update' ? encodeClusterUpdate(instance, payload) : encodeClusterAwareness(instance, payload))
    },

    async beforeLoad(name) {
      let shared = rooms.get(name)
      if (!shared) {
        shared = {
          name, channel: roomPrefix + name, room: null, store: null, early: [], earlyBytes: 0,
          owners: new Map(), recent: new RecentUpdates(recentMs), digest: null, stopWatching: () => undefined,
        }
        rooms.set(name, shared)
        byChannel.set(shared.channel, shared)
      }
      const subscribed = sub.subscribe(shared.channel)
      // Down: the subscription is queued and made on reconnect; do not hold the load up.
      if (sub.status === 'ready') await withTimeout(subscribed, 2000)
      else subscribed.catch(() => undefined)
    },

    loaded(room, store) {
      const shared = rooms.get(room.name)
      if (!shared) return
      shared.room = room
      shared.store = store
      const dirty = () => { shared.digest = null }
      room.document.doc.on('update', dirty)
      shared.stopWatching = () => room.document.doc.off('update', dirty)
      const early = shared.early
      shared.early = []
      shared.earlyBytes = 0
      for (const update of early) applyUpdate(shared, room, update)
      announceState(shared, '', true)
    },

    deleted(name) {
      send(roomPrefix + name, encodeDeleted(instance))
    },

    left(name, room) {
      const shared = rooms.get(name)
      if (!shared || shared.room !== room) return
      shared.stopWatching()
      rooms.delete(name)
      byChannel.delete(shared.channel)
      sub.unsubscribe(shared.channel).catch(() => undefined)
    },

    async close() {
      if (closed) return
      clearInterval(heartbeat)
      clearInterval(sync)
      if (pub.status === 'ready') await withTimeout(pub.publish(instancesChannel, encodeBye(instance)), 1000)
      closed = true
      for (const shared of rooms.values()) shared.stopWatching()
      rooms.clear()
      byChannel.clear()
      pub.disconnect()
      sub.disconnect()
    },
  }
}
