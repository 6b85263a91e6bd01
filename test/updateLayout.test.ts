// The update layout's fast paths against Yjs itself: the state vector read from the layout
// against `Y.encodeStateVectorFromUpdate`, and `appendUpdate` against `Y.mergeUpdates`, over
// seeded histories of every shared type (formatting, XML, nested and deleted types, GC'd
// content) written by several clients that sync now and then.
import { describe as group, expect, test } from 'vitest'
import * as Y from 'yjs'
import { SHAPES, describe, randomEdit } from '../server/cli/converge/shapes.js'
import { createRandom, type Random } from '../server/cli/converge/random.js'
import { appendUpdate, layoutOf, stateVectorOf } from '../server/protocol/updateLayout.js'
import { docOf } from './yjsPeer.js'

const EMPTY = Uint8Array.of(0, 0)

/// Every local update of three clients editing random shapes, in the order made (so each
/// prefix holds everything its updates refer to), the clients syncing now and then.
function history(rng: Random, steps: number): Uint8Array[] {
  const docs = [0, 1, 2].map((i) => {
    const doc = new Y.Doc({ gc: i !== 2 })
    doc.clientID = 1000 + i * 7919 + rng.int(0, 1000)
    return doc
  })
  const log: Uint8Array[] = []
  for (const doc of docs) doc.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== 'sync') log.push(u) })
  for (let s = 0; s < steps; s++) {
    const doc = docs[rng.int(0, docs.length - 1)]
    randomEdit(doc, SHAPES[rng.int(0, SHAPES.length - 1)], rng)
    if (rng.chance(0.2)) {
      const [a, b] = [docs[rng.int(0, 2)], docs[rng.int(0, 2)]]
      if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'sync')
    }
  }
  return log
}

/// What Yjs reads as the update's state vector.
const yjsVector = (update: Uint8Array): Map<number, number> => Y.decodeStateVector(Y.encodeStateVectorFromUpdate(update))
/// Yjs' own encoding of the same structs and deletions (it joins neighbouring GC structs).
const canonical = (update: Uint8Array): Uint8Array => Y.mergeUpdates([update, EMPTY])
const sorted = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0])

group('update layout', () => {
  test('the state vector read from the layout is the one Yjs reads, gaps and Skips included', () => {
    let gapped = 0
    for (let seed = 1; seed <= 12; seed++) {
      const rng = createRandom(seed)
      const log = history(rng, 120)
      const samples = [...log, Y.mergeUpdates(log), Y.encodeStateAsUpdate(docOf(log))]
      for (let k = 0; k < 10; k++) {
        // A random subset: lost updates leave gaps (Skips once merged).
        const subset = log.filter(() => rng.chance(0.6))
        if (subset.length === 0) continue
        const merged = Y.mergeUpdates(subset)
        if (layoutOf(merged)!.blocks.some((b) => b.skips)) gapped++
        samples.push(merged, Y.mergeUpdates(subset.slice(rng.int(0, subset.length - 1))))
      }
      for (const update of samples) {
        const layout = layoutOf(update)
        expect(layout).not.toBeNull()
        expect(sorted(stateVectorOf(layout!))).toEqual(sorted(yjsVector(update)))
      }
    }
    expect(gapped).toBeGreaterThan(10)
  })

  test('a Skip as the update\'s very first struct counts, as Yjs counts it', () => {
    // Client 5's block starts with a Skip of 3 at clock 0, then one GC of 2.
    const update = Uint8Array.of(1, 2, 5, 0, 10, 3, 0, 2, 0)
    expect(sorted(stateVectorOf(layoutOf(update)!))).toEqual(sorted(yjsVector(update)))
    expect(yjsVector(update).get(5)).toBe(3)
  })

  test('appending a later update gives what Y.mergeUpdates gives, and its layout', () => {
    let appended = 0
    let refused = 0
    for (let seed = 1; seed <= 16; seed++) {
      const rng = createRandom(`append-${seed}`)
      const log = history(rng, 150)
      for (let k = 0; k < 8; k++) {
        const cut = rng.int(1, log.length - 1)
        const prefix = log.slice(0, cut)
        // The base as compaction writes it (a Y.Doc's state, GC'd) or as a merge of the log.
        const base = rng.chance(0.5) ? Y.encodeStateAsUpdate(docOf(prefix)) : Y.mergeUpdates(prefix)
        const restEnd = rng.int(cut + 1, log.length)
        const later = restEnd - cut === 1 ? log[cut] : Y.mergeUpdates(log.slice(cut, restEnd))
        const result = appendUpdate(base, layoutOf(base)!, later)
        const want = Y.mergeUpdates([base, later])
        if (!result) {
          refused++
          continue
        }
        appended++
        expect(canonical(result.update)).toEqual(canonical(want))
        expect(result.layout).toEqual(layoutOf(result.update))
        const got = docOf([result.update])
        const truth = docOf([base, later])
        expect(describe(got)).toBe(describe(truth))
        expect(Y.encodeStateVector(got)).toEqual(Y.encodeStateVector(truth))
        expect(sorted(stateVectorOf(result.layout))).toEqual(sorted(yjsVector(want)))
      }
    }
    // A later update that continues the base is the common case; a GC'd base whose client
    // ends in a deleted type's GC can still refuse nothing here, so only the first is bounded.
    expect(appended).toBeGreaterThan(100)
    expect(refused).toBeLessThan(appended)
  })

  test('an update that overlaps the base, or leaves a gap after it, is left to Yjs', () => {
    const rng = createRandom('refuse')
    const log = history(rng, 80)
    const cut = 40
    const base = Y.mergeUpdates(log.slice(0, cut))
    const layout = layoutOf(base)!
    expect(appendUpdate(base, layout, Y.mergeUpdates(log.slice(cut)))).not.toBeNull()
    // Overlap: the later update repeats the base's last update.
    expect(appendUpdate(base, layout, Y.mergeUpdates(log.slice(cut - 1)))).toBeNull()
    // Gap: an update of the client that wrote log[cut] is missing.
    const lost = layoutOf(log[cut])!.blocks[0].client
    const after = log.slice(cut + 1).filter((u) => layoutOf(u)!.blocks.some((b) => b.client === lost))
    expect(after.length).toBeGreaterThan(1)
    expect(appendUpdate(base, layout, Y.mergeUpdates(after))).toBeNull()
    // A gap inside the later update (a Skip), its start continuing the base.
    const skipping = Y.mergeUpdates([log[cut], after[1]])
    expect(layoutOf(skipping)!.blocks.some((b) => b.skips)).toBe(true)
    expect(appendUpdate(base, layout, skipping)).toBeNull()
  })

  test('blocks out of Yjs\' order (descending clients) are left to Yjs', () => {
    // Clients 3 then 5, one GC of length 1 each; Yjs writes 5 first.
    const ascending = Uint8Array.of(2, 1, 3, 0, 0, 1, 1, 5, 0, 0, 1, 0)
    const later = Uint8Array.of(1, 1, 4, 0, 0, 1, 0)
    expect(layoutOf(ascending)).not.toBeNull()
    expect(appendUpdate(ascending, layoutOf(ascending)!, later)).toBeNull()
  })
})
