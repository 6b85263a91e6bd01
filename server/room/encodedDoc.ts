// A room's document held as encoded updates instead of a Y.Doc: the room is "asleep". A Y.Doc
// takes 5 to 35 times its encoded size in memory and seconds to build for a large document;
// a stored document's first joiners, and a quiet room's, need only its bytes. What the bytes
// answer exactly is answered here: the state vector, the whole state for a peer that has
// nothing, and plain live edits (see `checkUpdate`), which Yjs would integrate without error
// and which are kept as received. Everything else wakes the room: its Y.Doc is built from
// `updates()`, as a load built it before.
import * as Y from 'yjs'
import { decodeFrame, encodeSyncStep2 } from '../protocol/messages.js'
import { checkUpdate } from '../protocol/updateCheck.js'
import { type UpdateLayout, appendUpdate, layoutOf, stateVectorOf } from '../protocol/updateLayout.js'

/// Live edits an asleep document keeps before its room wakes: joiners are sent them merged,
/// and merging grows with their number where a Y.Doc integrates each once.
export const MAX_ASLEEP_UPDATES = 256
/// Times the tail may be folded into the base (each a copy of the whole document, or a merge
/// of it where the tail does not continue it) before the room had better wake: a few merges
/// cost what building the Y.Doc costs.
const MAX_FOLDS = 4

/// The update carried by a sync step 2 message (a view into it).
function payloadOf(step2: Uint8Array): Uint8Array {
  return (decodeFrame(step2)[0] as { update: Uint8Array }).update
}

/// How far each client's history reaches in `update`, from `clocks` on: a client's structs
/// extend its clock only while they continue it without a gap (what follows a gap Yjs would
/// hold pending, and a state vector does not count). Never more than a Y.Doc would report.
function extend(clocks: Map<number, number>, update: Uint8Array): void {
  const stopped = new Set<number>()
  for (const struct of Y.decodeUpdate(update).structs) {
    const client = struct.id.client
    if (stopped.has(client)) continue
    const known = clocks.get(client) ?? 0
    if (struct instanceof Y.Skip || struct.id.clock > known) stopped.add(client)
    else clocks.set(client, Math.max(known, struct.id.clock + struct.length))
  }
}

/// A document as its first update (`base`, kept inside the sync step 2 message that sends it
/// whole) and the updates after it (`tail`).
export class EncodedDoc {
  /// How often the tail was folded into the base (see `MAX_FOLDS`).
  private folds = 0
  /// Live edits added since the last fold (a stored log may be longer: it is read once).
  private added = 0
  private vector: Uint8Array | null = null
  /// The base's layout: undefined until first needed, null where Yjs must read the base.
  private layout: UpdateLayout | null | undefined = undefined
  private checked: number[] = []
  private readonly clock = (client: number): number => this.clocks().get(client) ?? 0

  /// `known`: each client's clock (see `extend`), or null to compute when first needed
  /// (reading a large base costs about as much as sending it).
  private constructor(private baseStep2: Uint8Array, private tail: Uint8Array[], private known: Map<number, number> | null) {}

  /// A document as storage returned it: the first update is usually the snapshot; none, an
  /// empty document. The base is copied once, into the message joiners share: the buffer
  /// storage read is then free.
  static fromStored(updates: readonly Uint8Array[]): EncodedDoc {
    return new EncodedDoc(encodeSyncStep2(updates[0] ?? Uint8Array.of(0, 0)), updates.slice(1), null)
  }

  /// A Y.Doc's whole state as a sync step 2 message (the room's cached one) and its clocks.
  static fromState(step2: Uint8Array, clocks: Map<number, number>): EncodedDoc {
    return new EncodedDoc(step2, [], clocks)
  }

  private clocks(): Map<number, number> {
    if (this.known) return this.known
    const layout = this.baseLayout()
    const known = layout ? stateVectorOf(layout) : Y.decodeStateVector(Y.encodeStateVectorFromUpdate(payloadOf(this.baseStep2)))
    for (const update of this.tail) extend(known, update)
    return (this.known = known)
  }

  private baseLayout(): UpdateLayout | null {
    if (this.layout === undefined) this.layout = layoutOf(payloadOf(this.baseStep2))
    return this.layout
  }

  /// The encoded state vector (sync step 1's payload).
  stateVector(): Uint8Array {
    return (this.vector ??= Y.encodeStateVector(this.clocks()))
  }

  /// Clients the document has (the size of its state vector).
  get clients(): number {
    return this.clocks().size
  }

  /// The sync step 2 message that gives a peer with nothing the whole document, in one
  /// update: a client is "synced" when it arrives, and an application that fills an empty
  /// document then must not find only part of it. The tail is folded into the base for it.
  fullReply(): Uint8Array {
    this.fold()
    return this.baseStep2
  }

  /// Every update of the document, in order (to build its Y.Doc).
  updates(): Uint8Array[] {
    return [payloadOf(this.baseStep2), ...this.tail]
  }

  /// The whole document as one update (the tail folded into the base).
  snapshot(): Uint8Array {
    this.fold()
    return payloadOf(this.baseStep2)
  }

  /// Fold the tail into the base for good: a merge of encoded updates (what was deleted keeps
  /// its content until the room wakes). A tail that continues the base is appended to it
  /// block by block (`appendUpdate`); anything else Yjs merges, reading the whole base.
  private fold(): void {
    if (this.tail.length === 0) return
    // The tail first: Yjs merges many updates by sorting their readers at every struct, which
    // with a large base costs several times a merge of two.
    const tail = this.tail.length === 1 ? this.tail[0] : Y.mergeUpdates(this.tail)
    const base = payloadOf(this.baseStep2)
    const layout = this.baseLayout()
    const appended = layout ? appendUpdate(base, layout, tail) : null
    this.baseStep2 = encodeSyncStep2(appended ? appended.update : Y.mergeUpdates([base, tail]))
    this.layout = appended ? appended.layout : undefined
    this.tail = []
    this.added = 0
    this.folds++
  }

  /// Whether the document is one update (nothing to fold).
  get folded(): boolean {
    return this.tail.length === 0
  }

  /// Whether it should take no more live edits (its room should wake): the tail is long, or
  /// was folded often enough that building the Y.Doc costs less than folding on.
  get full(): boolean {
    return this.added >= MAX_ASLEEP_UPDATES || this.folds >= MAX_FOLDS
  }

  /// Read an update against this document: true if it is plain (see `checkUpdate`) and may be
  /// `add`ed. Throws `ProtocolError` on an update Yjs could not read.
  check(update: Uint8Array): boolean {
    this.checked = []
    return checkUpdate(update, this.clock, this.checked)
  }

  /// Keep the update last passed to `check` (which returned true); returns the copy kept (the
  /// update is a view into a socket's read buffer, which it would pin).
  add(update: Uint8Array): Uint8Array {
    const copy = update.slice()
    const clocks = this.clocks()
    const ends = this.checked
    for (let i = 0; i < ends.length; i += 2) clocks.set(ends[i], ends[i + 1])
    this.tail.push(copy)
    this.added++
    this.vector = null
    return copy
  }
}
