// What integrating held keystrokes into 50 rooms' documents costs per keystroke, in isolation
// (in the server, with cold caches, it is several times more): each in a transaction of its
// own (no batching), or a batch in one transaction, as `HeldBack` does, by batch size. Two
// typists per room type at the end of
// their own text, as in the typing scenario. Needs the root's dist (`npx tsc -p
// tsconfig.json`). Usage: node bench/held.mjs [--rooms 50] [--keystrokes 4000]
import * as Y from '../node_modules/yjs/dist/yjs.mjs' // the server's copy, not bench/'s: one Yjs
import { typedUpdates } from './lib/typing.mjs'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? fallback : Number(process.argv[i + 1])
}
const ROOMS = arg('rooms', 50)
const PER_TYPIST = arg('keystrokes', 4000)

const a = typedUpdates(Y, 1, PER_TYPIST)
const b = typedUpdates(Y, 2, PER_TYPIST)
const keystrokes = a.flatMap((u, i) => [u, b[i]])

/// µs per keystroke to integrate every keystroke into every room, `batch` at a time (1: each
/// in its own transaction).
function measure(batch, listening = false) {
  const docs = Array.from({ length: ROOMS }, () => new Y.Doc({ gc: true }))
  // A room listens to its document's 'update' (its own formatting cleanups): Yjs then encodes
  // every transaction's update.
  if (listening) for (const doc of docs) doc.on('update', () => undefined)
  const start = process.hrtime.bigint()
  for (let i = 0; i < keystrokes.length; i += batch) {
    const held = keystrokes.slice(i, i + batch)
    for (const doc of docs) {
      if (batch === 1) Y.applyUpdate(doc, held[0])
      else Y.transact(doc, () => { for (const u of held) Y.applyUpdate(doc, u) }, null, false)
    }
  }
  const us = Number(process.hrtime.bigint() - start) / 1000 / (keystrokes.length * ROOMS)
  for (const doc of docs) doc.destroy()
  return us
}

const rows = []
for (const batch of [1, 16, 64, 256]) {
  const best = (listening) => Math.min(...[0, 1, 2].map(() => measure(batch, listening))) // the first also warms V8 up
  rows.push(`| ${batch} | ${best(false).toFixed(2)} | ${best(true).toFixed(2)} |`)
}
console.log(`${ROOMS} rooms, 2 typists each, ${PER_TYPIST} keystrokes per typist\n\n| batch | µs per keystroke (best of 3) | with an 'update' listener |\n|---|---|---|\n${rows.join('\n')}`)

