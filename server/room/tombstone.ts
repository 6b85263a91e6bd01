// What stays of a deleted document: its state vector. A client that had the document open
// keeps it, and on reconnecting would send it all back and bring the deleted room back to
// life; an update with structs or deletions below the tombstone's clocks is refused instead
// (4410), while a fresh client, whose Yjs client id is new, writes the new document freely.
import * as Y from 'yjs'
import { DeletedDocumentError } from '../protocol/messages.js'

/// The clocks of a stored tombstone (an encoded state vector).
export function tombstoneClocks(stateVector: Uint8Array): Map<number, number> {
  return Y.decodeStateVector(stateVector)
}

/// One tombstone covering a deleted document's state vector and older tombstones.
export function joinTombstones(stateVectors: readonly Uint8Array[]): Uint8Array {
  const clocks = new Map<number, number>()
  for (const sv of stateVectors) {
    for (const [client, clock] of Y.decodeStateVector(sv)) clocks.set(client, Math.max(clock, clocks.get(client) ?? 0))
  }
  return Y.encodeStateVector(clocks)
}

/// The tombstone of a document being deleted: over what is stored of it (`stored`, its rows),
/// what a loaded room holds (`live`, a state vector) and an older tombstone.
export function tombstoneFor(stored: readonly Uint8Array[], live: Uint8Array | null, old: Uint8Array | null): Uint8Array {
  const states = stored.length ? [Y.encodeStateVectorFromUpdate(stored.length === 1 ? stored[0] : Y.mergeUpdates(stored as Uint8Array[]))] : []
  if (live) states.push(live)
  if (old) states.push(old)
  return joinTombstones(states)
}

/// What of a deleted room's stored updates is not the deleted document: rows a writer had in
/// flight when it was deleted are left out (a fresh client's structs are all above the
/// tombstone's clocks).
export function withoutDeleted(updates: Uint8Array[], tombstone: Uint8Array): Uint8Array[] {
  const rest = Y.diffUpdate(updates.length === 1 ? updates[0] : Y.mergeUpdates(updates), tombstone)
  return Y.parseUpdateMeta(rest).to.size === 0 ? [] : [rest]
}

/// Throw `DeletedDocumentError` if `update` holds a struct or a deletion of the deleted
/// document (a client clock below the tombstone's).
export function refuseDeleted(update: Uint8Array, tombstone: ReadonlyMap<number, number>): void {
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(update)
  } catch {
    return // malformed: refused as such further on
  }
  for (const struct of decoded.structs) {
    if (struct.id.clock < (tombstone.get(struct.id.client) ?? 0)) throw deleted()
  }
  for (const [client, ranges] of decoded.ds.clients) {
    const bound = tombstone.get(client) ?? 0
    if (ranges.some((r) => r.clock < bound)) throw deleted()
  }
}

const deleted = (): DeletedDocumentError =>
  new DeletedDocumentError('document deleted: this client holds content of a deleted document; start with an empty one')
