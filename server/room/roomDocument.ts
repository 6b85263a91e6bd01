// A room's document, held one of two ways: awake, a Y.Doc with what integrates updates into
// it; asleep, the encoded updates it was restored from or fell asleep as (see `EncodedDoc`).
// Integrates updates, answers sync requests and hands every change to the room's outbox;
// knows nothing of peers, awareness or sockets.
import { performance } from 'node:perf_hooks'
import * as Y from 'yjs'
import { CloseCode } from '../protocol/closeCodes.js'
import { OverLimitError, ProtocolError, Reader, encodeSyncStep2, isEmptyUpdate } from '../protocol/messages.js'
import { HeldBack } from './heldBack.js'
import { settleSoon, type Settling } from './settleQueue.js'
import { Integrator, type Integration } from './integrate.js'
import { StateCache } from './stateCache.js'
import { EncodedDoc } from './encodedDoc.js'
import { refuseDeleted } from './tombstone.js'
import type { Origin } from './peer.js'
import { joined, type TurnOutbox } from './turnOutbox.js'

/// An update with no structs and no deletions (what an empty document sends in step 2).
const NO_CHANGE = Uint8Array.of(0, 0)
/// Clients a sync step 1's state vector may name beyond those the room's document has.
const UNKNOWN_CLIENTS = 1000

/// The Y.Doc and what integrates updates into it: present while the document is awake.
interface Awake {
  readonly doc: Y.Doc
  readonly cache: StateCache
  readonly integrator: Integrator
  /// Plain updates already relayed and stored, not yet integrated into the document.
  readonly held: HeldBack<Origin>
}

/// How a room holds its document.
export interface DocumentOptions {
  /// See `Integrator`; default no limit.
  maxPendingBytes?: number
  /// Whether the document starts asleep (an empty `EncodedDoc`, or what `restore` gives it)
  /// and may fall asleep again (`sleep`). Default false: a Y.Doc throughout.
  sleeps?: boolean
  /// Seconds one integration (an update, or a batch of held-back ones) took, for metrics.
  applied?(seconds: number): void
}

/// One room's document.
export class RoomDocument implements Settling {
  /// The document, awake (a Y.Doc) or asleep (encoded): exactly one of the two is set.
  private awake: Awake | null = null
  private asleep: EncodedDoc | null = null
  /// The state vector of a deleted document of this name, if one was (see `tombstone.ts`).
  tombstone: Map<number, number> | null = null
  /// Incremented on every applied update; keys the state cache.
  private revision = 0
  /// Set while stored updates are loaded (nothing is sent or stored then).
  private restoring = false
  /// While an update is integrated at once: what the document's transaction integrated.
  private integrated: Uint8Array[] | null = null

  private readonly maxPendingBytes: number
  private readonly sleeps: boolean
  private readonly applied: (seconds: number) => void

  /// Changes go to `outbox`: relayed to the room's peers, stored and published.
  constructor(private readonly outbox: TurnOutbox, options: DocumentOptions = {}) {
    this.maxPendingBytes = options.maxPendingBytes ?? Infinity
    this.sleeps = options.sleeps ?? false
    this.applied = options.applied ?? (() => undefined)
    if (this.sleeps) this.asleep = EncodedDoc.fromStored([])
    else this.wake()
  }

  /// Build the Y.Doc from what is held asleep (or an empty one).
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

  /// Let the document fall asleep: kept as its encoded state, the Y.Doc freed. Only a document
  /// that sleeps, with nothing waiting to be integrated, sent or stored, and nothing pending.
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

  /// The Y.Doc, with every update received so far integrated (it wakes the document).
  get doc(): Y.Doc {
    this.settle()
    return this.wake().doc
  }

  /// The encoded state vector (the document stays as it is).
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

  /// Apply an update from any origin, made by `author`; it is relayed to every peer but the origin at the end
  /// of this event-loop turn, stored, and published to other instances unless it came from
  /// one. Throws `ProtocolError` if the update is not valid Yjs; what Yjs integrated of it before
  /// failing stays in the document and is relayed and stored like any change. With `mayWait`,
  /// a plain update (see `checkUpdate`) joins a batch integrated when the document is next
  /// read: Yjs' cost per transaction is paid once per batch, not once per keystroke.
  apply(update: Uint8Array, origin: Origin, mayWait = false, author: string | null = null): void {
    // An empty update (a fresh client's step 2, or a keepalive) changes nothing: it counts for
    // the sender's ack, and not as a change (the document may still fall asleep).
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
    this.applied((performance.now() - start) / 1000)
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

  /// `apply` while asleep: true if the update was handled without waking the document. A live
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
  settle(): void {
    const held = this.awake?.held
    if (!held || held.size === 0) return
    const start = performance.now()
    held.integrate((origin, error) => {
      if (typeof origin === 'object') origin.close(CloseCode.Malformed, `malformed message: invalid Yjs update: ${error.message}`)
    })
    this.applied((performance.now() - start) / 1000)
  }

  /// Integrate the held batch if it is (still) due: called from the settle queue.
  settleDue(): void {
    if (this.awake?.held.full) this.settle()
  }

  /// Sync step 2 for a peer with this state vector. A peer with nothing (a fresh joiner)
  /// gets the cached full state (asleep: see `EncodedDoc.fullReply`). Throws
  /// `ProtocolError` for a state vector that does not decode or names too many clients.
  syncReply(stateVector: Uint8Array): Uint8Array {
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

  /// Free the Y.Doc and what is held for it.
  destroy(): void {
    this.awake?.held.clear()
    this.awake?.doc.destroy()
  }
}
