// Joining a batch of plain updates (see `checkUpdate`) into one update, as `Y.mergeUpdates`
// does, but joining text typed in a row into one item: what Yjs itself would store once it
// had integrated them. Sixteen keystrokes then integrate as one item, not sixteen (Yjs'
// integration works item by item; its `mergeUpdates` cannot join items that are not yet in a
// document, since its test for a merge asks whether they are neighbours there).
//
// Two items of a client join when the second starts where the first ends, has the first's
// last character as its origin and the same right origin, and both are strings: that is
// exactly how Yjs encodes one item split in two, so the joined update means the same.
import { Reader, uintSize, writeUint } from './protocol.js'
import { Content, readContent, utf16Length } from './updateCheck.js'

/// One struct to write: bytes `from..to` of `bytes` as they are, or, for a string item that
/// absorbed the ones after it, its head (`from..head`) followed by the joined `text`.
interface Struct {
  bytes: Uint8Array
  from: number
  to: number
  head: number
  /// UTF-8 pieces of a string item that later items may join (null: not joinable).
  text: Uint8Array[] | null
  textBytes: number
  /// The right origin (client -1: none), which a joining item must share.
  rightClient: number
  rightClock: number
}

/// One client's structs, contiguous from `start` to `end` (clocks).
interface Run {
  start: number
  end: number
  structs: Struct[]
}

const NO_CLIENT = -1

/// One update equivalent to applying `updates` in order, or null when they do not line up:
/// a client's structs in one update must start where its structs in the ones before end
/// (no repeats, no gaps), and no update may skip a range. Throws `ProtocolError` on an update
/// that does not read (callers pass updates `checkUpdate` already read).
export function coalesce(updates: readonly Uint8Array[]): Uint8Array | null {
  const runs = new Map<number, Run>()
  const deletes = new Map<number, number[]>()
  for (const update of updates) if (!readInto(update, runs, deletes)) return null
  return write(runs, deletes)
}

function readInto(update: Uint8Array, runs: Map<number, Run>, deletes: Map<number, number[]>): boolean {
  const r = new Reader(update)
  const clients = r.uint()
  for (let c = 0; c < clients; c++) {
    const count = r.uint()
    const client = r.uint()
    let clock = r.uint()
    if (count === 0) continue // Yjs writes no such entry; it changes nothing
    let run = runs.get(client)
    if (!run) runs.set(client, (run = { start: clock, end: clock, structs: [] }))
    else if (clock !== run.end) return false
    for (let s = 0; s < count; s++) {
      const from = r.pos
      const info = r.byte()
      const kind = info & 0x1f
      if (kind === Content.Skip) return false
      if (kind === Content.GC) {
        clock += r.uint()
        run.structs.push({ bytes: update, from, to: r.pos, head: r.pos, text: null, textBytes: 0, rightClient: NO_CLIENT, rightClock: 0 })
        continue
      }
      let originClient = NO_CLIENT
      let originClock = 0
      if (info & 0x80) { originClient = r.uint(); originClock = r.uint() }
      let rightClient = NO_CLIENT
      let rightClock = 0
      if (info & 0x40) { rightClient = r.uint(); rightClock = r.uint() }
      if ((info & 0xc0) === 0) {
        if (r.uint() === 1) r.bytesField() // a root type's name
        else { r.uint(); r.uint() } // an item's ID
        if (info & 0x20) r.bytesField()
      }
      const head = r.pos
      let length: number
      let text: Uint8Array | null = null
      if (kind === Content.String) length = utf16Length((text = r.bytesField()))
      else length = readContent(r, kind)
      // Text items never carry the parent-key bit (map entries do): items with it stay apart.
      if (info & 0x20) text = null
      const last = run.structs.length > 0 ? run.structs[run.structs.length - 1] : null
      if (text !== null && last?.text && originClient === client && originClock === clock - 1 &&
          last.rightClient === rightClient && last.rightClock === rightClock) {
        last.text.push(text)
        last.textBytes += text.length
      } else {
        run.structs.push({ bytes: update, from, to: r.pos, head, text: text && [text], textBytes: text?.length ?? 0, rightClient, rightClock })
      }
      clock += length
    }
    run.end = clock
  }
  const deleted = r.uint()
  for (let c = 0; c < deleted; c++) {
    const client = r.uint()
    let ranges = deletes.get(client)
    if (!ranges) deletes.set(client, (ranges = []))
    for (let i = r.uint(); i > 0; i--) ranges.push(r.uint(), r.uint())
  }
  return true // what follows the delete set, Yjs ignores too
}

const joined = (s: Struct): boolean => s.text !== null && s.text.length > 1

function structSize(s: Struct): number {
  return joined(s) ? s.head - s.from + uintSize(s.textBytes) + s.textBytes : s.to - s.from
}

function write(runs: Map<number, Run>, deletes: Map<number, number[]>): Uint8Array {
  let size = uintSize(runs.size) + uintSize(deletes.size)
  for (const [client, run] of runs) {
    size += uintSize(run.structs.length) + uintSize(client) + uintSize(run.start)
    for (const s of run.structs) size += structSize(s)
  }
  for (const [client, ranges] of deletes) {
    size += uintSize(client) + uintSize(ranges.length / 2)
    for (const n of ranges) size += uintSize(n)
  }
  const out = new Uint8Array(size)
  let pos = writeUint(out, 0, runs.size)
  for (const [client, run] of runs) {
    pos = writeUint(out, pos, run.structs.length)
    pos = writeUint(out, pos, client)
    pos = writeUint(out, pos, run.start)
    for (const s of run.structs) {
      if (!joined(s)) {
        out.set(s.bytes.subarray(s.from, s.to), pos)
        pos += s.to - s.from
        continue
      }
      out.set(s.bytes.subarray(s.from, s.head), pos)
      pos = writeUint(out, pos + s.head - s.from, s.textBytes)
      for (const piece of s.text!) {
        out.set(piece, pos)
        pos += piece.length
      }
    }
  }
  pos = writeUint(out, pos, deletes.size)
  for (const [client, ranges] of deletes) {
    pos = writeUint(out, pos, client)
    pos = writeUint(out, pos, ranges.length / 2)
    for (const n of ranges) pos = writeUint(out, pos, n)
  }
  return out
}
