// Where the parts of a v1 update lie, read without building its structs: each client's block
// (bytes, first and next clock) and the delete set. An asleep room keeps its document as one
// update (see `EncodedDoc`); with the layout it knows the state vector, and appends a later
// update that continues the document by copying blocks, where `Y.mergeUpdates` reads and
// rewrites every struct (a third of a second for a 20 MB document).
//
// The append is a fast path for `Y.mergeUpdates([base, later])`: it is taken only where that
// merge would write the same structs in the same order (every block of either update in
// descending client order, no `Skip`, a client in both continuing exactly where the base
// ends), and the delete sets are merged by Yjs itself. What differs is encoding alone: Yjs
// re-encodes each struct and joins neighbouring GC structs, the copy keeps them as they
// came (`test/updateLayout.test.ts` checks both against Yjs).
import * as Y from 'yjs'
import { ProtocolError, Reader, uintSize, writeUint } from './messages.js'
import { Content, readContent } from './updateCheck.js'

/// One client's block of structs: bytes `start` to `end` of the update, its structs from
/// `body`; clocks `clock` to `next`.
export interface ClientBlock {
  readonly client: number
  readonly clock: number
  readonly next: number
  readonly structs: number
  readonly start: number
  readonly body: number
  readonly end: number
  /// What Yjs' `encodeStateVectorFromUpdate` counts for this client (0: left out).
  readonly counted: number
  /// Whether a `Skip` struct (a gap) is among the structs.
  readonly skips: boolean
}

/// An update's blocks, in the order written, and where its delete set starts.
export interface UpdateLayout {
  readonly blocks: readonly ClientBlock[]
  readonly deleteSet: number
}

/// Skip one struct; returns its length in clock units and whether it is a `Skip`.
function skipStruct(r: Reader): number {
  const info = r.byte()
  const kind = info & 0x1f
  if (kind === Content.GC || kind === Content.Skip) return r.uint()
  if (info & 0x80) { r.uint(); r.uint() } // origin
  if (info & 0x40) { r.uint(); r.uint() } // right origin
  if ((info & 0xc0) === 0) {
    if (r.uint() === 1) r.bytesField() // parent: a root type's name
    else { r.uint(); r.uint() } // parent: an item
    if (info & 0x20) r.bytesField() // parent key
  }
  return readContent(r, kind)
}

/// The layout of a v1 update, or null where it is not one this module handles (it does not
/// read, a client appears twice, a clock passes 2^53): callers then use Yjs.
export function layoutOf(update: Uint8Array): UpdateLayout | null {
  try {
    const r = new Reader(update)
    const count = r.uint()
    const blocks: ClientBlock[] = []
    const seen = new Set<number>()
    let firstStruct = true
    for (let b = 0; b < count; b++) {
      const start = r.pos
      const structs = r.uint()
      const client = r.uint()
      const clock = r.uint()
      if (seen.has(client)) return null
      seen.add(client)
      const body = r.pos
      let next = clock
      let skipAt = -1
      let firstEnd = clock
      for (let s = 0; s < structs; s++) {
        const isSkip = (update[r.pos] & 0x1f) === Content.Skip
        const length = skipStruct(r)
        if (isSkip && skipAt < 0) skipAt = next
        next += length
        if (s === 0) firstEnd = next
        if (next > Number.MAX_SAFE_INTEGER) return null
      }
      blocks.push({ client, clock, next, structs, start, body, end: r.pos, counted: counted(firstStruct, clock, next, skipAt, firstEnd, structs), skips: skipAt >= 0 })
      if (structs > 0) firstStruct = false
    }
    return { blocks, deleteSet: r.pos }
  } catch (error) {
    if (error instanceof ProtocolError) return null
    throw error
  }
}

