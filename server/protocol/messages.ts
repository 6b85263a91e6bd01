// The y-websocket wire protocol (y-protocols sync + awareness + auth), plus Concord's
// opt-in acknowledgement message. Pure functions over bytes: no sockets, no Yjs documents.
//
// A frame holds one or more messages. Each message is `varUint type` then a payload:
//   0 sync:            varUint subtype (0 step 1, 1 step 2, 2 update), varUint8Array payload
//   1 awareness:       varUint8Array awareness update
//   2 auth:            varUint subtype (0 permission denied), varString reason
//   3 query-awareness: no payload
//   100 ack (Concord): varUint count of this connection's updates that are stored

/// Message types on the wire.
export const MessageType = { Sync: 0, Awareness: 1, Auth: 2, QueryAwareness: 3, Ack: 100 } as const

/// Sync message subtypes (y-protocols/sync).
export const SyncType = { Step1: 0, Step2: 1, Update: 2 } as const

/// A decoded client message. Byte fields are views into the received frame.
export type Message =
  | { type: 'syncStep1'; stateVector: Uint8Array }
  | { type: 'syncStep2'; update: Uint8Array }
  | { type: 'update'; update: Uint8Array }
  /// `raw` is the whole encoded message, so it can be relayed without re-encoding.
  | { type: 'awareness'; update: Uint8Array; raw: Uint8Array }
  | { type: 'auth'; reason: string }
  | { type: 'queryAwareness' }
  | { type: 'ack'; count: number }

/// Thrown for input that does not follow the protocol; the connection is closed with
/// `CloseCode.Malformed` and this message as the reason.
export class ProtocolError extends Error {
  override name = 'ProtocolError'
}

/// Thrown for input the server could take only by passing one of its limits; the connection
/// is closed with `CloseCode.TryAgainLater` (a client reconnects and syncs afresh).
export class OverLimitError extends ProtocolError {
  override name = 'OverLimitError'
}

/// Thrown for an update carrying content of a deleted document (see `room/tombstone.ts`); the
/// connection is closed with `CloseCode.DocumentDeleted`.
export class DeletedDocumentError extends ProtocolError {
  override name = 'DeletedDocumentError'
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

/// A bounds-checked reader. lib0's decoder trusts length prefixes, and a `ws` Buffer is often
/// a view into a larger pool, so an unchecked read past the end would return foreign bytes.
export class Reader {
  pos = 0
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean { return this.pos >= this.bytes.length }

  /// Read an unsigned LEB128 integer of at most 53 bits.
  uint(): number {
    let result = 0
    let mult = 1
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.bytes.length) throw new ProtocolError('truncated varint')
      const byte = this.bytes[this.pos++]
      result += (byte & 0x7f) * mult
      if (byte < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw new ProtocolError('varint too large')
        return result
      }
      mult *= 128
    }
    throw new ProtocolError('varint too long')
  }

  /// Read one byte (no view made for it).
  byte(): number {
    if (this.pos >= this.bytes.length) throw new ProtocolError('length 1 exceeds the frame')
    return this.bytes[this.pos++]
  }

  /// Read `length` bytes as a view (no copy).
  take(length: number): Uint8Array {
    const end = this.pos + length
    if (end > this.bytes.length) throw new ProtocolError(`length ${length} exceeds the frame`)
    const view = this.bytes.subarray(this.pos, end)
    this.pos = end
    return view
  }

  /// Read a length-prefixed byte array.
  bytesField(): Uint8Array { return this.take(this.uint()) }

  /// Read a length-prefixed UTF-8 string; invalid UTF-8 is a protocol error.
  string(): string {
    const bytes = this.bytesField()
    try { return utf8.decode(bytes) } catch { throw new ProtocolError('invalid UTF-8') }
  }
}

/// Decode every message in a frame. Throws `ProtocolError` on any malformed input, so a
/// frame is either handled whole or refused whole.
export function decodeFrame(frame: Uint8Array): Message[] {
  const reader = new Reader(frame)
  const messages: Message[] = []
  if (frame.length === 0) throw new ProtocolError('empty frame')
  while (!reader.done) messages.push(decodeMessage(reader))
  return messages
}

