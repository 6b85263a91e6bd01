// One room: a Yjs document, its awareness states and the peers connected to it. Knows the
// protocol's rules (sync, relay, no echo, read-only) but nothing of sockets or HTTP.
import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { CloseCode } from './closeCodes.js'
import { Presence } from './presence.js'
import {
  ProtocolError, decodeFrame, encodeAck, encodeAuthDenied, encodeAwareness, encodeSyncStep1,
  encodeSyncStep2, encodeUpdate, isEmptyUpdate, type Message,
} from './protocol.js'
import { checkUpdate } from './updateCheck.js'
import type { Stored } from './writeBatcher.js'

/// What a room needs of a connection.
export interface Peer {
  readonly id: string
  /// Updates from a read-only peer are dropped (and it is told once).
  readonly readOnly: boolean
  /// Whether the peer asked for write acknowledgements.
  readonly wantsAck: boolean
  /// Awareness client ids this peer announced; removed when it leaves.
  readonly awarenessIds: Set<number>
  /// Send one encoded message. Must not throw.
  send(frame: Uint8Array): void
  /// Close the peer's connection.
  close(code: number, reason: string): void
}

/// Where an update came from: a connected peer, the HTTP API, or another instance.
export type Origin = Peer | 'api' | 'cluster'

/// Callbacks a room uses to reach storage and the cluster; `rooms.ts` provides them.
export interface RoomHooks {
  /// Store an update durably; `done` runs once it and everything before it is stored (with
  /// the error if that failed). With `null`, only waits for what is already queued.
  persist(room: string, update: Uint8Array | null, done: Stored): void
  /// Send an update or awareness message to other instances.
  publish?(room: string, kind: 'update' | 'awareness', payload: Uint8Array): void
  /// Called when the last peer left.
  empty(room: Room): void
  /// Called when an update could not be stored: the room must not pretend it was.
  failed(room: Room, error: unknown): void
  /// Seconds one integration (an update, or a batch of held-back ones) took, for metrics.
  applied?(seconds: number): void
}

interface PeerState {
  /// Update messages received from this peer so far.
  received: number
  /// Whether it was told that its updates are refused.
  toldReadOnly: boolean
}

/// Encoded full state, reused by every joiner until the document changes.
interface StateCache {
  version: number
  stateVector: Uint8Array
  fullState: Uint8Array | null
}

/// An update with no structs and no deletions (what an empty document sends in step 2).
const NO_CHANGE = Uint8Array.of(0, 0)

/// Plain updates held for one batched integration (see `Room.settle`): at most this many, or
/// this many bytes, before the room integrates them anyway.
const MAX_UNSETTLED = 16
const MAX_UNSETTLED_BYTES = 256 * 1024

/// Scratch for `checkUpdate`'s client ends (one update is checked at a time).
const ends: number[] = []

/// Whether a transaction deleted something or added structs (Yjs' test before an 'update').
function changedDocument(tr: Y.Transaction): boolean {
  if (tr.deleteSet.clients.size > 0) return true
  for (const [client, clock] of tr.afterState) if (tr.beforeState.get(client) !== clock) return true
  return false
}

/// Rooms with something to send at the end of this event-loop turn.
let dirtyRooms: Room[] = []

/// A room's live state.
export class Room {
  private readonly ydoc = new Y.Doc({ gc: true })
  readonly presence = new Presence()
  readonly peers = new Map<Peer, PeerState>()
  /// Incremented on every applied update; keys the state cache.
  private version = 0
  private cache: StateCache | null = null
  /// Updates applied this event-loop turn, in order, and their origins: broadcast together
  /// by `flush`.
  private outOrigins: Origin[] = []
  private outUpdates: Uint8Array[] = []
  /// Awareness messages received this turn, relayed by `flush` with the updates, so that a
  /// receiver gets everything of one turn in one write.
  private awarenessOut: Array<{ origin: Peer; message: Uint8Array }> = []
  private flushScheduled = false
  private destroyed = false
  /// Whether the last transaction changed the document (Yjs' own test before an 'update').
  private changed = false
  /// The last transaction's state before it began: what a failed update had already changed.
  private changedSince: Map<number, number> | null = null
  /// Plain updates already relayed and stored, not yet integrated into the document.
  private unsettled: Array<{ origin: Origin; update: Uint8Array }> = []
  private unsettledBytes = 0
  /// Where clients' histories end once the unsettled updates are integrated.
  private readonly heldClocks = new Map<number, number>()
  /// The clock each client reaches with the unsettled updates: what a new update may build on.
  private readonly clocks = (client: number): number => this.heldClocks.get(client) ?? Y.getState(this.ydoc.store, client)

