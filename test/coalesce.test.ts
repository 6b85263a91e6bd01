// coalesce joins a batch of held updates into one, joining text typed in a row into one
// item. The room integrates the joined update instead of each one: it must leave the document
// exactly as applying them in order does, or joiners and snapshots would diverge from peers.
import { expect, it } from 'vitest'
import * as Y from 'yjs'
import { coalesce } from '../server/coalesce.js'
import { updatesOf } from './helpers.js'
import { mulberry32, seededInt } from './random.js'

/// What a user would see of a document: its text with formatting, its map, and its state.
function visible(doc: Y.Doc): unknown {
  return {
    text: doc.getText('codemirror').toDelta(),
    meta: doc.getMap('meta').toJSON(),
    state: [...Y.decodeStateVector(Y.encodeStateVector(doc))].sort((a, b) => a[0] - b[0]),
  }
}

function docOf(updates: readonly Uint8Array[]): Y.Doc {
  const doc = new Y.Doc()
  doc.transact(() => { for (const u of updates) Y.applyUpdate(doc, u) })
  return doc
}

it('keystrokes typed in a row become one item', () => {
  const doc = new Y.Doc()
  doc.clientID = 5
  const text = doc.getText('codemirror')
  const updates = updatesOf(doc, () => { for (const ch of 'héllo, wörld 🎉!') text.insert(text.length, ch) })
  expect(updates.length).toBe(15)
  const joined = coalesce(updates)!
  expect(joined).not.toBeNull()
  const { structs } = Y.decodeUpdate(joined)
  expect(structs.length).toBe(1) // one item holds the whole run
  expect((structs[0] as Y.Item).content.getContent().join('')).toBe('héllo, wörld 🎉!')
  const total = updates.reduce((n, u) => n + u.length, 0)
  expect(joined.length).toBeLessThan(total / 4) // the text, and one item's head
  const into = docOf([joined])
  expect(visible(into)).toEqual(visible(doc))
  doc.destroy()
  into.destroy()
})

it('keeps items apart where Yjs would: another position, a map entry, a deletion', () => {
  const doc = new Y.Doc()
  doc.clientID = 9
  const text = doc.getText('codemirror')
  const updates = updatesOf(doc, () => {
    text.insert(0, 'abc')
    text.insert(3, 'd') // joins
    text.insert(0, 'X') // elsewhere: its own item
    text.delete(1, 1)
    doc.getMap('meta').set('title', 'one')
    doc.getMap('meta').set('title', 'two')
    text.insert(text.length, 'e') // after 'd' in the text, but not next in the history
  })
  const joined = coalesce(updates)!
  expect(Y.decodeUpdate(joined).structs.length).toBe(5) // 'abcd', 'X', two map values, 'e'
  const into = docOf([joined])
  expect(visible(into)).toEqual(visible(doc))
  expect(into.getText('codemirror').toString()).toBe('Xbcde')
  doc.destroy()
  into.destroy()
})

it('refuses batches that do not line up: a repeat or a gap in one client\'s history', () => {
  const doc = new Y.Doc()
  const text = doc.getText('codemirror')
  const [a, b, c] = updatesOf(doc, () => { text.insert(0, 'a'); text.insert(1, 'b'); text.insert(2, 'c') })
  expect(coalesce([a, b, b])).toBeNull() // b again
  expect(coalesce([a, c])).toBeNull() // b missing
  expect(coalesce([a, b, c])).not.toBeNull()
  doc.destroy()
})

it('applied after any prefix, a joined batch leaves what the batch in order leaves (seeded histories)', () => {
  const next = mulberry32(0x5eed)
  const int = seededInt(0xbeef)
  for (let history = 0; history < 12; history++) {
    // Three writers typing in runs at a cursor that sometimes jumps, deleting, formatting and
    // setting a map entry; each sees the others' edits only when it syncs, so edits overlap.
    const writers = [1, 2, 3].map((id) => {
      const doc = new Y.Doc()
      doc.clientID = id * 10 + history
      return { doc, cursor: 0, seen: 0 }
    })
    const log: Uint8Array[] = []
    for (let step = 0; step < 400; step++) {
      const w = writers[int(3)]
      if (next() < 0.25) {
        for (const u of log.slice(w.seen)) Y.applyUpdate(w.doc, u) // its own again: a no-op
        w.seen = log.length
      }
      const text = w.doc.getText('codemirror')
      w.cursor = Math.min(w.cursor, text.length)
      const roll = next()
      const made = updatesOf(w.doc, () => {
        if (roll < 0.1) w.cursor = int(text.length + 1)
        else if (roll < 0.2 && text.length > 2) text.delete(int(text.length - 1), 1 + int(2))
        else if (roll < 0.23 && text.length > 2) text.format(0, 2, { bold: next() < 0.5 ? true : null })
        else if (roll < 0.26) w.doc.getMap('meta').set('title', `t${step}`)
        else {
          text.insert(w.cursor, roll < 0.3 ? 'ü🎉' : String.fromCharCode(97 + int(26)))
          w.cursor += roll < 0.3 ? 3 : 1
        }
      })
      log.push(...made) // after everything its writer saw: the log is in causal order
    }
    let joinedItems = 0
    let inputItems = 0
    for (let trial = 0; trial < 40; trial++) {
      const k = int(log.length - 20)
      const batch = log.slice(k, k + 2 + int(18))
      const inOrder = docOf(log.slice(0, k + batch.length))
      const joined = coalesce(batch)
      const viaJoined = docOf(log.slice(0, k))
      if (joined) {
        Y.applyUpdate(viaJoined, joined)
        joinedItems += Y.decodeUpdate(joined).structs.length
        for (const u of batch) inputItems += Y.decodeUpdate(u).structs.length
      } else for (const u of batch) Y.applyUpdate(viaJoined, u)
      expect(visible(viaJoined), `history ${history}, trial ${trial}`).toEqual(visible(inOrder))
      expect(viaJoined.store.pendingStructs).toBeNull()
      inOrder.destroy()
      viaJoined.destroy()
    }
    expect(inputItems).toBeGreaterThan(0) // batches were joined, not only refused
    expect(joinedItems).toBeLessThan(inputItems) // and items were joined in them
    for (const w of writers) w.doc.destroy()
  }
})
