// Third-party y-websocket clients, exactly as users install them (pinned devDependencies),
// opened against a test server, plus what the tests need to drive and compare them: random
// edits for Yjs 14 documents, and a convergence check that says, when replicas disagree,
// who differs from the server, on which shapes, and which missing update holds them back.
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as Y14 from '@y/y'
import { WebsocketProvider as ProviderV1 } from 'y-websocket-v1'
import { WebsocketProvider as ProviderV2 } from 'y-websocket-v2'
import { WebsocketProvider as ProviderV3 } from 'y-websocket'
import { WebsocketProvider as ProviderY14 } from '@y/websocket'
import { describe, pendingIn, sameHistory, SHAPES, type Shape } from '../server/cli/converge/shapes.js'
import type { Random } from '../server/cli/converge/random.js'
import { sleep } from './helpers.js'

/// The Yjs 13 clients: y-websocket 1.5.4, 2.1.0 and 3.1.0, all over the root `yjs` 13.6.33.
export const YJS13_CLIENTS = ['y-websocket@1.5.4', 'y-websocket@2.1.0', 'y-websocket@3.1.0'] as const

/// One of `YJS13_CLIENTS`.
export type Yjs13Client = (typeof YJS13_CLIENTS)[number]

/// The Yjs 14 client: @y/websocket 4.0.0-3 over @y/y (14.0.0-rc) and @y/protocols.
export const YJS14_CLIENT = '@y/websocket@4.0.0-3'

/// The awareness API every client version shares (y-protocols 1.0.7 or @y/protocols 1.0.6-rc).
export interface AwarenessLike {
  readonly clientID: number
  setLocalStateField(field: string, value: unknown): void
  getStates(): Map<number, Record<string, unknown>>
  destroy(): void
}

/// What the tests use of a WebsocketProvider, the same in every version over a doc of type `D`.
/// (The four packages ship different class types; this is their common surface.)
export interface ProviderLike<D> {
  readonly doc: D
  readonly awareness: AwarenessLike
  readonly synced: boolean
  readonly wsconnected: boolean
  on(event: 'status', listener: (event: { status: string }) => void): void
  on(event: 'connection-close', listener: (event: unknown) => void): void
  connect(): void
  destroy(): void
}

interface ProviderOptions {
  WebSocketPolyfill: unknown
  disableBc: boolean
  connect: boolean
}

type ProviderClass<D> = new (serverUrl: string, room: string, doc: D, options: ProviderOptions) => ProviderLike<D>

const YJS13_CLASSES: Record<Yjs13Client, ProviderClass<Y.Doc>> = {
  'y-websocket@1.5.4': ProviderV1 as unknown as ProviderClass<Y.Doc>,
  'y-websocket@2.1.0': ProviderV2 as unknown as ProviderClass<Y.Doc>,
  'y-websocket@3.1.0': ProviderV3 as unknown as ProviderClass<Y.Doc>,
}

/// A replica to compare with the server: a name for failure messages, its content as a Yjs 13
/// document, and what it holds pending.
export interface Replica {
  readonly name: string
  /// Yjs client ids that wrote through this replica (to name who authored a missing update).
  readonly clientIds: () => number[]
  /// The replica's content as a Yjs 13 document (a Yjs 14 client's state is decoded into one).
  readonly read: () => Y.Doc
  /// Its pending structs or deletions, null if none.
  readonly pending: () => string | null
}

/// Providers of every version opened on one server, named for failure messages, and torn down
/// together (provider, its awareness with its 15 s timer, its document).
export class ClientKit {
  private readonly opened: Array<{ provider: ProviderLike<Y.Doc> | ProviderLike<Y14.Doc>; destroy: () => void }> = []
  private readonly names = new Map<object, string>()
  private counter = 0

  constructor(private readonly url: string) {}

  /// Open a Yjs 13 provider of `version` on `room` (not connected yet if `connect` is false).
  yjs13(version: Yjs13Client, room: string, connect = true): ProviderLike<Y.Doc> {
    const provider = new YJS13_CLASSES[version](this.url, room, new Y.Doc(), { WebSocketPolyfill: WebSocket, disableBc: true, connect })
    this.track(provider, version)
    return provider
  }

  /// Open an @y/websocket (Yjs 14) provider on `room`.
  yjs14(room: string, connect = true): ProviderLike<Y14.Doc> {
    const ctor = ProviderY14 as unknown as ProviderClass<Y14.Doc>
    const provider = new ctor(this.url, room, new Y14.Doc(), { WebSocketPolyfill: WebSocket, disableBc: true, connect })
    this.track(provider, YJS14_CLIENT)
    return provider
  }