// Yjs counts a client from clock 0 up to its first Skip, and a client starting later not at
// all; the update's very first struct counts even if it is a Skip (it seeds the count before
// the loop that stops at Skips).
function counted(first: boolean, clock: number, next: number, skipAt: number, firstEnd: number, structs: number): number {
  if (clock !== 0 || structs === 0) return 0
  if (skipAt < 0) return next
  if (skipAt === 0) return first ? firstEnd : 0
  return skipAt
}

/// The state vector Yjs' `encodeStateVectorFromUpdate` reads from the update laid out so
/// (decoded: client to clock).
export function stateVectorOf(layout: UpdateLayout): Map<number, number> {
  const clocks = new Map<number, number>()
  for (const block of layout.blocks) if (block.counted > 0) clocks.set(block.client, block.counted)
  return clocks
}

/// Whether blocks can be copied as they are: descending clients, none empty, no gap.
function copyable(layout: UpdateLayout): boolean {
  let previous = Infinity
  for (const block of layout.blocks) {
    if (block.client >= previous || block.structs === 0 || block.skips) return false
    previous = block.client
  }
  return true
}

/// The delete set of an update, as an update with no structs.
function deleteSetOnly(update: Uint8Array, layout: UpdateLayout): Uint8Array {
  const out = new Uint8Array(1 + update.length - layout.deleteSet)
  out.set(update.subarray(layout.deleteSet), 1)
  return out
}

/// `Y.mergeUpdates([base, later])` by copying blocks, with the result's layout; null where
/// that would not give the same structs (see the top of this file): merge with Yjs then.
export function appendUpdate(base: Uint8Array, baseLayout: UpdateLayout, later: Uint8Array): { update: Uint8Array; layout: UpdateLayout } | null {
  const laterLayout = layoutOf(later)
  if (!laterLayout || !copyable(baseLayout) || !copyable(laterLayout)) return null
  // Both lists descend by client: walk them together.
  const parts: Array<{ from: ClientBlock | null; to: ClientBlock | null }> = []
  const a = baseLayout.blocks
  const b = laterLayout.blocks
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i].client > b[j].client)) parts.push({ from: a[i++], to: null })
    else if (i >= a.length || b[j].client > a[i].client) parts.push({ from: null, to: b[j++] })
    else {
      if (b[j].clock !== a[i].next) return null // an overlap or a gap: Yjs slices or skips
      parts.push({ from: a[i++], to: b[j++] })
    }
  }
  const deletes = Y.mergeUpdates([deleteSetOnly(base, baseLayout), deleteSetOnly(later, laterLayout)]).subarray(1)

  let size = uintSize(parts.length) + deletes.length
  for (const { from, to } of parts) {
    if (from && to) size += uintSize(from.structs + to.structs) + uintSize(from.client) + uintSize(from.clock) + (from.end - from.body) + (to.end - to.body)
    else size += from ? from.end - from.start : to!.end - to!.start
  }
  const out = new Uint8Array(size)
  // Without gaps or empty blocks, Yjs counts a block from clock 0 to its end (see `counted`).
  const blocks: ClientBlock[] = []
  let pos = writeUint(out, 0, parts.length)
  for (const { from, to } of parts) {
    const start = pos
    if (from && to) {
      pos = writeUint(out, pos, from.structs + to.structs)
      pos = writeUint(out, pos, from.client)
      pos = writeUint(out, pos, from.clock)
      const body = pos
      out.set(base.subarray(from.body, from.end), pos)
      pos += from.end - from.body
      out.set(later.subarray(to.body, to.end), pos)
      pos += to.end - to.body
      blocks.push({ ...from, next: to.next, structs: from.structs + to.structs, start, body, end: pos, counted: from.clock === 0 ? to.next : 0 })
    } else {
      const block = (from ?? to)!
      const source = from ? base : later
      out.set(source.subarray(block.start, block.end), pos)
      pos += block.end - block.start
      blocks.push({ ...block, start, body: start + (block.body - block.start), end: pos })
    }
  }
  out.set(deletes, pos)
  return { update: out, layout: { blocks, deleteSet: pos } }
}