function decodeMessage(reader: Reader): Message {
  const start = reader.pos
  const type = reader.uint()
  switch (type) {
    case MessageType.Sync: {
      const sub = reader.uint()
      const payload = reader.bytesField()
      if (sub === SyncType.Step1) return { type: 'syncStep1', stateVector: payload }
      if (sub === SyncType.Step2) return { type: 'syncStep2', update: payload }
      if (sub === SyncType.Update) return { type: 'update', update: payload }
      throw new ProtocolError(`unknown sync message ${sub}`)
    }
    case MessageType.Awareness: {
      const update = reader.bytesField()
      return { type: 'awareness', update, raw: reader.bytes.subarray(start, reader.pos) }
    }
    case MessageType.Auth: {
      const sub = reader.uint()
      if (sub !== 0) throw new ProtocolError(`unknown auth message ${sub}`)
      return { type: 'auth', reason: reader.string() }
    }
    case MessageType.QueryAwareness:
      return { type: 'queryAwareness' }
    case MessageType.Ack:
      return { type: 'ack', count: reader.uint() }
    default:
      throw new ProtocolError(`unknown message type ${type}`)
  }
}

/// Whether a Yjs update holds no structs and no deletions (what an empty document sends
/// as its sync step 2): nothing to relay, store or publish.
export function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0
}

/// Number of bytes `n` takes as a varUint.
export function uintSize(n: number): number {
  let size = 1
  while (n >= 128) { n = Math.floor(n / 128); size++ }
  return size
}

/// Write `n` as a varUint at `pos`; returns the position after it.
export function writeUint(target: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    target[pos++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  target[pos++] = n
  return pos
}

// One allocation per message: header varUints, then the length-prefixed payload.
function encodeWithPayload(header: readonly number[], payload: Uint8Array): Uint8Array {
  let size = uintSize(payload.length) + payload.length
  for (const h of header) size += uintSize(h)
  const out = new Uint8Array(size)
  let pos = 0
  for (const h of header) pos = writeUint(out, pos, h)
  pos = writeUint(out, pos, payload.length)
  out.set(payload, pos)
  return out
}

/// Sync step 1: the sender's state vector.
export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array =>
  encodeWithPayload([MessageType.Sync, SyncType.Step1], stateVector)

/// Sync step 2: what the receiver is missing.
export const encodeSyncStep2 = (update: Uint8Array): Uint8Array =>
  encodeWithPayload([MessageType.Sync, SyncType.Step2], update)

/// A document update.
export const encodeUpdate = (update: Uint8Array): Uint8Array =>
  encodeWithPayload([MessageType.Sync, SyncType.Update], update)

/// An awareness message around an encoded awareness update.
export const encodeAwareness = (update: Uint8Array): Uint8Array =>
  encodeWithPayload([MessageType.Awareness], update)

/// Query-awareness: asks the receiver for all awareness states it knows.
export const encodeQueryAwareness = (): Uint8Array => Uint8Array.of(MessageType.QueryAwareness)

/// Auth permission-denied with a reason (y-protocols/auth).
export const encodeAuthDenied = (reason: string): Uint8Array =>
  encodeWithPayload([MessageType.Auth, 0], utf8Encoder.encode(reason))

/// Concord's acknowledgement: `count` of the connection's updates are durably stored.
/// Sent only to connections that asked for acknowledgements.
export function encodeAck(count: number): Uint8Array {
  const out = new Uint8Array(1 + uintSize(count))
  writeUint(out, writeUint(out, 0, MessageType.Ack), count)
  return out
}

/// The keepalive frame: an awareness update with no entries. Every y-websocket client
/// accepts it, changes nothing, and counts it as a sign of life.
export const KEEPALIVE_FRAME: Uint8Array = Uint8Array.of(MessageType.Awareness, 1, 0)

/// Encode one decoded message again (to rebuild a frame without some of its messages).
function encodeMessage(m: Message): Uint8Array {
  switch (m.type) {
    case 'syncStep1': return encodeSyncStep1(m.stateVector)
    case 'syncStep2': return encodeSyncStep2(m.update)
    case 'update': return encodeUpdate(m.update)
    case 'awareness': return m.raw
    case 'auth': return encodeAuthDenied(m.reason)
    case 'queryAwareness': return encodeQueryAwareness()
    case 'ack': return encodeAck(m.count)
  }
}

/// The frame without its awareness messages (null when nothing else is left): what a
/// read-only connection may send when it may not share awareness.
export function withoutAwareness(frame: Uint8Array, messages: readonly Message[]): Uint8Array | null {
  if (!messages.some((m) => m.type === 'awareness')) return frame
  const rest = messages.filter((m) => m.type !== 'awareness').map(encodeMessage)
  if (rest.length === 0) return null
  const out = new Uint8Array(rest.reduce((n, m) => n + m.length, 0))
  let pos = 0
  for (const m of rest) {
    out.set(m, pos)
    pos += m.length
  }
  return out
}
