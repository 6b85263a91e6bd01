// What one room sends at the end of an event-loop turn: the turn's updates, merged per origin
// and encoded once for every receiver, then stored (acknowledged once stored) and published;
// and the awareness messages of the turn, relayed as they came. A receiver so gets all of a
// turn in one write, and one immediate serves every room with something to send.
import * as Y from 'yjs'
import { encodeAck, encodeUpdate, isEmptyUpdate } from '../protocol/messages.js'
import type { Origin, Peer } from './peer.js'
import type { Stored } from '../storage/writeBatcher.js'

/// Send `frame` to every peer but `except`.
export function broadcast(peers: Iterable<Peer>, frame: Uint8Array, except: Peer | null): void {
  for (const peer of peers) if (peer !== except) peer.send(frame)
}

/// The updates as one (merged when several), leaving out empty ones (a client with nothing to
/// add answers sync step 1 with an empty update); null when nothing is left.
export function joined(updates: ReadonlyArray<Uint8Array | null>): Uint8Array | null {
  const useful = updates.filter((u): u is Uint8Array => u !== null && !isEmptyUpdate(u))
  return useful.length === 0 ? null : useful.length === 1 ? useful[0] : Y.mergeUpdates(useful)
}

/// What an outbox needs of its room: its name and its peers (with the update messages each
/// sent, for acknowledgements).
export interface OutboxRoom {
  readonly name: string
  readonly peers: ReadonlyMap<Peer, { readonly received: number }>
}

/// Where an outbox stores and publishes (see `RoomHooks`).
export interface OutboxSinks {
  persist(room: string, update: Uint8Array | null, done: Stored, author: string | null): void
  publish?(room: string, kind: 'update', payload: Uint8Array): void
  /// An update could not be stored.
  failed(error: unknown): void
}

/// In a room of at least this many connections, awareness changes are relayed together every
/// `AWARENESS_BATCH_MS` rather than at the end of each turn: there every cursor move goes to
/// hundreds of sockets, and a write per socket per move (one syscall each) costs more than
/// everything else the server does for it. Ten milliseconds is well below what a person sees
/// of a remote cursor.
export const CROWDED_ROOM = 64
export const AWARENESS_BATCH_MS = 10

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
  /// What peers are sent of each update (null: nothing).
  private relays: Array<Uint8Array | null> = []
  /// Who made each update (see `AppendEntry.author`).
  private authors: Array<string | null> = []
  private awareness: Array<{ origin: Peer; message: Uint8Array }> = []
  private scheduled = false
  /// The pending relay of a crowded room's awareness batch (see `CROWDED_ROOM`).
  private awarenessTimer: NodeJS.Timeout | null = null
  /// Set when the room is destroyed: nothing is sent any more.
  closed = false

  constructor(private readonly room: OutboxRoom, private readonly hooks: OutboxSinks) {}

  /// Whether nothing waits to be sent.
  get empty(): boolean {
    return this.origins.length === 0 && this.awareness.length === 0
  }

  /// Store and publish `update`, made by `author`, at the end of this turn, and send peers
  /// `relay` (what the room's document integrated of it, where that differs).
  update(origin: Origin, update: Uint8Array, relay: Uint8Array | null = update, author: string | null = null): void {
    this.origins.push(origin)
    this.updates.push(update)
    this.relays.push(relay)
    this.authors.push(author)
    this.schedule()
  }

  /// Relay an encoded awareness message at the end of this turn (unless its sender left).
  awarenessFrom(origin: Peer, message: Uint8Array): void {
    this.awareness.push({ origin, message })
    if (this.room.peers.size < CROWDED_ROOM) return this.schedule()
    this.awarenessTimer ??= setTimeout(() => {
      this.awarenessTimer = null
      if (!this.closed) this.relayAwareness()
    }, AWARENESS_BATCH_MS).unref()
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
    const { origins, updates, relays, authors } = this
    if (origins.length > 0) {
      this.origins = []
      this.updates = []
      this.relays = []
      this.authors = []
      let oneOrigin = true
      for (let i = 1; i < origins.length && oneOrigin; i++) oneOrigin = origins[i] === origins[0] && authors[i] === authors[0]
      if (oneOrigin) this.deliver(origins[0], updates, relays, authors[0]) // the usual turn: one typist
      else {
        // Keyed by origin and author: HTTP API requests of one turn share the origin 'api'.
        const groups = new Map<Origin, Map<string | null, [Uint8Array[], Array<Uint8Array | null>]>>()
        for (let i = 0; i < origins.length; i++) {
          let byAuthor = groups.get(origins[i])
          if (!byAuthor) groups.set(origins[i], (byAuthor = new Map()))
          const lists = byAuthor.get(authors[i])
          if (lists) { lists[0].push(updates[i]); lists[1].push(relays[i]) }
          else byAuthor.set(authors[i], [[updates[i]], [relays[i]]])
        }
        for (const [origin, byAuthor] of groups) {
          for (const [author, [stored, relayed]] of byAuthor) this.deliver(origin, stored, relayed, author)
        }
      }
    }
    this.relayAwareness()
  }

  /// Relay the awareness messages gathered so far, in the order they came (a batch of a
  /// crowded room goes with the turn's updates if those go first).
  private relayAwareness(): void {
    const { awareness } = this
    if (awareness.length === 0) return
    this.awareness = []
    // A peer that left meanwhile had its states removed (and the removal relayed): skip it.
    const peers = this.room.peers
    for (const { origin, message } of awareness) if (peers.has(origin)) broadcast(peers.keys(), message, origin)
  }

  /// Relay one origin's updates of this turn as one merged update, publish and store it, and
  /// acknowledge it to the origin once stored.
  private deliver(origin: Origin, updates: Uint8Array[], relays: Array<Uint8Array | null>, author: string | null): void {
    const { room, hooks } = this
    const merged = joined(updates)
    // Peers are usually sent what is stored; not where the document holds part of it pending.
    const sent = relays.every((r, i) => r === updates[i]) ? merged : joined(relays)
    if (sent) broadcast(room.peers.keys(), encodeUpdate(sent), typeof origin === 'object' ? origin : null)
    if (origin === 'cluster') return // stored and acknowledged by the instance it came from
    if (merged) hooks.publish?.(room.name, 'update', merged)
    const count = typeof origin === 'object' && origin.wantsAck ? room.peers.get(origin)?.received : undefined
    hooks.persist(room.name, merged, count === undefined ? this.storeFailed : (error) => {
      if (error !== undefined) hooks.failed(error)
      else if (room.peers.has(origin as Peer)) (origin as Peer).send(encodeAck(count))
    }, author)
  }

  private readonly storeFailed: Stored = (error) => {
    if (error !== undefined) this.hooks.failed(error)
  }
}
