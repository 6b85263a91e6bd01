// The messages instances exchange over Redis. Pure functions over bytes.
//
// Every message: u8 kind, bytes sender instance id, bytes target instance id (empty = all),
// then the kind's fields:
//   update:    bytes Yjs update (stored by the sender)
//   awareness: bytes awareness update of the sender's clients
//   state:     u8 flags (1 = reply with your clients' awareness), bytes state vector,
//              bytes digest of (delete set, state vector), bytes awareness of the sender's
//              clients (may be empty)
//   missing:   bytes Yjs update the target lacks (may be empty), bytes awareness (may be empty)
//   heartbeat: nothing (on the instances channel)
//   bye:       nothing (on the instances channel: the sender stopped after storing everything)
//   deleted:   nothing (the room was deleted: drop it without storing anything more)
import { Reader, uintSize, writeUint } from '../protocol/messages.js'

/// Kinds of cluster messages.
export const Kind = { Update: 0, Awareness: 1, State: 2, Missing: 3, Heartbeat: 4, Bye: 5, Deleted: 6 } as const

/// A decoded cluster message.
export type ClusterMessage = { from: string; target: string } & (
  | { kind: 'update'; update: Uint8Array }
  | { kind: 'awareness'; awareness: Uint8Array }
  | { kind: 'state'; wantAwareness: boolean; stateVector: Uint8Array; digest: Uint8Array; awareness: Uint8Array }
  | { kind: 'missing'; update: Uint8Array; awareness: Uint8Array }
  | { kind: 'heartbeat' }
  | { kind: 'bye' }
  | { kind: 'deleted' }
)

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

function encode(kind: number, from: string, target: string, fields: readonly Uint8Array[], flags?: number): Buffer {
  const f = utf8.encode(from)
  const t = utf8.encode(target)
  let size = 1 + uintSize(f.length) + f.length + uintSize(t.length) + t.length + (flags === undefined ? 0 : 1)
  for (const field of fields) size += uintSize(field.length) + field.length
  const out = Buffer.allocUnsafe(size)
  out[0] = kind
  let pos = 1
  for (const field of [f, t]) {
    pos = writeUint(out, pos, field.length)
    out.set(field, pos)
    pos += field.length
  }
  if (flags !== undefined) out[pos++] = flags
  for (const field of fields) {
    pos = writeUint(out, pos, field.length)
    out.set(field, pos)
    pos += field.length
  }
  return out
}

const EMPTY = new Uint8Array(0)

/// An update a client of `from` sent.
export const encodeClusterUpdate = (from: string, update: Uint8Array): Buffer => encode(Kind.Update, from, '', [update])

/// An awareness change of clients of `from`.
export const encodeClusterAwareness = (from: string, awareness: Uint8Array): Buffer =>
  encode(Kind.Awareness, from, '', [awareness])

/// What `from` holds of a room; peers answer with what it lacks (`target` empty = everyone).
export const encodeState = (
  from: string, target: string, wantAwareness: boolean, stateVector: Uint8Array, digest: Uint8Array,
  awareness: Uint8Array | null,
): Buffer => encode(Kind.State, from, target, [stateVector, digest, awareness ?? EMPTY], wantAwareness ? 1 : 0)

/// The answer to a state message: what the target lacks, and awareness if it asked.
export const encodeMissing = (from: string, target: string, update: Uint8Array | null, awareness: Uint8Array | null): Buffer =>
  encode(Kind.Missing, from, target, [update ?? EMPTY, awareness ?? EMPTY])

/// An instance's sign of life.
export const encodeHeartbeat = (from: string): Buffer => encode(Kind.Heartbeat, from, '', [])

/// An instance's goodbye after a graceful stop.
export const encodeBye = (from: string): Buffer => encode(Kind.Bye, from, '', [])

/// The sender deleted the room of the channel.
export const encodeDeleted = (from: string): Buffer => encode(Kind.Deleted, from, '', [])

/// Decode a cluster message; throws on malformed input (a foreign publisher on our channel).
export function decodeClusterMessage(bytes: Uint8Array): ClusterMessage {
  const reader = new Reader(bytes)
  const kind = reader.take(1)[0]
  const from = fromUtf8.decode(reader.bytesField())
  const target = fromUtf8.decode(reader.bytesField())
  switch (kind) {
    case Kind.Update:
      return { from, target, kind: 'update', update: reader.bytesField() }
    case Kind.Awareness:
      return { from, target, kind: 'awareness', awareness: reader.bytesField() }
    case Kind.State: {
      const flags = reader.take(1)[0]
      return {
        from, target, kind: 'state', wantAwareness: (flags & 1) === 1,
        stateVector: reader.bytesField(), digest: reader.bytesField(), awareness: reader.bytesField(),
      }
    }
    case Kind.Missing:
      return { from, target, kind: 'missing', update: reader.bytesField(), awareness: reader.bytesField() }
    case Kind.Heartbeat:
      return { from, target, kind: 'heartbeat' }
    case Kind.Bye:
      return { from, target, kind: 'bye' }
    case Kind.Deleted:
      return { from, target, kind: 'deleted' }
    default:
      throw new Error(`unknown cluster message kind ${kind}`)
  }
}
