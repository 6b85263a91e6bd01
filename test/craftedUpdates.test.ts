// Updates no Yjs writer produces but a crafted client can send. Whatever the server does with
// one, it may not split from its clients: the sender is closed with 4400 and nothing in the
// room changes, and honest peers go on editing, converging with the server, a later joiner
// and the store.
import { afterEach, expect, test } from 'vitest'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { describe, sameHistory } from '../server/cli/converge/shapes.js'
import { encodeUpdate, writeUint, uintSize } from '../server/protocol/messages.js'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import { startServer, waitFor } from './helpers.js'
import { YjsPeer, docOf, serverDoc } from './yjsPeer.js'

const MAX = Number.MAX_SAFE_INTEGER
let server: ConcordServer | null = null
const peers: YjsPeer[] = []
afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy()
  await server?.close()
})

/// Bytes of varuints and raw parts, one after another.
function bytes(...parts: Array<number | string | Uint8Array>): Uint8Array {
  const chunks = parts.map((p) => {
    if (p instanceof Uint8Array) return p
    if (typeof p === 'string') {
      const s = new TextEncoder().encode(p)
      const out = new Uint8Array(uintSize(s.length) + s.length)
      out.set(s, writeUint(out, 0, s.length))
      return out
    }
    const out = new Uint8Array(uintSize(p))
    writeUint(out, 0, p)
    return out
  })
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.length }
  return out
}

/// One string item of `client` at `clock` under the root text `text`: info 4 (a string with
/// no origins, so a parent follows: 1 = a root type's name).
const stringItem = (text: string) => bytes(4, 1, 'text', text)

/// An update as Yjs writes it for `client` typing `text` into a fresh root text.
function typed(client: number, text: string): Uint8Array {
  const doc = new Y.Doc()
  doc.clientID = client
  doc.getText('text').insert(0, text)
  return Y.encodeStateAsUpdate(doc)
}

const CASES: Array<{ name: string; update: Uint8Array }> = [
  {
    // Yjs keeps the last block of a client and drops "secret"; a merge of blocks keeps it.
    name: 'a second, empty block for the same client',
    update: (() => {
      const u = typed(777, 'secret')
      return bytes(2, u.subarray(1, u.length - 1), 0, 777, 0, 0)
    })(),
  },
  { name: 'two blocks of one client', update: bytes(2, 1, 778, 0, stringItem('ab'), 1, 778, 2, stringItem('cd'), 0) },
  { name: 'an item whose clock passes 2^53', update: bytes(1, 1, 779, MAX - 2, stringItem('hello'), 0) },
  { name: 'a deletion whose range passes 2^53', update: bytes(0, 1, 780, 1, MAX - 1, 5) },
]

for (const { name, update } of CASES) {
  test(`${name}: the sender gets 4400, the room is unchanged, honest peers go on`, async () => {
    const store = memoryStorage()
    server = await startServer({ store })
    const url = server.url
    const room = 'crafted'
    const a = new YjsPeer(url, room)
    const b = new YjsPeer(url, room)
    peers.push(a, b)
    await Promise.all([a.connect(), b.connect()])
    a.doc.getText('text').insert(0, 'hello world')
    await waitFor(() => b.doc.getText('text').toString() === 'hello world', 'b to get the first edit')
    const before = Y.encodeStateAsUpdate(docOf([Y.encodeStateAsUpdate(a.doc)]))

    const attacker = new WebSocket(`${url}/${room}`)
    const closed = new Promise<number | null>((resolve) => {
      attacker.on('close', (code) => resolve(code))
      setTimeout(() => resolve(null), 3000) // still open: the server took it
    })
    await new Promise((resolve) => attacker.once('open', resolve))
    attacker.send(encodeUpdate(update))
    const code = await closed
    attacker.terminate()

    // Honest typing after it: at the end of the text (building on whatever the crafted item
    // left) and in the middle; plain edits a room may hold back and integrate as a batch.
    for (let i = 0; i < 20; i++) {
      const writer = i % 2 ? a : b
      const text = writer.doc.getText('text')
      text.insert(i % 3 ? text.length : 5, `${i}`)
    }
    const done = () => describe(a.doc) === describe(b.doc) && sameHistory(a.doc, b.doc)
    await waitFor(done, 'the honest peers to converge').catch(() => undefined) // judged below
    const live = await serverDoc(url.replace(/^ws/, 'http'), room)
    const joiner = new YjsPeer(url, room)
    peers.push(joiner)
    await joiner.connect()
    await waitFor(() => sameHistory(joiner.doc, a.doc), 'a later joiner to sync').catch(() => undefined)
    expect(a.closeCodes.concat(b.closeCodes), 'honest peers closed').toEqual([])
    await server.close()
    server = null
    const stored = docOf(await store.load(room))

    for (const [what, doc] of [['server', live], ['joiner', joiner.doc], ['store', stored]] as const) {
      expect(describe(doc), what).toBe(describe(a.doc))
      expect(sameHistory(doc, a.doc), what).toBe(true)
    }
    // Nothing of the crafted update is anywhere: the room holds the honest edits only.
    const honest = docOf([before, ...a.produced.slice(1), ...b.produced])
    expect(describe(a.doc)).toBe(describe(honest))
    expect(sameHistory(a.doc, honest)).toBe(true)
    expect(code, 'the sender is refused').toBe(4400)
  })
}
