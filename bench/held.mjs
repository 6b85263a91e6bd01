// Two costs of a room per keystroke, in isolation (in the server, with cold caches, each is a
// few times more). Integrating held keystrokes into 50 rooms' documents, as `HeldBack` does,
// one update at a time or joined (`coalesce`), by batch size; two typists per room type at the
// end of their own text, as in the typing scenario. And merging one origin's 16 updates of a
// turn for the relay (`TurnOutbox`): `Y.mergeUpdates` against `coalesce`. Needs the root's
// dist (`npx tsc -p tsconfig.json`). Usage: node bench/held.mjs [--rooms 50] [--keystrokes 4000]
import * as Y from '../node_modules/yjs/dist/yjs.mjs' // the server's copy, not bench/'s: one Yjs
import { coalesce } from '../dist/server/coalesce.js'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? fallback : Number(process.argv[i + 1])
}
const ROOMS = arg('rooms', 50)
const PER_TYPIST = arg('keystrokes', 4000)

function typed(client, count) {
  const doc = new Y.Doc()
  doc.clientID = client
  const text = doc.getText('t')
  const updates = []
  doc.on('update', (u) => updates.push(u))
  for (let i = 0; i < count; i++) text.insert(text.length, String.fromCharCode(97 + (i % 26)))
  doc.destroy()
  return updates
}

const a = typed(1, PER_TYPIST)
const b = typed(2, PER_TYPIST)
const keystrokes = a.flatMap((u, i) => [u, b[i]])

/// µs per keystroke to integrate every keystroke into every room, `batch` at a time.
function measure(batch, joined) {
  const docs = Array.from({ length: ROOMS }, () => new Y.Doc({ gc: true }))
  const start = process.hrtime.bigint()
  for (let i = 0; i < keystrokes.length; i += batch) {
    const held = keystrokes.slice(i, i + batch)
    for (const doc of docs) {
      const one = joined ? coalesce(held) : null
      if (one) Y.applyUpdate(doc, one)
      else Y.transact(doc, () => { for (const u of held) Y.applyUpdate(doc, u) })
    }
  }
  const us = Number(process.hrtime.bigint() - start) / 1000 / (keystrokes.length * ROOMS)
  for (const doc of docs) doc.destroy()
  return us
}

const rows = []
for (const batch of [16, 64]) for (const joined of [false, true]) {
  const runs = [0, 1, 2].map(() => measure(batch, joined)) // the first also warms V8 up
  rows.push(`| ${batch} | ${joined ? 'joined' : 'one by one'} | ${Math.min(...runs).toFixed(2)} |`)
}
console.log(`${ROOMS} rooms, 2 typists each, ${PER_TYPIST} keystrokes per typist\n\n| batch | integrated | µs per keystroke (best of 3) |\n|---|---|---|\n${rows.join('\n')}`)

/// µs per merge of 16 keystrokes of one typist, and the merged bytes.
function merging(merge) {
  let bytes = 0
  const start = process.hrtime.bigint()
  for (let i = 0; i + 16 <= a.length; i += 16) bytes += merge(a.slice(i, i + 16)).length
  const batches = Math.floor(a.length / 16)
  return { us: Number(process.hrtime.bigint() - start) / 1000 / batches, bytes: bytes / batches }
}
const merges = []
for (const [name, merge] of [['Y.mergeUpdates', (u) => Y.mergeUpdates(u)], ['coalesce', coalesce]]) {
  const runs = [0, 1, 2].map(() => merging(merge))
  merges.push(`| ${name} | ${Math.min(...runs.map((r) => r.us)).toFixed(2)} | ${runs[0].bytes} |`)
}
console.log(`\n| 16 keystrokes merged by | µs (best of 3) | bytes |\n|---|---|---|\n${merges.join('\n')}`)
