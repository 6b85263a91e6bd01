// A plain Yjs client over a raw socket for differential tests: what it sends is exactly what
// its document emits, what it receives goes through plain `Y.applyUpdate`, and it can go
// offline and send its backlog later in any order (as a client on a flaky network, or one that
// stored its edits and replays them, does).
import WebSocket from 'ws'
import * as Y from 'yjs'
import { decodeFrame, encodeSyncStep1, encodeSyncStep2, encodeUpdate } from '../server/protocol/messages.js'
import { SHAPES, rootOf } from '../server/cli/converge/shapes.js'

/// Origin of what a peer received, so that it is not sent back.
const REMOTE = Symbol('remote')

/// A Yjs document synced with a room through one socket at a time.
export class YjsPeer {
  readonly doc = new Y.Doc()
  /// Undo of this peer's own edits over every root.
  readonly undo: Y.UndoManager
  /// Every update this peer's document emitted (edits, undos, formatting cleanups), in order.
  readonly produced: Uint8Array[] = []
  /// Every update received from the server, in order.
  readonly received: Uint8Array[] = []
  /// Updates made while offline, sent on the next connect.
  private backlog: Uint8Array[] = []
  private ws: WebSocket | null = null
  /// Close codes of connections the server closed.
  readonly closeCodes: number[] = []
  /// Errors applying what the server sent (none expected).
  readonly errors: unknown[] = []
  online = false

  constructor(private url: string, readonly room: string, private readonly order: (updates: Uint8Array[]) => Uint8Array[] = (u) => u) {
    this.undo = new Y.UndoManager(SHAPES.map((s) => rootOf(this.doc, s)), { captureTimeout: 0 })
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE) return
      this.produced.push(update)
      if (this.online && this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeUpdate(update))
      else this.backlog.push(update)
    })
  }

  /// Connect (again): send the backlog in this peer's order, then sync as y-websocket does.
  connect(url = this.url): Promise<void> {
    this.url = url
    const ws = new WebSocket(`${url}/${encodeURIComponent(this.room)}`)
    this.ws = ws
    ws.binaryType = 'nodebuffer'
    ws.on('error', () => undefined)
    ws.on('message', (data: Buffer) => this.receive(ws, new Uint8Array(data)))
    ws.on('close', (code) => {
      if (this.ws !== ws) return
      this.online = false
      if (code !== 1000 && code !== 1005) this.closeCodes.push(code)
    })
    return new Promise((resolve) => {
      ws.once('open', () => {
        this.online = true
        const backlog = this.order(this.backlog)
        this.backlog = []
        for (const update of backlog) ws.send(encodeUpdate(update))
        ws.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
        resolve()
      })
      ws.once('close', () => resolve())
    })
  }

  /// Drop the connection; edits made meanwhile wait in the backlog.
  disconnect(): void {
    const ws = this.ws
    this.ws = null
    this.online = false
    ws?.close()
  }

  private receive(ws: WebSocket, frame: Uint8Array): void {
    try {
      for (const m of decodeFrame(frame)) {
        if (m.type === 'syncStep1') ws.send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, m.stateVector)))
        else if (m.type === 'syncStep2' || m.type === 'update') {
          this.received.push(m.update)
          Y.applyUpdate(this.doc, m.update, REMOTE)
        }
      }
    } catch (error) {
      this.errors.push(error)
    }
  }

  /// Close for good.
  destroy(): void {
    this.disconnect()
    this.undo.destroy()
    this.doc.destroy()
  }
}

/// A document holding `updates` applied in order by plain Yjs, as a pure merge: in a local
/// transaction, so that this reading makes no formatting cleanup of its own (Yjs cleans up
/// after remote transactions only), which would change what is compared.
export function docOf(updates: readonly Uint8Array[]): Y.Doc {
  const doc = new Y.Doc()
  Y.transact(doc, () => {
    for (const u of updates) Y.applyUpdate(doc, u)
  })
  return doc
}

/// Delete in `doc` the formatting marks that `update` deletes, in a local transaction (no
/// cleanup of `doc`'s own); returns how many. That is what Yjs' cleanup after remote edits of
/// formatted text produces, in the server's document as in every client's. It reaches a peer
/// on its own, or inside a sync reply with whatever else the peer missed (after a reconnect,
/// or when the server was killed before relaying it): only its formatting deletions count.
export function removeFormattingAsIn(doc: Y.Doc, update: Uint8Array): number {
  const { ds } = Y.decodeUpdate(update)
  const marks: Y.Item[] = []
  for (const [client, ranges] of ds.clients) {
    const items = doc.store.clients.get(client)
    if (!items) continue
    for (const { clock, len } of ranges) {
      const last = items[items.length - 1]
      if (clock >= last.id.clock + last.length) continue
      for (let i = Y.findIndexSS(items, clock); i < items.length && items[i].id.clock < clock + len; i++) {
        const s = items[i]
        if (s instanceof Y.Item && !s.deleted && s.content instanceof Y.ContentFormat) marks.push(s)
      }
    }
  }
  if (marks.length) Y.transact(doc, (tr) => { for (const mark of marks) mark.delete(tr) })
  return marks.length
}

/// Fetch the server's whole document over its HTTP API.
export async function serverDoc(httpUrl: string, room: string): Promise<Y.Doc> {
  const res = await fetch(`${httpUrl}/api/rooms/${encodeURIComponent(room)}/update`)
  if (!res.ok) throw new Error(`GET update: ${res.status}`)
  return docOf([new Uint8Array(await res.arrayBuffer())])
}
