// Reading a Yjs update (v1 encoding) without integrating it: is it well formed, and is it
// "plain" (text and list edits under root types) so that integrating it later cannot fail?
// A room relays and stores a plain update at once and folds it into its document in batches
// (see `RoomDocument.settle`); anything else is integrated at once by Yjs, which judges it.
//
// Layout (yjs `readClientsStructRefs`, `readDeleteSet`): varUint clients; per client varUint
// structs, varUint client, varUint clock, then structs: an info byte whose low 5 bits name the
// content (0 GC and 10 Skip carry a length), origin and right origin IDs (bits 0x80, 0x40), a
// parent (root name or item ID) and parent key (0x20) when neither origin is present, then the
// content. The delete set follows: varUint clients; per client varUint client, varUint
// ranges, and per range varUint clock, varUint length.
import { ProtocolError, Reader } from './messages.js'

/// Nesting allowed in `Any` content (objects in arrays in objects ...).
const MAX_ANY_DEPTH = 64

/// Content kinds (the info byte's low 5 bits).
export const Content = { GC: 0, Deleted: 1, JSON: 2, Binary: 3, String: 4, Embed: 5, Format: 6, Type: 7, Any: 8, Doc: 9, Skip: 10 } as const

/// Type refs of `ContentType` (YArray … YXmlText); 3 and 5 carry a name.
const TYPE_REFS = 7

// As lib0 reads strings: invalid UTF-8 fails, a byte order mark is kept (it counts).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function decode(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new ProtocolError('invalid UTF-8 in update')
  }
}

function skipString(r: Reader): void {
  const bytes = r.bytesField()
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return void decode(bytes)
}

/// The length in UTF-16 code units (Yjs counts text in them) of a string's UTF-8 bytes.
export function utf16Length(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return decode(bytes).length
  return bytes.length
}

function json(r: Reader): void {
  const text = decode(r.bytesField())
  if (text === 'undefined') return // what ContentJSON writes for undefined
  try {
    JSON.parse(text)
  } catch {
    throw new ProtocolError('invalid JSON in update content')
  }
}

/// lib0's signed varint: 6 value bits and a sign in the first byte, then 7 bits per byte.
function varInt(r: Reader): void {
  for (let i = 0; i < 8; i++) if (r.byte() < 0x80) return
  throw new ProtocolError('varint too long')
}

/// lib0's `readAny`: a tag byte (127 minus the kind), then the value.
function skipValue(r: Reader, depth: number): void {
  if (depth > MAX_ANY_DEPTH) throw new ProtocolError('update content nested too deeply')
  const tag = r.byte()
  switch (tag) {
    case 127: case 126: case 121: case 120: return // undefined, null, false, true
    case 125: varInt(r); return
    case 124: r.take(4); return
    case 123: case 122: r.take(8); return // float64, bigint64
    case 119: skipString(r); return
    case 118: { // object
      const n = r.uint()
      for (let i = 0; i < n; i++) { skipString(r); skipValue(r, depth + 1) }
      return
    }
    case 117: { // array
      const n = r.uint()
      for (let i = 0; i < n; i++) skipValue(r, depth + 1)
      return
    }
    case 116: r.bytesField(); return
    default: throw new ProtocolError(`unknown value tag ${tag} in update content`)
  }
}

/// Read one item's content; returns its length in clock units.
export function readContent(r: Reader, kind: number): number {
  switch (kind) {
    case Content.Deleted: return r.uint()
    case Content.JSON: {
      const n = r.uint()
      for (let i = 0; i < n; i++) json(r)
      return n
    }
    case Content.Binary: r.bytesField(); return 1
    case Content.String: return utf16Length(r.bytesField())
    case Content.Embed: json(r); return 1
    case Content.Format: skipString(r); json(r); return 1
    case Content.Type: {
      const ref = r.uint()
      if (ref >= TYPE_REFS) throw new ProtocolError(`unknown type ref ${ref} in update`)
      if (ref === 3 || ref === 5) skipString(r)
      return 1
    }
    case Content.Any: {
      const n = r.uint()
      for (let i = 0; i < n; i++) skipValue(r, 0)
      return n
    }
    case Content.Doc: skipString(r); skipValue(r, 0); return 1
    default: throw new ProtocolError(`unknown content kind ${kind} in update`)
  }
}

