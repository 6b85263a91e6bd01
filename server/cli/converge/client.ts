// A simulated client: a Y.Doc, a y-protocols Awareness and one WebSocket speaking the
// y-websocket protocol, like a browser tab running y-websocket. It keeps its document
// across reconnects and edits while offline; what it typed is sent by the sync exchange
// when it comes back. It records every update it authored (the checker's ground truth).
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import {
  decodeFrame, encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeUpdate, type Message,
} from '../../protocol/messages.js'
import { createRandom, type Random } from './random.js'
import type { Edit } from './script.js'
import { randomEdit, rootOf, type Root, type Shape } from './shapes.js'

/// Origin of changes that arrived from the network (everything else is local).
const REMOTE = Symbol('remote')

/// Name of the shared text every client edits (the editor's, so a run can be watched in
/// it), and of the journal array.
export const TEXT = 'codemirror'
export const JOURNAL = 'converge-journal'

/// The roots a client edits for `shapes`: the 'text' shape is typed into `TEXT`, the
/// editor's text, and the others live where `rootOf` puts them.
export function editedRoots(doc: Y.Doc, shapes: readonly Shape[]): Root[] {
  return shapes.map((shape) => (shape === 'text' ? doc.getText(TEXT) : rootOf(doc, shape)))
}

/// A received update that carried this client's own probe edit back to it.
export interface Echo {
  client: string
  /// Bytes of the received update.
  bytes: number
}

/// How a simulated client is set up.
export interface ClientOptions {
  name: string
  room: string
  /// Full WebSocket URL of the room (through the proxy or direct).
  url: string
  clientID: number
  rng: Random
  /// The shapes this client edits (and its UndoManager covers).
  shapes: readonly Shape[]
}

/// Counters shown in the progress line and the report.
export interface ClientStats {
  edits: number
  undos: number
  connects: number
  /// Closes the client did not ask for (resets, server restarts, server closes).
  drops: number
  /// Connection attempts that never opened (server down, refused upgrade).
  failedAttempts: number
  framesIn: number
  framesOut: number
  updatesIn: number
  /// Frames that could not be decoded (a server bug, or a protocol extension).
  badFrames: number
  /// Close codes of opened connections that closed on their own, for the report.
  closeCodes: Record<string, number>
  /// Permission-denied reasons received (y-protocols auth message).
  denied: string[]
}

/// One simulated client.
export class SimClient {
  readonly doc: Y.Doc
  readonly text: Y.Text
  readonly journal: Y.Array<string>
  readonly awareness: awarenessProtocol.Awareness
  readonly undo: Y.UndoManager
  /// Every update this client authored, in order: the ground truth of what it typed.
  readonly authored: Uint8Array[] = []
  /// Journal entries this client pushed; each must be in every replica exactly once.
  readonly journaled: string[] = []
  readonly stats: ClientStats = {
    edits: 0, undos: 0, connects: 0, drops: 0, failedAttempts: 0, framesIn: 0, framesOut: 0, updatesIn: 0, badFrames: 0,
    closeCodes: {}, denied: [],
  }
  /// Echoes of the probe edit (see `probe`).
  readonly echoes: Echo[] = []
  /// Time of the last sync frame sent or received, to detect quiescence.
  lastSyncActivity = Date.now()
  synced = false
  /// The last connection error (e.g. "Unexpected server response: 401"), for the report.
  lastError: string | null = null
  private ws: WebSocket | null = null
  /// Whether the client wants to be connected (false while "offline" or stopped).
  private online = false
  private stopped = false
  private retry = 0
  private retryTimer: NodeJS.Timeout | null = null
  private seq = 0
  private probeRange: { from: number; to: number } | null = null

