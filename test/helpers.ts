// Shared test helpers: a real server on 127.0.0.1 and real `ws` clients that hold a Yjs
// document and count every frame they receive by message type.
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import { createServer, type ConcordServer, type ServerOptions } from '../server/server.js'
import type { Storage } from '../server/storage/types.js'
import {
  decodeFrame, encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeUpdate, type Message,
} from '../server/protocol/messages.js'

/// The updates `doc` emits while `edit` runs.
export function updatesOf(doc: Y.Doc, edit: (doc: Y.Doc) => void): Uint8Array[] {
  const out: Uint8Array[] = []
  const listener = (u: Uint8Array): void => { out.push(u) }
  doc.on('update', listener)
  edit(doc)
  doc.off('update', listener)
  return out
}

/// Start a server on a free port of 127.0.0.1, silent unless told otherwise.
export async function startServer(options: ServerOptions = {}): Promise<ConcordServer> {
  const server = await createServer({ host: '127.0.0.1', port: 0, storage: 'memory', logLevel: 'silent', editor: false, ...options })
  await server.listen()
  return server
}

/// Poll until `check` returns true, or fail with `what` after `timeoutMs`.
export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/// A protocol client over a raw `ws` socket: syncs a Y.Doc, sends its edits, and records
/// what it receives, so tests can count echoes and inspect close codes.
export class TestClient {
  readonly doc = new Y.Doc()
  readonly awareness = new awarenessProtocol.Awareness(this.doc)
  readonly ws: WebSocket
  readonly received: Message[] = []
  /// Update payloads (sync update or step 2) received, for echo checks.
  readonly receivedUpdates: Uint8Array[] = []
  /// Updates this client sent, for echo checks.
  readonly sentUpdates: Uint8Array[] = []
  synced = false
  closeCode: number | null = null
  closeReason = ''
  opened: Promise<void>

  constructor(url: string, room: string, query = '') {
    this.ws = new WebSocket(`${url}/${encodeURIComponent(room)}${query}`)
    this.ws.binaryType = 'nodebuffer'
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
    this.ws.on('error', () => undefined)
    this.ws.on('message', (data: Buffer) => this.onMessage(new Uint8Array(data)))
    this.ws.on('close', (code, reason) => {
      this.closeCode = code
      this.closeReason = reason.toString()
    })
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === this) return
      this.sentUpdates.push(update)
      this.sendRaw(encodeUpdate(update))
    })
    this.awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      if (origin === this) return
      const changed = added.concat(updated, removed)
      this.sendRaw(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed)))
    })
  }

  private onMessage(frame: Uint8Array): void {
    for (const message of decodeFrame(frame)) {
      this.received.push(message)
      switch (message.type) {
        case 'syncStep1':
          this.sendRaw(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, message.stateVector)))
          break
        case 'syncStep2':
          this.receivedUpdates.push(message.update)
          Y.applyUpdate(this.doc, message.update, this)
          this.synced = true
          break
        case 'update':
          this.receivedUpdates.push(message.update)
          Y.applyUpdate(this.doc, message.update, this)
          break
        case 'awareness':
          awarenessProtocol.applyAwarenessUpdate(this.awareness, message.update, this)
          break
        default:
          break
      }
    }
  }

  /// Open, then ask the server for what we lack (sync step 1); resolves once synced.
  async connect(): Promise<this> {
    await this.opened
    this.sendRaw(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    await waitFor(() => this.synced, 'sync step 2')
    return this
  }

  sendRaw(frame: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame)
  }

  get text(): string {
    return this.doc.getText('t').toString()
  }

  /// Count received messages of a type.
  count(type: Message['type']): number {
    return this.received.filter((m) => m.type === type).length
  }

  /// Resolves with the close code once the socket closed.
  async closed(timeoutMs = 5000): Promise<number> {
    await waitFor(() => this.closeCode !== null, 'close', timeoutMs)
    return this.closeCode as number
  }

  destroy(): void {
    this.awareness.destroy()
    this.doc.destroy()
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate()
  }
}

/// The text ('t') of what a store holds for a room.
export async function storedText(store: Storage, room: string): Promise<string> {
  return textOf(await store.load(room))
}

/// The text ('t') of a document built from stored updates.
export function textOf(updates: Uint8Array[]): string {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  const text = doc.getText('t').toString()
  doc.destroy()
  return text
}
