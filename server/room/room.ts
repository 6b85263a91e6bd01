// One room: its document (see `RoomDocument`), its awareness states and the peers connected to
// it. Knows the protocol's rules (sync, relay, no echo, read-only) but nothing of sockets or
// HTTP.
import { Presence } from './presence.js'
import { decodeFrame, encodeAuthDenied, encodeAwareness, encodeSyncStep1, type Message } from '../protocol/messages.js'
import { RoomDocument, type DocumentOptions } from './roomDocument.js'
import type { Peer } from './peer.js'
import { TurnOutbox, broadcast } from './turnOutbox.js'
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

/// How a room holds its document (see `RoomDocument`).
export type RoomOptions = Omit<DocumentOptions, 'applied'>

/// A room's live state.
export class Room {
  /// The document, awake or asleep; its changes go out through this room's outbox.
  readonly document: RoomDocument
  readonly presence = new Presence()
  readonly peers = new Map<Peer, PeerState>()
  /// What this turn's messages are sent with.
  private readonly outbox: TurnOutbox

  constructor(readonly name: string, private readonly hooks: RoomHooks, options: RoomOptions = {}) {
    this.outbox = new TurnOutbox(this, { persist: hooks.persist, publish: hooks.publish, failed: (error) => hooks.failed(this, error) })
    this.document = new RoomDocument(this.outbox, { ...options, applied: hooks.applied })
  }

  /// Add a peer: send it our sync step 1 and the current awareness states.
  join(peer: Peer): void {
    this.peers.set(peer, { received: 0, toldReadOnly: false, author: undefined })
    peer.send(encodeSyncStep1(this.document.stateVector))
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
        peer.send(this.document.syncReply(message.stateVector))
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
        this.document.apply(message.update, peer, message.type === 'update', (state.author ??= this.authorOf(peer)))
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

  /// Apply an awareness update from another instance and relay it to local peers.
  applyRemoteAwareness(update: Uint8Array): void {
    this.presence.apply(update)
    broadcast(this.peers.keys(), encodeAwareness(update), null)
  }

  /// Whether updates are waiting to be broadcast and stored.
  get idle(): boolean {
    return this.outbox.empty
  }

  /// Broadcast and store what is pending now instead of at the end of the turn, and bring
  /// the document up to date (before an unload or shutdown).
  flushNow(): void {
    this.outbox.flush()
    this.document.settle()
  }

  /// Free the document. The room must have no peers.
  destroy(): void {
    this.outbox.closed = true
    this.document.destroy()
  }
}

