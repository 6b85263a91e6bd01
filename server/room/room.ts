// One room: a Yjs document, its awareness states and the peers connected to it. Knows the
// protocol's rules (sync, relay, no echo, read-only) but nothing of sockets or HTTP.
import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { CloseCode } from '../protocol/closeCodes.js'
import { Presence } from './presence.js'
import {
  OverLimitError, ProtocolError, Reader, decodeFrame, encodeAuthDenied, encodeAwareness, encodeSyncStep1,
  encodeSyncStep2, isEmptyUpdate, type Message,
} from '../protocol/messages.js'
import { HeldBack } from './heldBack.js'
import { settleSoon, type Settling } from './settleQueue.js'
import { Integrator, type Integration } from './integrate.js'
import { StateCache } from './stateCache.js'
import { EncodedDoc } from './encodedDoc.js'
import { refuseDeleted } from './tombstone.js'
import type { Origin, Peer } from './peer.js'
import { TurnOutbox, broadcast, joined } from './turnOutbox.js'
import type { Stored } from '../storage/writeBatcher.js'

export type { Origin, Peer } from './peer.js'

/// Callbacks a room uses to reach storage and the cluster; `rooms.ts` provides them.
export interface RoomHooks {
  /// Store an update durably; `done` runs once it and everything before it is stored (with
  /// the error if that failed). With `null`, only waits for what is already queued.
  persist(room: string, update: Uint8Array | null, done: Stored, author: string | null): void
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
  /// Who its updates are by (see `authorOf`); undefined until asked after its last
  /// awareness change.
  author: string | null | undefined
}

/// An update with no structs and no deletions (what an empty document sends in step 2).
const NO_CHANGE = Uint8Array.of(0, 0)
/// Clients a sync step 1's state vector may name beyond those the room's document has.
const UNKNOWN_CLIENTS = 1000

/// A room's Y.Doc and what integrates updates into it: present while the room is awake.
interface Awake {
  readonly doc: Y.Doc
  readonly cache: StateCache
  readonly integrator: Integrator
  /// Plain updates already relayed and stored, not yet integrated into the document.
  readonly held: HeldBack<Origin>
}

/// How a room holds its document.
export interface RoomOptions {
  /// See `Integrator`; default no limit.
  maxPendingBytes?: number
  /// Whether the room starts asleep (its document as the encoded updates it was restored
  /// from, see `EncodedDoc`) and may fall asleep again (`sleep`). Default false: a Y.Doc
  /// throughout.
  sleeps?: boolean
}

/// A room's live state.
export class Room implements Settling {
  /// The document, awake (a Y.Doc) or asleep (encoded): exactly one of the two is set.
  private awake: Awake | null = null
  private asleep: EncodedDoc | null = null
  readonly presence = new Presence()
  readonly peers = new Map<Peer, PeerState>()
  /// The state vector of a deleted document of this name, if one was (see `tombstone.ts`).
  tombstone: Map<number, number> | null = null
  /// Incremented on every applied update; keys the state cache.
  private revision = 0

  /// What this turn's messages are sent with.
  private readonly outbox: TurnOutbox

  /// Set while stored updates are loaded (nothing is sent or stored then).
  private restoring = false
  /// While an update is integrated at once: what the document's transaction integrated.
  private integrated: Uint8Array[] | null = null

  private readonly maxPendingBytes: number
  private readonly sleeps: boolean

  constructor(readonly name: string, private readonly hooks: RoomHooks, options: RoomOptions = {}) {
    this.outbox = new TurnOutbox(this, { persist: hooks.persist, publish: hooks.publish, failed: (error) => hooks.failed(this, error) })
    this.maxPendingBytes = options.maxPendingBytes ?? Infinity
    this.sleeps = options.sleeps ?? false
    if (this.sleeps) this.asleep = EncodedDoc.fromStored([])
    else this.wake()
  }

