// What one room sends at the end of an event-loop turn: the turn's updates, merged per origin
// and encoded once for every receiver, then stored (acknowledged once stored) and published;
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
      if (oneOrigin) this.deliver(origins[0], updates) // the usual turn: one typist
      else {
        const byOrigin = new Map<Origin, Uint8Array[]>()
        for (let i = 0; i < origins.length; i++) {
          const list = byOrigin.get(origins[i])
          if (list) list.push(updates[i])
          else byOrigin.set(origins[i], [updates[i]])
        }
        for (const [origin, list] of byOrigin) this.deliver(origin, list)
      }
    }
    if (awareness.length === 0) return
    this.awareness = []
    // A peer that left meanwhile had its states removed (and the removal relayed): skip it.
    const peers = this.room.peers
    for (const { origin, message } of awareness) if (peers.has(origin)) broadcast(peers.keys(), message, origin)
  }

  /// Relay one origin's updates of this turn as one merged update, publish and store it, and
  /// acknowledge it to the origin once stored.
  private deliver(origin: Origin, updates: Uint8Array[]): void {
    const { room, hooks } = this
    // A client with nothing to add answers sync step 1 with an empty update: relay nothing.
    let merged: Uint8Array | null = null
    let useful = 0
    for (const update of updates) if (!isEmptyUpdate(update)) { merged = update; useful++ }
    if (useful > 1) merged = Y.mergeUpdates(updates.filter((u) => !isEmptyUpdate(u)))
    if (merged) broadcast(room.peers.keys(), encodeUpdate(merged), typeof origin === 'object' ? origin : null)
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
