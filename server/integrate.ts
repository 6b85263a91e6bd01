// Integrating one update into a room's document at once, and telling what it did: whether it
// changed anything (a reconnect's step 2 often does not), and, when Yjs refused it part-way,
// what it had already integrated.
import * as Y from 'yjs'

/// What integrating one update did.
export type Integration =
  /// `changed`: the document changed, or holds more pending (missing dependencies).
  | { refused: false; changed: boolean }
  /// Yjs refused the update. `partial` is what it integrated before failing (to be relayed
  /// and stored like any change), or null if nothing.
  | { refused: true; error: Error; partial: Uint8Array | null }

/// Whether a transaction deleted something or added structs (Yjs' test before an 'update').
function changedDocument(tr: Y.Transaction): boolean {
  if (tr.deleteSet.clients.size > 0) return true
  for (const [client, clock] of tr.afterState) if (tr.beforeState.get(client) !== clock) return true
  return false
}

/// Integrates updates into one document, watching its transactions.
export class Integrator {
  /// Whether the last transaction changed the document.
  private changed = false
  /// The last transaction's state before it began: what a failed update had already changed.
  private changedSince: Map<number, number> | null = null

  constructor(private readonly doc: Y.Doc) {
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      this.changed = changedDocument(tr)
      this.changedSince = tr.beforeState
    })
  }

  /// Apply `update` now, in a transaction of its own, with `origin`.
  apply(update: Uint8Array, origin: unknown): Integration {
    this.changed = false
    this.changedSince = null
    const store = this.doc.store
    // Yjs changes what it holds pending in place; kept to undo a refused update's share of it.
    const pending = store.pendingStructs
    const heldStructs = pending && { missing: new Map(pending.missing), update: pending.update }
    const heldDs = store.pendingDs
    try {
      Y.applyUpdate(this.doc, update, origin)
    } catch (error) {
      // What a refused update left pending is not in the document and may not even encode
      // again (a varint past 2^53): drop it, so that joiners can still be sent the state.
      store.pendingStructs = heldStructs
      store.pendingDs = heldDs
      return { refused: true, error: error as Error, partial: this.changed ? this.partial() : null }
    }
    return { refused: false, changed: this.changed || store.pendingStructs !== null || store.pendingDs !== null }
  }

  /// Yjs integrates an update's structs before it reads the delete set, and keeps what it
  /// integrated when a later part is malformed. The document has then changed although the
  /// update was refused: what it now holds beyond the transaction's start must be relayed and
  /// stored (rather than the bytes received), or peers and storage silently diverge from it.
  private partial(): Uint8Array | null {
    const before = this.changedSince
    if (before === null) return null
    try {
      return Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(before))
    } catch {
      return null // an earlier update left something that cannot be encoded: nothing to send
    }
  }
}