  private track(provider: ProviderLike<Y.Doc> | ProviderLike<Y14.Doc>, version: string): void {
    this.names.set(provider, `${version} #${++this.counter}`)
    let done = false
    this.opened.push({
      provider,
      destroy: () => {
        if (done) return
        done = true
        provider.destroy()
        provider.awareness.destroy()
        provider.doc.destroy()
      },
    })
  }

  /// The name failure messages use for `provider`: its package version and a number.
  nameOf(provider: object): string {
    return this.names.get(provider) ?? 'an unknown provider'
  }

  /// Destroy one provider (its awareness and document too), as a user closing the tab.
  destroy(provider: object): void {
    this.opened.find((o) => o.provider === provider)?.destroy()
  }

  /// Destroy every provider this kit opened.
  destroyAll(): void {
    for (const o of this.opened.splice(0)) o.destroy()
  }

  /// A Yjs 13 provider as a replica to compare.
  replica13(provider: ProviderLike<Y.Doc>): Replica {
    return { name: this.nameOf(provider), clientIds: () => [provider.doc.clientID], read: () => provider.doc, pending: () => pendingIn(provider.doc) }
  }

  /// A Yjs 14 provider as a replica: its whole state, encoded by Yjs 14 and decoded by Yjs 13
  /// (the same v1 update format both speak on the wire), so `describe` can picture it.
  replica14(provider: ProviderLike<Y14.Doc>): Replica {
    let decoded: Y.Doc | null = null
    return {
      name: this.nameOf(provider),
      clientIds: () => [provider.doc.clientID],
      read: () => {
        decoded?.destroy()
        decoded = new Y.Doc()
        Y.applyUpdate(decoded, Y14.encodeStateAsUpdate(provider.doc))
        return decoded
      },
      pending: () => {
        const { pendingStructs, pendingDs } = provider.doc.store
        if (pendingStructs === null && pendingDs === null) return null
        return `pending: ${pendingStructs ? `structs missing ${JSON.stringify([...pendingStructs.missing])}` : ''}${pendingDs ? ' deletions' : ''}`
      },
    }
  }
}

/// Which edit wrote each clock range of each client, so a failure can name the shape (and the
/// edit) of an update a replica never received, even after the server garbage-collected it.
export class EditLog {
  private readonly byClient = new Map<number, Array<{ from: number; to: number; what: string }>>()

  /// Record that `client` wrote clocks [from, to) in the edit `what` (e.g. "'xml' edit #41 (…)").
  add(client: number, from: number, to: number, what: string): void {
    if (to <= from) return
    let ranges = this.byClient.get(client)
    if (!ranges) this.byClient.set(client, (ranges = []))
    ranges.push({ from, to, what })
  }

  /// The edit that wrote `client`'s `clock`, if recorded.
  at(client: number, clock: number): string | undefined {
    return this.byClient.get(client)?.find((r) => r.from <= clock && clock < r.to)?.what
  }
}

/// The update events both Yjs lines emit (v1 encoding), typed once for either document.
interface UpdateSource {
  on(event: 'update', listener: (update: Uint8Array) => void): void
  off(event: 'update', listener: (update: Uint8Array) => void): void
}

/// What updates carry, e.g. "String, Format, deletions" (for failure messages).
function contentKinds(updates: Uint8Array[]): string {
  const kinds = new Set<string>()
  for (const u of updates) {
    try {
      const { structs, ds } = Y.decodeUpdate(u)
      for (const st of structs) if (st instanceof Y.Item) kinds.add(st.content.constructor.name.replace(/^Content/, ''))
      if (ds.clients.size > 0) kinds.add('deletions')
    } catch {
      kinds.add('(unreadable by Yjs 13)')
    }
  }
  return [...kinds].join(', ') || 'nothing'
}

/// Run `edit` on `doc` (Yjs 13 or 14) and log the clock range it wrote as `what`, with the
/// kinds of content its updates carried.
export function loggedEdit(log: EditLog, doc: Y.Doc | Y14.Doc, what: string, edit: () => void): void {
  const state = (): number => (doc instanceof Y.Doc ? Y.getState(doc.store, doc.clientID) : Y14.getState(doc.store, doc.clientID))
  const updates: Uint8Array[] = []
  const listener = (update: Uint8Array): void => {
    updates.push(update)
  }
  const source = doc as unknown as UpdateSource
  const from = state()
  source.on('update', listener)
  try {
    edit()
  } finally {
    source.off('update', listener)
  }
  log.add(doc.clientID, from, state(), `${what} (${contentKinds(updates)})`)
}

