// Integrating one update into a room's document at once, and telling what it did: whether it
// changes anything (a reconnect's step 2 often does not), and, when Yjs refused it part-way,
// what it had already integrated.
import * as Y from 'yjs'

/// What integrating one update did.
export type Integration =
  /// `changed`: the update brought structs or deletions the document lacked (integrated, or
  /// held pending for missing dependencies).
  | { refused: false; changed: boolean }
  /// Yjs refused the update, or it would have left more pending than the room allows
  /// (`overLimit`). `partial` is what it integrated before failing (to be relayed and stored
  /// like any change), or null if nothing.
  | { refused: true; error: Error; overLimit: boolean; partial: Uint8Array | null }

/// Bytes a document holds pending: updates whose dependencies have not arrived.
export function pendingBytes(doc: Y.Doc): number {
  const { pendingStructs, pendingDs } = doc.store
  return (pendingStructs?.update.length ?? 0) + (pendingDs?.length ?? 0)
}

/// Whether the items `clock .. clock + length` of `client` are all in the document and deleted.
function allDeleted(store: Y.Doc['store'], client: number, clock: number, length: number): boolean {
  const structs = store.clients.get(client)
  const end = clock + length
  if (!structs || end > Y.getState(store, client)) return false
  for (let i = Y.findIndexSS(structs, clock); i < structs.length && structs[i].id.clock < end; i++) {
    if (!structs[i].deleted) return false
  }
  return true
}

/// Whether applying `update` would change `doc`: decided from what the document holds (its
/// state vector and its deleted items), never from the events integration fires. An update
/// changes nothing when each of its structs lies within its client's state and each range it
/// deletes is already deleted. Yjs reads the update here as it reads it to merge; that reading
/// sees every struct `Y.applyUpdate` would see, so "nothing new" is never wrong.
export function changesDocument(doc: Y.Doc, update: Uint8Array): boolean {
  const { structs, ds } = Y.decodeUpdate(update)
  const store = doc.store
  for (const s of structs) {
    if (s instanceof Y.Skip) continue
    if (s.id.clock + s.length > Y.getState(store, s.id.client)) return true
  }
  for (const [client, ranges] of ds.clients) {
    for (const { clock, len } of ranges) if (len > 0 && !allDeleted(store, client, clock, len)) return true
  }
  return false
}

/// Integrates updates into one document, watching its transactions.
export class Integrator {
  /// The state before the first transaction of the update being applied.
  private changedSince: Map<number, number> | null = null

  /// `maxPending`: bytes of pending updates the document may hold. Yjs merges what is pending
  /// with every later update until it integrates, so each update costs what is pending.
  constructor(private readonly doc: Y.Doc, private readonly maxPending = Infinity) {
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      this.changedSince ??= tr.beforeState
    })
  }

  /// Apply `update` now, with `origin`, unless it changes nothing (see `changesDocument`).
  apply(update: Uint8Array, origin: unknown): Integration {
    if (!changesDocument(this.doc, update)) return { refused: false, changed: false }
    this.changedSince = null
    const store = this.doc.store
    // Yjs changes what it holds pending in place; kept to undo a refused update's share of it.
    const pending = store.pendingStructs
    const heldStructs = pending && { missing: new Map(pending.missing), update: pending.update }
    const heldDs = store.pendingDs
    const before = pendingBytes(this.doc)
    let error: Error | null = null
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (thrown) {
      error = thrown as Error
    }
    const overLimit = error === null && pendingBytes(this.doc) > Math.max(before, this.maxPending)
    if (overLimit) error = new Error(`updates waiting for missing dependencies passed ${this.maxPending} bytes`)
    if (error === null) return { refused: false, changed: true }
    // What a refused update left pending is not in the document and may not even encode
    // again (a varint past 2^53): drop it, so that joiners can still be sent the state.
    store.pendingStructs = heldStructs
    store.pendingDs = heldDs
    return { refused: true, error, overLimit, partial: this.partial() }
  }

  /// Yjs integrates an update's structs before it reads the delete set, and keeps what it
  /// integrated when a later part is malformed. The document has then changed although the
  /// update was refused: what it now holds beyond the transaction's start must be relayed and
  /// stored (rather than the bytes received), or peers and storage silently diverge from it.
  private partial(): Uint8Array | null {
    const before = this.changedSince
    if (before === null) return null
    let changed = false
    for (const client of this.doc.store.clients.keys()) if ((before.get(client) ?? 0) !== Y.getState(this.doc.store, client)) changed = true
    if (!changed) return null
    try {
      return Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(before))
    } catch {
      return null // an earlier update left something that cannot be encoded: nothing to send
    }
  }
}
