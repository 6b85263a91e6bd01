// A protocol client that asks for write acknowledgements, remembers which of its updates the
// server said are stored, and reconnects after the server goes away, re-syncing what the
// server lacks (what y-websocket's provider does). Used by the ack, restart and crash tests.
import WebSocket from 'ws'
import * as Y from 'yjs'
import {
  decodeFrame, encodeSyncStep1, encodeSyncStep2, encodeUpdate,
} from '../server/protocol/messages.js'

/// A client of one room that types into `doc.getText('t')`.
export class AckClient {
  readonly doc = new Y.Doc()
  /// Updates the server acknowledged as stored, over every connection.
  readonly acked: Uint8Array[] = []
  /// Ack counts received, in order, over every connection (reset per connection).
  readonly ackCounts: number[] = []
  /// Close codes of every connection that ended.
  readonly closeCodes: number[] = []
  connections = 0
  ws: WebSocket | null = null
  synced = false
  private sent: Uint8Array[] = []
  private ackedOnThis = 0
  private stopped = false

  constructor(private url: string, readonly room: string, readonly reconnect = true, private query = '?ack=1') {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== this) this.sendUpdate(encodeUpdate(update), update)
    })
    this.open()
  }

  private open(): void {
    const ws = new WebSocket(`${this.url}/${encodeURIComponent(this.room)}${this.query}`)
    this.ws = ws
    this.sent = []
    this.ackedOnThis = 0
    this.synced = false
    ws.binaryType = 'nodebuffer'
    ws.on('error', () => undefined)
    ws.on('open', () => {
      this.connections++
      ws.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    })
    ws.on('message', (data: Buffer) => this.onMessage(ws, new Uint8Array(data)))
    ws.on('close', (code) => {
      if (ws.readyState !== WebSocket.CLOSED) return
      if (this.ws === ws) this.ws = null
      if (this.connections > 0) this.closeCodes.push(code)
      if (this.reconnect && !this.stopped) setTimeout(() => this.stopped || this.open(), 50)
    })
  }

  /// Point future reconnections elsewhere.
  retarget(url: string): void {
    this.url = url
  }

  private sendUpdate(frame: Uint8Array, update: Uint8Array): void {
    const ws = this.ws
    if (!ws || ws.readyState !== WebSocket.OPEN) return // offline: re-sent by the next sync
    this.sent.push(update)
    ws.send(frame)
  }

  private onMessage(ws: WebSocket, frame: Uint8Array): void {
    if (ws !== this.ws) return
    for (const m of decodeFrame(frame)) {
      if (m.type === 'syncStep1') {
        const diff = Y.encodeStateAsUpdate(this.doc, m.stateVector)
        this.sendUpdate(encodeSyncStep2(diff), diff)
      } else if (m.type === 'syncStep2' || m.type === 'update') {
        Y.applyUpdate(this.doc, m.update, this)
        if (m.type === 'syncStep2') this.synced = true
      } else if (m.type === 'ack') {
        this.ackCounts.push(m.count)
        for (let i = this.ackedOnThis; i < m.count; i++) this.acked.push(this.sent[i])
        this.ackedOnThis = Math.max(this.ackedOnThis, m.count)
      }
    }
  }

  /// Whether every update sent on this connection is acknowledged.
  get allAcked(): boolean {
    return this.ws !== null && this.synced && this.ackedOnThis === this.sent.length
  }

  get text(): string {
    return this.doc.getText('t').toString()
  }

  type(s: string): void {
    const t = this.doc.getText('t')
    t.insert(t.length, s)
  }

  destroy(): void {
    this.stopped = true
    this.ws?.terminate()
    this.doc.destroy()
  }
}

/// Acknowledged updates missing from a stored document: the stored document must have
/// every struct of each (its state vector reaches the update's end clocks).
export function missingFrom(stored: Uint8Array[], acked: Uint8Array[]): Uint8Array[] {
  const doc = new Y.Doc()
  for (const u of stored) Y.applyUpdate(doc, u)
  const have = Y.decodeStateVector(Y.encodeStateVector(doc))
  doc.destroy()
  return acked.filter((u) => {
    const { to } = Y.parseUpdateMeta(u)
    for (const [client, clock] of to) if ((have.get(client) ?? 0) < clock) return true
    return false
  })
}