/// Poll until every replica holds what the server's document holds: the same content on every
/// shape (`describe`), the same items and deletions (`sameHistory`), nothing pending anywhere.
/// On timeout, fail saying which replica differs on which shapes, what it holds pending, and
/// for each update it misses who wrote it, in which edit of which shape, and what the server
/// holds there.
export async function converged(serverDoc: () => Y.Doc | undefined, replicas: Replica[], what: string, log = new EditLog(), timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const problems = divergence(serverDoc(), replicas, log)
    if (problems === null) return
    if (Date.now() > deadline) throw new Error(`${what}: no convergence after ${timeoutMs / 1000} s\n${problems}`)
    await sleep(20)
  }
}

const stateVector = (doc: Y.Doc): string => JSON.stringify([...Y.decodeStateVector(Y.encodeStateVector(doc))].sort((a, b) => a[0] - b[0]))

/// Why the replicas and the server's document differ, or null if they agree.
export function divergence(server: Y.Doc | undefined, replicas: Replica[], log = new EditLog()): string | null {
  if (server === undefined) return 'the server has no such room loaded'
  const lines: string[] = []
  const serverPending = pendingIn(server)
  if (serverPending !== null) lines.push(`the server's document holds ${serverPending}`)
  const authors = new Map<number, string>()
  for (const r of replicas) for (const id of r.clientIds()) authors.set(id, r.name)
  const culprits = new Set<string>()
  for (const r of replicas) {
    const doc = r.read()
    const pending = r.pending()
    const shapes = SHAPES.filter((s) => describe(doc, [s]) !== describe(server, [s]))
    if (shapes.length === 0 && pending === null && sameHistory(doc, server)) continue
    const parts = [`✗ ${r.name} (client ${r.clientIds().join(', ')})`]
    parts.push(shapes.length > 0 ? `content differs from the server's in ${shapes.join(', ')}` : 'same content as the server')
    const mine = stateVector(doc)
    const theirs = stateVector(server)
    if (mine !== theirs) parts.push(`items differ: state vector ${mine} vs the server's ${theirs}`)
    else if (!Y.equalSnapshots(Y.snapshot(doc), Y.snapshot(server))) parts.push('same items, different deletions')
    else if (shapes.length > 0) parts.push('yet the same items and deletions (one history, two contents: e.g. a split surrogate pair)')
    if (pending !== null) parts.push(`holds ${pending}`)
    lines.push(parts.join('; '))
    for (const [client, clock] of missingOf(pending)) {
      const edit = log.at(client, clock)
      if (edit !== undefined) culprits.add(edit.replace(/ #\d+.*$/, ''))
      lines.push(`    never got [${client}, ${clock}], written by ${authors.get(client) ?? 'another client'}${edit ? ` in its ${edit}` : ''}; ${atServer(server, client, clock)}`)
    }
  }
  if (lines.length === 0) return null
  if (culprits.size > 0) lines.unshift(`updates never delivered came from: ${[...culprits].join(', ')} (every later update of their writer then waits behind the gap, so all shapes differ)`)
  return lines.join('\n')
}

/// The `[client, clock]` pairs a pending report says are missing.
function missingOf(pending: string | null): Array<[number, number]> {
  const match = pending === null ? null : /structs missing (\[.*?\]\])/.exec(pending)
  return match ? (JSON.parse(match[1]) as Array<[number, number]>) : []
}

/// What the server holds at `[client, clock]`: under which root, in which type, what content.
function atServer(server: Y.Doc, client: number, clock: number): string {
  if (Y.getState(server.store, client) <= clock) return 'the server does not have it either'
  const struct = Y.getItem(server.store, Y.createID(client, clock)) as Y.Item | Y.GC
  if (!(struct instanceof Y.Item)) return 'the server has it (garbage-collected since)'
  const parent = struct.parent instanceof Y.AbstractType ? struct.parent : null
  let root: Y.AbstractType<unknown> | null = parent
  while (root?._item) root = root._item.parent instanceof Y.AbstractType ? root._item.parent : null
  let key = '?'
  try {
    if (root) key = Y.findRootTypeKey(root)
  } catch {} // not a root of this document (a subdocument's type)
  return `the server has it under root '${key}' (in a ${parent?.constructor.name ?? '?'}, ${struct.content.constructor.name}${struct.parentSub ? ` at key ${struct.parentSub}` : ''})`
}

const WORDS14 = ['a', 'b', 'xy', ' ', 'é', '中', '🙂', '\n']
const MARKS14 = ['bold', 'italic']

/// Code-unit offsets in a Yjs 14 text type that sit between code points (embeds count 1).
function boundaries(type: Y14.Type): number[] {
  const out = [0]
  let at = 0
  for (const op of type.toDelta().toJSON().children ?? []) {
    if (!('type' in op) || op.type !== 'insert') continue
    if (typeof op.insert === 'string') {
      for (const ch of op.insert) out.push((at += ch.length))
    } else if (Array.isArray(op.insert)) {
      for (let i = 0; i < op.insert.length; i++) out.push(++at)
    }
  }
  return out
}

/// Insert, delete or format text in a Yjs 14 text type, on code-point boundaries.
function editText14(type: Y14.Type, rng: Random, rich: boolean): void {
  const cuts = boundaries(type)
  const r = rng.next()
  if (cuts.length > 1 && r < 0.3) {
    const i = rng.int(0, cuts.length - 2)
    const j = Math.min(cuts.length - 1, i + rng.int(1, 4))
    type.delete(cuts[i], cuts[j] - cuts[i])
  } else if (rich && cuts.length > 1 && r < 0.5) {
    const i = rng.int(0, cuts.length - 2)
    const j = Math.min(cuts.length - 1, i + rng.int(1, 4))
    type.format(cuts[i], cuts[j] - cuts[i], { [rng.pick(MARKS14)]: rng.chance(0.2) ? null : true })
  } else {
    const word = rng.pick(WORDS14) + rng.pick(WORDS14)
    type.insert(rng.pick(cuts), word, rich && rng.chance(0.5) ? { [rng.pick(MARKS14)]: true } : undefined)
  }
}

/// Elements under a Yjs 14 XML type, and the text nodes a Yjs 13 client created in them.
function xmlNodes14(node: Y14.Type, elements: Y14.Type[] = [], texts: Y14.Type[] = []): { elements: Y14.Type[]; texts: Y14.Type[] } {
  for (const child of node.toArray()) {
    if (!(child instanceof Y14.Type)) continue
    if (child.name !== null) {
      elements.push(child)
      xmlNodes14(child, elements, texts)
    } else texts.push(child) // a nameless node inside an element: a Y.XmlText from Yjs 13
  }
  return { elements, texts }
}

/// One random edit of `shape` through the Yjs 14 API, in one transaction. It edits the same
/// roots as `randomEdit` (their kind is decided by each reader, so both lines read them alike)
/// and the text nodes Yjs 13 created inside XML; the only type it creates is an XML element,
/// since any other type a Yjs 14 client creates reaches Yjs 13 as an XML node (see the note
/// in clients.test.ts).
export function randomEdit14(doc: Y14.Doc, shape: Shape, rng: Random): void {
  doc.transact(() => {
    switch (shape) {
      case 'text': return editText14(doc.get('text'), rng, false)
      case 'rich': return editText14(doc.get('rich'), rng, true)
      case 'map':
      case 'nested': {
        // Plain values only: a map Yjs 14 would create here reaches Yjs 13 as an XML node.
        const map = doc.get(shape)
        const key = shape === 'map' ? `k${rng.int(0, 11)}` : `n${rng.int(0, 5)}`
        if (map.hasAttr(key) && rng.chance(0.3)) map.deleteAttr(key)
        else map.setAttr(key, rng.chance(0.5) ? rng.int(-99, 99) : { from: 'yjs14', n: rng.int(0, 9) })
        return
      }
      case 'array': {
        const array = doc.get('array')
        if (array.length > 0 && rng.chance(0.35)) array.delete(rng.int(0, array.length - 1), 1)
        else array.insert(rng.int(0, array.length), [rng.int(0, 99), `y14-${rng.int(0, 9)}`])
        return
      }
      case 'xml': {
        const root = doc.get('xml')
        const { elements, texts } = xmlNodes14(root)
        const r = rng.next()
        if (texts.length > 0 && r < 0.5) return editText14(rng.pick(texts), rng, true)
        if (elements.length > 0 && r < 0.7) {
          rng.pick(elements).setAttr('level', String(rng.int(1, 6)))
          return
        }
        const block = new Y14.Type('paragraph')
        root.insert(rng.int(0, root.length), [block])
        block.setAttr('level', String(rng.int(1, 3)))
        return
      }
    }
  })
}