  constructor(readonly name: string, private readonly hooks: RoomHooks) {
    this.ydoc.on('afterTransaction', (tr: Y.Transaction) => {
      this.changed = changedDocument(tr)
      this.changedSince = tr.beforeState
    })
  }

  /// The room's document, with every update received so far integrated.
  get doc(): Y.Doc {
    this.settle()
    return this.ydoc
  }

  /// Load stored updates before any peer joins.
  restore(updates: readonly Uint8Array[]): void {
    if (updates.length === 0) return
    Y.applyUpdate(this.ydoc, updates.length === 1 ? updates[0] : Y.mergeUpdates(updates as Uint8Array[]))
    this.version++
  }

  /// Add a peer: send it our sync step 1 and the current awareness states.
  join(peer: Peer): void {
    this.peers.set(peer, { received: 0, toldReadOnly: false })
    peer.send(encodeSyncStep1(this.state().stateVector))
    const awareness = this.presence.snapshot()
    if (awareness) peer.send(encodeAwareness(awareness))
  }

  /// Remove a peer; its awareness states are removed and the removal relayed at once.
  leave(peer: Peer): void {
    if (!this.peers.delete(peer)) return
    const removal = this.presence.remove(peer.awarenessIds)
    peer.awarenessIds.clear()
    if (removal) {
      this.relayAwareness(encodeAwareness(removal), peer)
      this.hooks.publish?.(this.name, 'awareness', removal)
    }
    if (this.peers.size === 0) this.hooks.empty(this)
  }

  /// Handle one frame from a peer. Throws `ProtocolError` for malformed input; the caller
  /// closes that peer. A frame that does not decode is applied in no part.
  receive(peer: Peer, frame: Uint8Array): void {
    this.receiveMessages(peer, decodeFrame(frame))
  }

  /// Handle the messages of one frame, already decoded whole by `decodeFrame` (a caller that
  /// decoded the frame for its own checks need not have it decoded twice).
  receiveMessages(peer: Peer, messages: readonly Message[]): void {
    const state = this.peers.get(peer)
    if (!state) return
    for (const message of messages) this.handle(peer, state, message)
  }

  private handle(peer: Peer, state: PeerState, message: Message): void {
    switch (message.type) {
      case 'syncStep1':
        peer.send(this.syncReply(message.stateVector))
        return
      case 'syncStep2':
      case 'update':
        if (peer.readOnly) {
          if (!state.toldReadOnly) peer.send(encodeAuthDenied('read-only access: document updates are ignored'))
          state.toldReadOnly = true
          return
        }
        state.received++
        // A step 2 often repeats what the room has (a reconnect): integrated at once, so that
        // what changes nothing is neither relayed nor stored. A live edit may wait.
        this.apply(message.update, peer, message.type === 'update')
        return
      case 'awareness': {
        const change = this.presence.apply(message.update)
        for (const id of change.set) peer.awarenessIds.add(id)
        for (const id of change.removed) peer.awarenessIds.delete(id)
        // The received bytes are already an encoded awareness message: relay them as they are.
        this.awarenessOut.push({ origin: peer, message: message.raw })
        this.scheduleFlush()
        this.hooks.publish?.(this.name, 'awareness', message.update)
        return
      }
      case 'queryAwareness': {
        const snapshot = this.presence.snapshot()
        if (snapshot) peer.send(encodeAwareness(snapshot))
        return
      }
      case 'auth':
      case 'ack':
        return // only servers send these; ignore rather than punish
    }
  }