  constructor(readonly options: ClientOptions) {
    this.doc = new Y.Doc()
    this.doc.clientID = options.clientID
    this.text = this.doc.getText(TEXT)
    this.journal = this.doc.getArray<string>(JOURNAL)
    this.awareness = new awarenessProtocol.Awareness(this.doc)
    // Undo covers every edited root but not the journal, which must keep every entry.
    this.undo = new Y.UndoManager(editedRoots(this.doc, options.shapes), { captureTimeout: 300 })
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE) return
      this.authored.push(update)
      this.send(encodeUpdate(update), true)
    })
    this.awareness.on('update', ({ added, updated, removed }: AwarenessChange, origin: unknown) => {
      if (origin !== 'local') return
      const changed = added.concat(updated, removed)
      this.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed)), false)
    })
    this.awareness.setLocalState({ user: { name: options.name }, cursor: null })
  }

  get name(): string { return this.options.name }

  /// Whether the socket is open.
  get connected(): boolean { return this.ws?.readyState === WebSocket.OPEN }

  /// Whether the client wants to be online.
  get wantsOnline(): boolean { return this.online }

  /// Go online (connect, and reconnect after every drop until `goOffline`).
  goOnline(): void {
    if (this.stopped || this.online) return
    this.online = true
    this.retry = 0
    this.open()
  }

  /// Go offline on purpose: close the socket and keep editing locally.
  goOffline(): void {
    this.online = false
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
    const ws = this.ws
    this.ws = null
    this.lostConnection()
    if (ws && ws.readyState !== WebSocket.CLOSED) ws.close(1000, 'going offline')
  }

  private open(): void {
    if (this.stopped || !this.online) return
    const ws = new WebSocket(this.options.url, { perMessageDeflate: false, handshakeTimeout: 5000 })
    ws.binaryType = 'nodebuffer'
    this.ws = ws
    ws.on('open', () => {
      if (this.ws !== ws) return
      this.stats.connects++
      this.retry = 0
      this.send(encodeSyncStep1(Y.encodeStateVector(this.doc)), true)
      if (this.awareness.getLocalState() !== null) {
        this.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID])), false)
      }
    })
    ws.on('message', (data: Buffer) => {
      if (this.ws === ws) this.receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    })
    ws.on('error', (error) => { this.lastError = error.message }) // 'close' follows and retries
    let opened = false
    ws.once('open', () => { opened = true })
    ws.on('close', (code: number) => {
      if (this.ws !== ws) return
      this.ws = null
      if (opened) {
        this.stats.drops++
        this.stats.closeCodes[code] = (this.stats.closeCodes[code] ?? 0) + 1
      } else {
        this.stats.failedAttempts++
      }
      this.lostConnection()
      this.scheduleRetry()
    })
  }

  // Like y-websocket: a closed connection forgets the peers' awareness and its sync state.
  private lostConnection(): void {
    this.synced = false
    const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.doc.clientID)
    awarenessProtocol.removeAwarenessStates(this.awareness, others, REMOTE)
  }

  private scheduleRetry(): void {
    if (this.stopped || !this.online) return
    // Exponential backoff with seeded jitter, capped low: faults are frequent in a run.
    const base = Math.min(2000, 50 * 2 ** this.retry++)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.open()
    }, base * (0.5 + this.options.rng.next()))
  }

  private send(frame: Uint8Array, sync: boolean): void {
    const ws = this.ws
    if (!ws || ws.readyState !== WebSocket.OPEN) return
    ws.send(frame)
    this.stats.framesOut++
    if (sync) this.lastSyncActivity = Date.now()
  }

  private receive(frame: Uint8Array): void {
    this.stats.framesIn++
    let messages: Message[]
    try {
      messages = decodeFrame(frame)
    } catch {
      this.stats.badFrames++
      return
    }
    for (const message of messages) this.handle(message)
  }

  private handle(message: Message): void {
    switch (message.type) {
      case 'syncStep1':
        this.lastSyncActivity = Date.now()
        this.send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, message.stateVector)), true)
        return
      case 'syncStep2':
        this.lastSyncActivity = Date.now()
        Y.applyUpdate(this.doc, message.update, REMOTE)
        this.synced = true
        return
      case 'update':
        this.lastSyncActivity = Date.now()
        this.stats.updatesIn++
        if (this.probeRange) this.checkEcho(message.update)
        Y.applyUpdate(this.doc, message.update, REMOTE)
        return
      case 'awareness':
        awarenessProtocol.applyAwarenessUpdate(this.awareness, message.update, REMOTE)
        return
      case 'queryAwareness':
        this.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()])), false)
        return
      case 'auth':
        this.stats.denied.push(message.reason)
        return
      case 'ack':
        return
    }
  }

  // An update carrying any part of this client's probe edit is its own edit coming back.
  private checkEcho(update: Uint8Array): void {
    const range = this.probeRange
    if (!range) return
    let decoded: ReturnType<typeof Y.decodeUpdate>
    try {
      decoded = Y.decodeUpdate(update)
    } catch {
      return // applyUpdate reports invalid updates
    }
    const mine = decoded.structs.some((s) =>
      !(s instanceof Y.Skip) && s.id.client === this.doc.clientID &&
      s.id.clock < range.to && s.id.clock + s.length > range.from)
    if (mine) this.echoes.push({ client: this.name, bytes: update.length })
  }

  /// Apply one scripted action.
  apply(edit: Edit): void {
    switch (edit.kind) {
      case 'insert':
        this.transactJournaled(() => this.text.insert(edit.index, edit.text))
        return
      case 'delete':
        this.transactJournaled(() => this.text.delete(edit.index, edit.length))
        return
      case 'undo':
        if (this.undo.undo()) this.stats.undos++
        return
      case 'redo':
        if (this.undo.redo()) this.stats.undos++
        return
      case 'awareness':
        this.awareness.setLocalStateField('cursor', { index: edit.cursor, seq: this.seq })
        return
      case 'shape':
        this.transactJournaled(() => randomEdit(this.doc, edit.shape, createRandom(edit.seed)))
        return
    }
  }

  // One transaction holds the edit and its journal entry, so one update carries both.
  private transactJournaled(edit: () => void): void {
    const entry = `${this.name}:${this.seq++}`
    this.doc.transact(() => {
      edit()
      this.journal.push([entry])
    })
    this.journaled.push(entry)
    this.stats.edits++
  }

  /// The echo probe: append a marker and watch, from now on, for any received update that
  /// carries it. Call only in a quiet window (no faults, nobody else typing but probes).
  /// Without the 'text' shape the journal entry alone is the marker: a run touches only
  /// the roots it was asked to.
  probe(): void {
    const from = Y.getState(this.doc.store, this.doc.clientID)
    this.probeRange = { from, to: Infinity }
    const typed = this.options.shapes.includes('text')
    this.transactJournaled(() => { if (typed) this.text.insert(this.text.length, `⟦probe ${this.name}⟧`) })
    this.probeRange = { from, to: Y.getState(this.doc.store, this.doc.clientID) }
  }

  /// Stop watching for echoes.
  endProbe(): void {
    this.probeRange = null
  }

  /// Disconnect for good and free the document and awareness timer.
  stop(): void {
    this.stopped = true
    this.online = false
    if (this.retryTimer) clearTimeout(this.retryTimer)
    const ws = this.ws
    this.ws = null
    if (ws) ws.terminate()
    this.undo.destroy()
    this.awareness.destroy()
    this.doc.destroy()
  }
}

interface AwarenessChange {
  added: number[]
  updated: number[]
  removed: number[]
}
