// What one room sends at the end of an event-loop turn: the turn's updates, merged per origin
// (and all together for the peers that sent none) and encoded once for every receiver, then
// stored (acknowledged once stored) and published;
// and the awareness messages of the turn, relayed as they came. A receiver so gets all of a
// turn in one write, and one immediate serves every room with something to send.
import * as Y from 'yjs'
import { encodeAck, encodeUpdate, isEmptyUpdate } from './protocol.js'
import type { Origin, Peer, Room, RoomHooks } from './room.js'
import type { Stored } from './writeBatcher.js'

/// Send `frame` to every peer but `except`.
export function broadcast(peers: Iterable<Peer>, frame: Uint8Array, except: Peer | null): void {
  for (const peer of peers) if (peer !== except) peer.send(frame)
}

/// One origin's updates of a turn as one update, leaving out the empty ones (a client with
/// nothing to add answers sync step 1 with an empty update); null if nothing is left.
function mergeUseful(updates: Uint8Array[]): Uint8Array | null {
  let merged: Uint8Array | null = null
  let useful = 0
  for (const update of updates) if (!isEmptyUpdate(update)) { merged = update; useful++ }
  return useful > 1 ? Y.mergeUpdates(updates.filter((u) => !isEmptyUpdate(u))) : merged
}

/// Outboxes with something to send at the end of this turn.
let dirty: TurnOutbox[] = []

function flushDirty(): void {
  const outboxes = dirty
  dirty = []
  for (const outbox of outboxes) outbox.flush()
}

/// One room's outbox for the current turn.
export class TurnOutbox {
  /// Updates of this turn, in order, and their origins.
  private origins: Origin[] = []
  private updates: Uint8Array[] = []
  private awareness: Array<{ origin: Peer; message: Uint8Array }> = []
  private scheduled = false
  /// Set when the room is destroyed: nothing is sent any more.
  closed = false

  constructor(private readonly room: Room, private readonly hooks: RoomHooks) {}

  /// Whether nothing waits to be sent.
  get empty(): boolean {
    return this.origins.length === 0 && this.awareness.length === 0
  }

  /// Relay, store and publish `update` at the end of this turn.
  update(origin: Origin, update: Uint8Array): void {
    this.origins.push(origin)
    this.updates.push(update)
    this.schedule()
  }

  /// Relay an encoded awareness message at the end of this turn (unless its sender left).
  awarenessFrom(origin: Peer, message: Uint8Array): void {
    this.awareness.push({ origin, message })
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    if (dirty.length === 0) setImmediate(flushDirty)
    dirty.push(this)
  }

  /// Send what this turn gathered now.
  flush(): void {
    this.scheduled = false
    if (this.closed) return
    const { origins, updates, awareness } = this
    if (origins.length > 0) {
      this.origins = []
      this.updates = []
      let oneOrigin = true
      for (let i = 1; i < origins.length && oneOrigin; i++) oneOrigin = origins[i] === origins[0]
      if (oneOrigin) { // the usual turn: one typist
        const merged = mergeUseful(updates)
        this.relay(origins[0], merged)
        this.store(origins[0], merged)
      } else this.relayMany(origins, updates)
    }
    if (awareness.length === 0) return
    this.awareness = []
    // A peer that left meanwhile had its states removed (and the removal relayed): skip it.
    const peers = this.room.peers
    for (const { origin, message } of awareness) if (peers.has(origin)) broadcast(peers.keys(), message, origin)
  }

  /// Send one origin's merged update to every peer but the origin.
  private relay(origin: Origin, merged: Uint8Array | null): void {
    if (merged) broadcast(this.room.peers.keys(), encodeUpdate(merged), typeof origin === 'object' ? origin : null)
  }

  /// A turn with several origins (fan-out: many writers in one room). A peer that sent none
  /// of it gets the whole turn as one merged update, the same frame as every such peer: one
  /// message to apply, no per-receiver copy. A peer that sent some gets each other origin's
  /// update (frames shared with the other senders).
  private relayMany(origins: Origin[], updates: Uint8Array[]): void {
    const byOrigin = new Map<Origin, Uint8Array[]>()
    for (let i = 0; i < origins.length; i++) {
      const list = byOrigin.get(origins[i])
      if (list) list.push(updates[i])
      else byOrigin.set(origins[i], [updates[i]])
    }
    const merged: Array<[Origin, Uint8Array | null]> = [...byOrigin].map(([origin, list]) => [origin, mergeUseful(list)])
    const useful = merged.filter((entry): entry is [Origin, Uint8Array] => entry[1] !== null)
    if (useful.length < 2) for (const [origin, update] of useful) this.relay(origin, update)
    else {
      const frames = useful.map(([origin, update]) => [origin, encodeUpdate(update)] as const)
      const whole = encodeUpdate(Y.mergeUpdates(useful.map(([, update]) => update)))
      for (const peer of this.room.peers.keys()) {
        if (!byOrigin.has(peer)) peer.send(whole)
        else for (const [origin, frame] of frames) if (origin !== peer) peer.send(frame)
      }
    }
    for (const [origin, update] of merged) this.store(origin, update)
  }

  /// Publish and store one origin's update of this turn (null: only wait for what is
  /// queued), and acknowledge it to the origin once stored.
  private store(origin: Origin, merged: Uint8Array | null): void {
    const { room, hooks } = this
    if (origin === 'cluster') return // stored and acknowledged by the instance it came from
    if (merged) hooks.publish?.(room.name, 'update', merged)
    const count = typeof origin === 'object' && origin.wantsAck ? room.peers.get(origin)?.received : undefined
    hooks.persist(room.name, merged, count === undefined ? this.storeFailed : (error) => {
      if (error !== undefined) hooks.failed(room, error)
      else if (room.peers.has(origin as Peer)) (origin as Peer).send(encodeAck(count))
    })
  }

  private readonly storeFailed: Stored = (error) => {
    if (error !== undefined) this.hooks.failed(this.room, error)
  }
}