  /// Apply an update from any origin; it is relayed to every peer but the origin at the end
  /// of this event-loop turn, stored, and published to other instances unless it came from
  /// one. Throws `ProtocolError` if the update is not valid Yjs; what Yjs integrated of it before
  /// failing stays in the document and is relayed and stored like any change. With `mayWait`,
  /// a plain update (see `checkUpdate`) joins a batch integrated when the document is next
  /// read: Yjs' cost per transaction is paid once per batch, not once per keystroke.
  apply(update: Uint8Array, origin: Origin, mayWait = false): void {
    let plain: boolean
    try {
      plain = checkUpdate(update, this.clocks, ends)
    } catch (error) {
      throw new ProtocolError(`invalid Yjs update: ${(error as Error).message}`)
    }
    const { pendingStructs, pendingDs } = this.ydoc.store
    if (plain && mayWait && pendingStructs === null && pendingDs === null) {
      for (let i = 0; i < ends.length; i += 2) this.heldClocks.set(ends[i], ends[i + 1])
      // A copy: the update is a view into the socket's read buffer, which it would pin.
      const held = new Uint8Array(update)
      this.unsettled.push({ origin, update: held })
      this.unsettledBytes += held.length
      this.version++
      this.outOrigins.push(origin)
      this.outUpdates.push(held)
      this.scheduleFlush()
      if (this.unsettled.length >= MAX_UNSETTLED || this.unsettledBytes >= MAX_UNSETTLED_BYTES) this.settle()
      return
    }
    this.settle()
    const start = performance.now()
    this.changed = false
    this.changedSince = null
    const store = this.ydoc.store
    // Yjs changes what it holds pending in place; kept to undo a refused update's share of it.
    const pending = store.pendingStructs
    const heldStructs = pending && { missing: new Map(pending.missing), update: pending.update }
    const heldDs = store.pendingDs
    try {
      Y.applyUpdate(this.ydoc, update, origin)
    } catch (error) {
      // What a refused update left pending is not in the document and may not even encode
      // again (a varint past 2^53): drop it, so that joiners can still be sent the state.
      store.pendingStructs = heldStructs
      store.pendingDs = heldDs
      if (this.changed) this.keepPartial(origin)
      throw new ProtocolError(`invalid Yjs update: ${(error as Error).message}`)
    }
    this.hooks.applied?.((performance.now() - start) / 1000)
    // An update that changed nothing (a reconnecting client's step 2 repeats its whole delete
    // set) is neither relayed nor stored again; it still counts for the sender's ack. What
    // Yjs holds pending (missing dependencies) counts as a change.
    const useful = this.changed || this.ydoc.store.pendingStructs !== null || this.ydoc.store.pendingDs !== null
    if (useful) this.version++
    this.outOrigins.push(origin)
    this.outUpdates.push(useful ? update : NO_CHANGE)
    this.scheduleFlush()
  }

  /// Yjs integrates an update's structs before it reads the delete set, and keeps what it
  /// integrated when a later part is malformed. The document has then changed although the
  /// update was refused: relay and store what it now holds beyond the transaction's start
  /// (rather than the bytes received), or peers and storage silently diverge from it.
  private keepPartial(origin: Origin): void {
    const before = this.changedSince
    if (before === null) return
    this.version++
    let held: Uint8Array
    try {
      held = Y.encodeStateAsUpdate(this.ydoc, Y.encodeStateVector(before))
    } catch {
      return // an earlier update left something that cannot be encoded: nothing to send
    }
    this.outOrigins.push(origin)
      this.outUpdates.push(held)
    this.scheduleFlush()
  }

  /// Integrate the held plain updates, in arrival order, in one transaction. They were checked
  /// to integrate without error; should Yjs still refuse one, its sender is closed (it was
  /// relayed, as peers integrate it just as this document does).
  private settle(): void {
    const batch = this.unsettled
    if (batch.length === 0) return
    this.unsettled = []
    this.unsettledBytes = 0
    this.heldClocks.clear()
    const start = performance.now()
    Y.transact(this.ydoc, () => {
      for (const { origin, update } of batch) {
        try {
          Y.applyUpdate(this.ydoc, update, origin)
        } catch (error) {
          if (typeof origin === 'object') origin.close(CloseCode.Malformed, `malformed message: invalid Yjs update: ${(error as Error).message}`)
        }
      }
    })
    this.hooks.applied?.((performance.now() - start) / 1000)
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    if (dirtyRooms.length === 0) setImmediate(Room.flushDirty)
    dirtyRooms.push(this)
  }