/// The clock each client has reached in a document (its next clock), as the room knows it.
export type Clocks = (client: number) => number

/// Read a whole v1 update. Throws `ProtocolError` where Yjs would fail to read it, where a
/// client appears twice, and where a clock would pass 2^53 (nothing of it is applied). Returns
/// whether it is plain: every item is unformatted text or list content under a root type (no
/// nested types, formatting, embeds, subdocuments or skipped ranges), and, measured against `clocks`, it starts where its
/// client's history ends (or earlier), refers only to items the document holds or to earlier
/// items of its own, and deletes only known items. Yjs integrates such an update at once and
/// without error (nothing is left pending), so it may be integrated later than it is relayed.
/// For a plain update, `ends` (empty when passed: a fresh array is cheaper than emptying one,
/// which V8 does in its runtime) receives `client, clock` pairs: where each client's history
/// ends once it is integrated.
export function checkUpdate(update: Uint8Array, clocks: Clocks, ends: number[] = []): boolean {
  const r = new Reader(update)
  let plain = true
  const clients = r.uint()
  // Yjs keeps only the last block of a client that appears twice, where its merge keeps both:
  // the room, its store and its peers would each hold something else. Yjs never writes one.
  const seen = clients > 1 ? new Set<number>() : null
  for (let c = 0; c < clients; c++) {
    const structs = r.uint()
    const client = r.uint()
    let clock = r.uint()
    if (seen) {
      if (seen.has(client)) throw new ProtocolError(`client ${client} appears twice in update`)
      seen.add(client)
    }
    const known = clocks(client)
    if (clock > known) plain = false // a gap: Yjs would hold it pending
    for (let s = 0; s < structs; s++) {
      const info = r.byte()
      const kind = info & 0x1f
      if (kind === Content.GC || kind === Content.Skip) {
        const length = r.uint()
        if (kind === Content.Skip) plain = false
        clock = beyond(clock, length)
        continue
      }
      if (info & 0x80 && !knownRef(r, client, clock, clocks)) plain = false
      if (info & 0x40 && !knownRef(r, client, clock, clocks)) plain = false
      if ((info & 0xc0) === 0) {
        if (r.uint() === 1) skipString(r) // parent: a root type's name
        else { r.uint(); r.uint(); plain = false } // parent: an item (a nested type)
        if (info & 0x20) skipString(r)
      }
      // Formatting makes Yjs clean up after integration (a change of the server's own): only
      // plain text and list content may wait.
      if (kind === Content.Type || kind === Content.Doc || kind === Content.Format || kind === Content.Embed) plain = false
      const length = readContent(r, kind)
      if (length === 0) plain = false // Yjs never writes an empty item: let it judge this one
      clock = beyond(clock, length)
    }
    ends.push(client, Math.max(clock, known))
  }
  const deleted = r.uint()
  for (let c = 0; c < deleted; c++) {
    const client = r.uint()
    const end = endOf(ends, client, clocks)
    const ranges = r.uint()
    for (let i = 0; i < ranges; i++) {
      const clock = r.uint()
      const length = r.uint()
      beyond(clock, length)
      // Yjs never writes an empty range (and fails on one it holds pending); deleting what the
      // document lacks leaves the deletion pending.
      if (length === 0 || clock + length > end) plain = false
    }
  }
  return plain
}

/// `clock + length`, refused past 2^53: Yjs would compute clocks it cannot represent, and
/// every later update touching that client's items could not be read.
function beyond(clock: number, length: number): number {
  const end = clock + length
  if (end > Number.MAX_SAFE_INTEGER) throw new ProtocolError('update clock past 2^53')
  return end
}

/// Read an origin ID; whether the item it names exists before the item at `clock` of
/// `client` is integrated (an earlier item of its own client, or one the document holds).
function knownRef(r: Reader, client: number, clock: number, clocks: Clocks): boolean {
  const refClient = r.uint()
  const refClock = r.uint()
  return refClient === client ? refClock < clock : refClock < clocks(refClient)
}

/// Where `client`'s history ends once the structs read so far are integrated.
function endOf(ends: number[], client: number, clocks: Clocks): number {
  for (let i = 0; i < ends.length; i += 2) if (ends[i] === client) return ends[i + 1]
  return clocks(client)
}