  /// Build the room's Y.Doc from what it holds asleep (or an empty one).
  private wake(): Awake {
    if (this.awake) return this.awake
    const doc = new Y.Doc({ gc: true })
    // Yjs changes a document by itself when it integrates remote edits of formatted text: it
    // deletes formatting marks that no longer apply, in a local transaction of its own. That
    // change is the room's: every peer gets it (the edit's author did not make it), and it is
    // stored, or the author, the store and the room would hold different documents.
    doc.on('update', (update: Uint8Array, _origin: unknown, _doc: Y.Doc, tr: Y.Transaction) => {
      if (this.restoring) return
      if (tr.local) {
        this.revision++
        this.outbox.update('server', update)
      } else if (this.integrated !== null) this.integrated.push(update)
    })
    const awake: Awake = { doc, cache: new StateCache(doc), integrator: new Integrator(doc, this.maxPendingBytes), held: new HeldBack<Origin>(doc) }
    if (this.asleep) this.integrateQuietly(doc, this.asleep.updates())
    this.asleep = null
    return (this.awake = awake)
  }

  /// Apply stored updates in one local transaction, unheard by the room: Yjs cleans up
  /// formatting only after remote ones, and loading a document must not change it (a change
  /// no peer and no store would hear of).
  private integrateQuietly(doc: Y.Doc, updates: readonly Uint8Array[]): void {
    this.restoring = true
    try {
      Y.transact(doc, () => { for (const update of updates) Y.applyUpdate(doc, update) })
    } finally {
      this.restoring = false
    }
  }

  /// Let the document fall asleep: kept as its encoded state, the Y.Doc freed. Only a room that
  /// sleeps, has nothing waiting to be integrated, sent or stored, and nothing pending.
  sleep(): boolean {
    const awake = this.awake
    if (!awake || !this.sleeps || !this.outbox.empty) return false
    this.settle()
    const { pendingStructs, pendingDs } = awake.doc.store
    if (pendingStructs !== null || pendingDs !== null || !this.outbox.empty) return false
    const clocks = Y.decodeStateVector(awake.cache.stateVector(this.revision))
    this.asleep = EncodedDoc.fromState(awake.cache.fullState(this.revision), clocks)
    this.awake = null
    awake.doc.destroy()
    return true
  }

  /// Whether the document is held encoded (see `EncodedDoc`).
  get sleeping(): boolean {
    return this.asleep !== null
  }

  /// The room's document, with every update received so far integrated (it wakes the room).
  get doc(): Y.Doc {
    this.settle()
    return this.wake().doc
  }

  /// The document's encoded state vector (the room stays as it is).
  get stateVector(): Uint8Array {
    this.settle()
    return this.asleep ? this.asleep.stateVector() : this.awake!.cache.stateVector(this.revision)
  }

  /// Load stored updates before any peer joins.
  restore(updates: readonly Uint8Array[]): void {
    if (updates.length === 0) return
    if (this.asleep) this.asleep = EncodedDoc.fromStored(updates)
    else this.integrateQuietly(this.awake!.doc, updates)
    this.revision++
  }

  /// Add a peer: send it our sync step 1 and the current awareness states.
  join(peer: Peer): void {
    this.peers.set(peer, { received: 0, toldReadOnly: false, author: undefined })
    peer.send(encodeSyncStep1(this.stateVector))
    const awareness = this.presence.snapshot()
    if (awareness) peer.send(encodeAwareness(awareness))
  }