  // One immediate for every room with something to send this turn, not one per room.
  private static flushDirty(): void {
    const rooms = dirtyRooms
    dirtyRooms = []
    for (const room of rooms) room.flush()
  }

  /// Broadcast, store and publish this turn's updates: one merged update per origin,
  /// encoded once, and the same bytes written to every receiver.
  private flush(): void {
    this.flushScheduled = false
    if (this.destroyed) return
    const origins = this.outOrigins
    const updates = this.outUpdates
    if (origins.length > 0) {
      this.outOrigins = []
      this.outUpdates = []
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
    const awareness = this.awarenessOut
    if (awareness.length === 0) return
    this.awarenessOut = []
    // A peer that left meanwhile had its states removed (and the removal relayed): skip it.
    for (const { origin, message } of awareness) if (this.peers.has(origin)) this.relayAwareness(message, origin)
  }

  /// Relay one origin's updates of this turn as one merged update, publish and store it, and
  /// acknowledge it to the origin once stored.
  private deliver(origin: Origin, updates: Uint8Array[]): void {
    // A client with nothing to add answers sync step 1 with an empty update: relay nothing.
    let merged: Uint8Array | null = null
    let useful = 0
    for (const update of updates) if (!isEmptyUpdate(update)) { merged = update; useful++ }
    if (useful > 1) merged = Y.mergeUpdates(updates.filter((u) => !isEmptyUpdate(u)))
    if (merged) {
      const frame = encodeUpdate(merged)
      for (const peer of this.peers.keys()) if (peer !== origin) peer.send(frame)
    }
    if (origin === 'cluster') return // stored and acknowledged by the instance it came from
    if (merged) this.hooks.publish?.(this.name, 'update', merged)
    const count = typeof origin === 'object' && origin.wantsAck ? this.peers.get(origin)?.received : undefined
    this.hooks.persist(this.name, merged, count === undefined ? this.storeFailed : (error) => {
      if (error !== undefined) this.hooks.failed(this, error)
      else if (this.peers.has(origin as Peer)) (origin as Peer).send(encodeAck(count))
    })
  }

  private readonly storeFailed: Stored = (error) => {
    if (error !== undefined) this.hooks.failed(this, error)
  }

  /// Apply an awareness update from another instance and relay it to local peers.
  applyRemoteAwareness(update: Uint8Array): void {
    this.presence.apply(update)
    this.relayAwareness(encodeAwareness(update), null)
  }

  private relayAwareness(frame: Uint8Array, origin: Peer | null): void {
    for (const peer of this.peers.keys()) if (peer !== origin) peer.send(frame)
  }

  /// Sync step 2 for a peer with this state vector. A peer with nothing (a fresh joiner)
  /// gets the cached full state, encoded once per document version.
  private syncReply(stateVector: Uint8Array): Uint8Array {
    const empty = stateVector.length === 1 && stateVector[0] === 0
    if (empty) {
      const cache = this.state()
      if (!cache.fullState) cache.fullState = encodeSyncStep2(Y.encodeStateAsUpdate(this.ydoc))
      return cache.fullState
    }
    this.settle()
    let diff: Uint8Array
    try {
      diff = Y.encodeStateAsUpdate(this.ydoc, stateVector)
    } catch (error) {
      throw new ProtocolError(`invalid state vector: ${(error as Error).message}`)
    }
    return encodeSyncStep2(diff)
  }

  private state(): StateCache {
    this.settle()
    if (!this.cache || this.cache.version !== this.version) {
      this.cache = { version: this.version, stateVector: Y.encodeStateVector(this.ydoc), fullState: null }
    }
    return this.cache
  }

  /// Updates relayed and stored but not yet integrated into the document (see `settle`).
  get heldUpdates(): number {
    return this.unsettled.length
  }

  /// Whether updates are waiting to be broadcast and stored.
  get idle(): boolean {
    return this.outOrigins.length === 0 && this.awarenessOut.length === 0
  }

  /// Broadcast and store what is pending now instead of at the end of the turn, and bring
  /// the document up to date (before an unload or shutdown).
  flushNow(): void {
    if (!this.idle) this.flush()
    this.settle()
  }

  /// Free the document. The room must have no peers.
  destroy(): void {
    this.destroyed = true
    this.unsettled = []
    this.ydoc.destroy()
  }
}