  /// Remove a peer; its awareness states are removed and the removal relayed at once.
  leave(peer: Peer): void {
    if (!this.peers.delete(peer)) return
    const removal = this.presence.remove(peer.awarenessIds)
    peer.awarenessIds.clear()
    if (removal) {
      broadcast(this.peers.keys(), encodeAwareness(removal), peer)
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
        this.apply(message.update, peer, message.type === 'update', (state.author ??= this.authorOf(peer)))
        return
      case 'awareness': {
        this.presence.apply(message.update, peer.awarenessIds, peer.maxAwarenessIds)
        state.author = undefined // the name may have changed
        // The received bytes are already an encoded awareness message: relay them as they are.
        this.outbox.awarenessFrom(peer, message.raw)
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

  /// Who a peer's updates are by: its token's subject, else the display name its awareness
  /// state gives (a server without auth), else nobody.
  private authorOf(peer: Peer): string | null {
    return peer.user ?? this.presence.nameOf(peer.awarenessIds)
  }

  /// Apply an update from any origin, made by `author`; it is relayed to every peer but the origin at the end
  /// of this event-loop turn, stored, and published to other instances unless it came from
  /// one. Throws `ProtocolError` if the update is not valid Yjs; what Yjs integrated of it before
  /// failing stays in the document and is relayed and stored like any change. With `mayWait`,
  /// a plain update (see `checkUpdate`) joins a batch integrated when the document is next
  /// read: Yjs' cost per transaction is paid once per batch, not once per keystroke.
  apply(update: Uint8Array, origin: Origin, mayWait = false, author: string | null = null): void {
    // An empty update (a fresh client's step 2, or a keepalive) changes nothing: it counts for
    // the sender's ack, and not as a change (the room may still fall asleep).
    if (isEmptyUpdate(update)) return this.outbox.update(origin, NO_CHANGE)
    if (this.tombstone) refuseDeleted(update, this.tombstone)
    if (this.asleep && this.applyAsleep(this.asleep, update, origin, mayWait, author)) return
    const { doc, held, integrator } = this.wake()
    let plain: boolean
    try {
      plain = held.check(update)
    } catch (error) {
      throw new ProtocolError(`invalid Yjs update: ${(error as Error).message}`)
    }
    const { pendingStructs, pendingDs } = doc.store
    if (plain && mayWait && pendingStructs === null && pendingDs === null) {
      this.revision++
      this.outbox.update(origin, held.hold(update, origin), undefined, author)
      // A full batch waits its turn in the queue; one that outgrew the queue is integrated now.
      if (held.overfull) this.settle()
      else if (held.full) settleSoon(this)
      return
    }
    this.settle()
    const start = performance.now()
    const pendingBefore = pendingStructs !== null || pendingDs !== null
    const integrated: Uint8Array[] = (this.integrated = [])
    let result: Integration
    try {
      result = integrator.apply(update, origin)
    } finally {
      this.integrated = null
    }
    if (result.refused) {
      this.revision++ // what Yjs integrated before refusing it stays, and is relayed and stored
      if (result.partial) this.outbox.update(origin, result.partial, undefined, author)
      if (result.overLimit) throw new OverLimitError(result.error.message)
      throw new ProtocolError(`invalid Yjs update: ${result.error.message}`)
    }
    this.hooks.applied?.((performance.now() - start) / 1000)
    // An update that changed nothing (a reconnecting client's step 2 repeats its whole delete
    // set) is neither relayed nor stored again; it still counts for the sender's ack.
    if (!result.changed) return this.outbox.update(origin, NO_CHANGE)
    this.revision++
    // Where something waits for missing dependencies (before or after), peers are sent what
    // the document integrated, as the y-websocket server sends them: the rest would wait in
    // every client too, and what arrives later integrates it. Storage and other instances
    // get the update as received, so an acknowledged update is stored whole.
    const { pendingStructs: after, pendingDs: afterDs } = doc.store
    const waits = pendingBefore || after !== null || afterDs !== null
    this.outbox.update(origin, update, waits ? joined(integrated) : update, author)
  }

  /// `apply` while asleep: true if the update was handled without waking the room. A live
  /// edit that is plain is kept encoded (relayed and stored like a held one); anything else
  /// needs the Y.Doc to judge it.
  private applyAsleep(asleep: EncodedDoc, update: Uint8Array, origin: Origin, mayWait: boolean, author: string | null): boolean {
    if (!mayWait || asleep.full) return false
    let plain: boolean
    try {
      plain = asleep.check(update)
    } catch (error) {
      throw new ProtocolError(`invalid Yjs update: ${(error as Error).message}`)
    }
    if (!plain) return false
    this.revision++
    this.outbox.update(origin, asleep.add(update), undefined, author)
    return true
  }

  /// Integrate the held plain updates. Should Yjs refuse one after all, its sender is closed
  /// (it was relayed, and peers integrate it just as this document does).
  private settle(): void {
    const held = this.awake?.held
    if (!held || held.size === 0) return
    const start = performance.now()
    held.integrate((origin, error) => {
      if (typeof origin === 'object') origin.close(CloseCode.Malformed, `malformed message: invalid Yjs update: ${error.message}`)
    })
    this.hooks.applied?.((performance.now() - start) / 1000)
  }

  /// Integrate the held batch if it is (still) due: called from the settle queue.
  settleDue(): void {
    if (this.awake?.held.full) this.settle()
  }

  /// Apply an awareness update from another instance and relay it to local peers.
  applyRemoteAwareness(update: Uint8Array): void {
    this.presence.apply(update)
    broadcast(this.peers.keys(), encodeAwareness(update), null)
  }

  /// Sync step 2 for a peer with this state vector. A peer with nothing (a fresh joiner)
  /// gets the cached full state (asleep: see `EncodedDoc.fullReply`).
  private syncReply(stateVector: Uint8Array): Uint8Array {
    this.settle()
    const empty = stateVector.length === 1 && stateVector[0] === 0
    // Asleep, unless answering would take one merge too many (see `EncodedDoc.full`).
    if (empty && this.asleep && (this.asleep.folded || !this.asleep.full)) return this.asleep.fullReply()
    const { doc, cache } = this.wake()
    if (empty) return cache.fullState(this.revision)
    // Yjs reads every entry into a map: a state vector naming millions of clients the room
    // never saw would cost that much for nothing. A client names the room's clients and, at
    // most, the few whose edits it has and the room lacks.
    const known = doc.store.clients.size
    if (new Reader(stateVector).uint() > known + UNKNOWN_CLIENTS) {
      throw new ProtocolError(`state vector names more clients than the document has (${known}) by over ${UNKNOWN_CLIENTS}`)
    }
    let diff: Uint8Array
    try {
      diff = Y.encodeStateAsUpdate(doc, stateVector)
    } catch (error) {
      throw new ProtocolError(`invalid state vector: ${(error as Error).message}`)
    }
    return encodeSyncStep2(diff)
  }

  /// The whole document as one update, encoded once per document version (shared with the
  /// sync step 2 that joiners with an empty document get). Asleep, the encoded updates merged.
  get snapshot(): Uint8Array {
    this.settle()
    return this.asleep ? this.asleep.snapshot() : this.awake!.cache.fullUpdate(this.revision)
  }

  /// `snapshot` where it costs no merge (awake, or asleep with nothing to fold), else null.
  get snapshotAtHand(): Uint8Array | null {
    return this.asleep && !this.asleep.folded ? null : this.snapshot
  }

  /// Changes so far, held ones included: equal readings mean the document did not change.
  get version(): number {
    return this.revision
  }

  /// Updates relayed and stored but not yet integrated into the document (see `settle`).
  get heldUpdates(): number {
    return this.awake?.held.size ?? 0
  }

  /// Whether updates are waiting to be broadcast and stored.
  get idle(): boolean {
    return this.outbox.empty
  }

  /// Broadcast and store what is pending now instead of at the end of the turn, and bring
  /// the document up to date (before an unload or shutdown).
  flushNow(): void {
    this.outbox.flush()
    this.settle()
  }

  /// Free the document. The room must have no peers.
  destroy(): void {
    this.outbox.closed = true
    this.awake?.held.clear()
    this.awake?.doc.destroy()
  }
}

