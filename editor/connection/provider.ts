// Concord's client for the y-websocket wire protocol: keeps a Y.Doc and its Awareness in
// sync with one room over one WebSocket, reconnects by itself with exponential backoff and
// jitter, keeps every offline edit (the sync handshake on reconnect sends what the server
// lacks), and asks for write acknowledgements so it can tell when the server has stored
// this client's edits. Runs in browsers and in Node (pass `ws` as `WebSocket`).
import * as Y from 'yjs'
import {
  Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates,
} from 'y-protocols/awareness'
import {
  decodeFrame, encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeUpdate, type Message,
} from '../../server/protocol/messages.js'
import { isPermanentClose, retryDelay, roomUrl, type SocketConstructor, type SocketLike } from './socket.js'

/// Where the connection stands.
export type ConnectionStatus = 'connecting' | 'connected' | 'offline'

/// Everything a view shows about the provider, in one place.
export interface ProviderState {
  status: ConnectionStatus
  /// The document has received the server's state on the current connection.
  synced: boolean
  /// Every local edit has been acknowledged as stored by the server.
  saved: boolean
  /// Other clients present in the room (awareness states other than ours).
  peers: number
  /// Set when the server closed with a permanent code: the provider stopped retrying.
  stopped: { code: number; reason: string } | null
  /// The server refused our updates (read-only access), with its reason.
  denied: string | null
  /// Failed connection attempts since the last successful sync.
  attempt: number
  /// Delay before the next attempt, while one is scheduled.
  retryInMs: number | null
}

/// Options of `ConcordProvider`.
export interface ProviderOptions {
  /// Awareness to share; by default a new one over the document (destroyed with the provider).
  awareness?: Awareness
  /// WebSocket implementation; defaults to the global one.
  WebSocket?: SocketConstructor
  /// First retry delay; doubles with every failed attempt. Default 500 ms.
  minRetryMs?: number
  /// Largest retry delay. Default 10 s.
  maxRetryMs?: number
  /// Close and reconnect when nothing was heard for this long (the server sends a keepalive
  /// every 15 s). Default 30 s.
  silenceTimeoutMs?: number
  /// Extra query parameters (e.g. a token). `ack=1` is always added.
  params?: Record<string, string>
  /// Connect at once. Default true.
  connect?: boolean
  /// Subprotocols to offer: how a browser sends a token (it cannot set headers on a
  /// WebSocket; Concord answers with the offered token).
  protocols?: string[]
  /// Asked when a connection closed before it opened (a browser sees only 1006 for a refused
  /// upgrade, so the page asks the server why): resolve a reason to stop retrying (the state
  /// then shows `stopped` with code 1006 and that reason), or null to retry as usual.
  whenRefused?: () => Promise<string | null>
}

const OPEN = 1

/// Keeps a Y.Doc and an Awareness in sync with one room of a Concord (or y-websocket) server.
export class ConcordProvider {
  readonly awareness: Awareness
  private readonly ownsAwareness: boolean
  private readonly url: string
  private readonly Socket: SocketConstructor
  private readonly protocols: string[]
  private readonly whenRefused: (() => Promise<string | null>) | null
  /// Whether the current socket opened.
  private opened = false
  private readonly minRetryMs: number
  private readonly maxRetryMs: number
  private readonly silenceTimeoutMs: number
  private socket: SocketLike | null = null
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private silenceTimer: ReturnType<typeof setInterval> | null = null
  private lastHeardAt = 0
  /// Whether we want to be connected (false after `disconnect`, a permanent close or `destroy`).
  private wanted = false
  private destroyed = false
  /// The browser reported its network gone (an `offline` event, no `online` since).
  private networkLost = false
  /// Update messages (sync step 2 and updates) sent on the current connection: the server
  /// counts the same messages in its acknowledgements.
  private sent = 0
  private acked = 0
  /// Local edits exist that were not sent on an open connection (offline edits, or sent but
  /// unacknowledged when the connection dropped). Cleared by the next sync step 2 we send,
  /// which carries everything the server lacks.
  private dirty = false
  private readonly listeners = new Set<(state: ProviderState) => void>()
  private current: ProviderState = {
    status: 'offline', synced: false, saved: true, peers: 0, stopped: null, denied: null, attempt: 0, retryInMs: null,
  }

  constructor(serverUrl: string, readonly room: string, readonly doc: Y.Doc, options: ProviderOptions = {}) {
    this.url = roomUrl(serverUrl, room, options.params)
    this.ownsAwareness = !options.awareness
    this.awareness = options.awareness ?? new Awareness(doc)
    const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket
    if (!Socket) throw new Error('no WebSocket implementation: pass options.WebSocket')
    this.Socket = Socket
    this.protocols = options.protocols ?? []
    this.whenRefused = options.whenRefused ?? null
    this.minRetryMs = options.minRetryMs ?? 500
    this.maxRetryMs = options.maxRetryMs ?? 10_000
    this.silenceTimeoutMs = options.silenceTimeoutMs ?? 30_000
    doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
    this.awareness.on('change', this.onAwarenessChange)
    globalThis.addEventListener?.('online', this.onOnline)
    globalThis.addEventListener?.('offline', this.onOffline)
    if (options.connect !== false) this.connect()
  }

  /// The current state.
  get state(): ProviderState {
    return this.current
  }

  /// Call `listener` on every state change; returns a function that removes it.
  subscribe(listener: (state: ProviderState) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private set(patch: Partial<ProviderState>): void {
    const next = { ...this.current, ...patch }
    next.saved = !this.dirty && this.acked >= this.sent
    const changed = (Object.keys(next) as Array<keyof ProviderState>).some((k) => next[k] !== this.current[k])
    if (!changed) return
    this.current = next
    for (const listener of this.listeners) listener(next)
  }

  /// Connect (again), e.g. after `disconnect` or a permanent close.
  connect(): void {
    if (this.destroyed) return
    this.wanted = true
    this.set({ stopped: null })
    if (!this.socket) this.open()
  }

  /// Close the connection and stop retrying until `connect` is called.
  disconnect(): void {
    this.wanted = false
    this.clearRetry()
    this.socket?.close(1000, 'client disconnected')
    this.dropSocket()
  }

  /// Disconnect for good, tell peers we left, and release listeners and timers.
  destroy(): void {
    if (this.destroyed) return
    // Announce our departure while the socket is still open; the server also removes our
    // presence when the socket closes, so this only makes it faster.
    if (this.awareness.getLocalState() !== null) removeAwarenessStates(this.awareness, [this.doc.clientID], 'local')
    this.disconnect()
    this.destroyed = true
    this.doc.off('update', this.onDocUpdate)
    this.awareness.off('update', this.onAwarenessUpdate)
    this.awareness.off('change', this.onAwarenessChange)
    globalThis.removeEventListener?.('online', this.onOnline)
    globalThis.removeEventListener?.('offline', this.onOffline)
    this.listeners.clear()
    if (this.ownsAwareness) this.awareness.destroy()
  }

  private open(): void {
    this.clearRetry()
    const socket = this.protocols.length > 0 ? new this.Socket(this.url, this.protocols) : new this.Socket(this.url)
    this.opened = false
    socket.binaryType = 'arraybuffer'
    this.socket = socket
    this.sent = 0
    this.acked = 0
    this.set({ status: 'connecting', synced: false, retryInMs: null })
    socket.onopen = () => this.onOpen(socket)
    socket.onmessage = ((event: { data: unknown }) => this.onMessage(socket, event.data)) as (event: never) => void
    socket.onclose = ((event: { code: number; reason: string }) => this.onClose(socket, event.code, event.reason)) as (event: never) => void
    // An error is always followed by a close event, which does the work.
    socket.onerror = () => undefined
  }

  private onOpen(socket: SocketLike): void {
    if (socket !== this.socket) return
    this.opened = true
    this.lastHeardAt = Date.now()
    this.silenceTimer = setInterval(() => {
      if (Date.now() - this.lastHeardAt > this.silenceTimeoutMs) this.abandon(socket, 4000, 'server silent')
    }, Math.min(this.silenceTimeoutMs, 5000))
    this.set({ status: 'connected' })
    this.send(encodeSyncStep1(Y.encodeStateVector(this.doc)))
    if (this.awareness.getLocalState() !== null) {
      // Peers remember our last clock plus one (the removal they saw when we dropped), and
      // ignore states that are not newer: skip past it so they see us again at once.
      const meta = this.awareness.meta.get(this.doc.clientID)
      if (meta) meta.clock++
      this.awareness.setLocalState(this.awareness.getLocalState())
    }
  }

  private onMessage(socket: SocketLike, data: unknown): void {
    if (socket !== this.socket) return
    this.lastHeardAt = Date.now()
    let messages: Message[]
    try {
      messages = decodeFrame(new Uint8Array(data as ArrayBuffer))
    } catch (error) {
      // The server does not speak the protocol we expect: reconnecting will not help.
      console.warn('concord: malformed frame from server', error)
      this.abandon(socket, 4400, 'malformed frame from server')
      return
    }
    for (const message of messages) this.handle(message)
  }

  private handle(message: Message): void {
    switch (message.type) {
      case 'syncStep1':
        this.send(encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, message.stateVector)), true)
        // That reply carries every local edit the server lacks, offline ones included.
        this.dirty = false
        this.set({})
        return
      case 'syncStep2':
        Y.applyUpdate(this.doc, message.update, this)
        this.set({ synced: true, attempt: 0 })
        return
      case 'update':
        Y.applyUpdate(this.doc, message.update, this)
        return
      case 'awareness':
        applyAwarenessUpdate(this.awareness, message.update, this)
        return
      case 'queryAwareness':
        this.send(encodeAwareness(encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()])))
        return
      case 'auth':
        this.set({ denied: message.reason })
        return
      case 'ack':
        this.acked = Math.max(this.acked, message.count)
        this.set({})
        return
    }
  }

  private onClose(socket: SocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return
    const opened = this.opened
    this.dropSocket()
    if (!this.wanted) return
    if (isPermanentClose(code)) {
      this.wanted = false
      this.set({ stopped: { code, reason } })
      return
    }
    if (!opened && this.whenRefused) {
      // Nothing is scheduled until the answer: `connect`, `disconnect` meanwhile win.
      const ask = this.whenRefused
      void ask().catch(() => null).then((stop) => {
        if (!this.wanted || this.socket || this.retryTimer) return
        if (stop !== null) {
          this.wanted = false
          this.set({ stopped: { code: 1006, reason: stop } })
        } else this.scheduleRetry()
      })
      return
    }
    this.scheduleRetry()
  }

  private scheduleRetry(): void {
    // No network: the browser's `online` event reconnects; retrying now would only fail.
    if (this.networkLost) {
      this.set({ retryInMs: null })
      return
    }
    const attempt = this.current.attempt
    const delay = retryDelay(attempt, this.minRetryMs, this.maxRetryMs)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      if (this.wanted && !this.socket) this.open()
    }, delay)
    this.set({ attempt: attempt + 1, retryInMs: delay })
  }

  /// Give up on a socket at once: a dead network may never complete the closing handshake.
  private abandon(socket: SocketLike, code: number, reason: string): void {
    socket.close(code, reason)
    this.onClose(socket, code, reason)
  }

  /// Forget the socket: edits not acknowledged on it may not be stored, so they count as
  /// unsaved until the next connection's sync sends them again; remote presence is dropped.
  private dropSocket(): void {
    const socket = this.socket
    if (!socket) return
    this.socket = null
    socket.onopen = socket.onmessage = socket.onclose = null
    if (this.silenceTimer) clearInterval(this.silenceTimer)
    this.silenceTimer = null
    if (this.acked < this.sent) this.dirty = true
    this.sent = 0
    this.acked = 0
    const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.doc.clientID)
    if (others.length) removeAwarenessStates(this.awareness, others, this)
    this.set({ status: 'offline', synced: false })
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
    if (this.current.retryInMs !== null) this.set({ retryInMs: null })
  }

  /// Send one message if the socket is open; `isUpdate` counts it for acknowledgements.
  private send(message: Uint8Array, isUpdate = false): boolean {
    const socket = this.socket
    if (!socket || socket.readyState !== OPEN) return false
    socket.send(message)
    if (isUpdate) this.sent++
    return true
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this) return
    if (!this.send(encodeUpdate(update), true)) this.dirty = true
    this.set({})
  }

  // Only our own state goes out: other clients' states reach the server from them, and
  // relaying timeouts we observed could remove a peer that is merely quiet.
  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    if (origin === this) return
    const id = this.doc.clientID
    if (added.includes(id) || updated.includes(id) || removed.includes(id)) {
      this.send(encodeAwareness(encodeAwarenessUpdate(this.awareness, [id])))
    }
  }

  private readonly onAwarenessChange = (): void => {
    let peers = 0
    for (const id of this.awareness.getStates().keys()) if (id !== this.doc.clientID) peers++
    this.set({ peers })
  }

  // The browser says the network is back: retry now rather than at the end of the backoff.
  private readonly onOnline = (): void => {
    this.networkLost = false
    if (this.wanted && !this.socket) this.open()
  }

  // The browser says the network is gone: say so at once. A socket can stay "open" for a
  // while with nothing getting through (until the silence timeout), so drop it now.
  private readonly onOffline = (): void => {
    this.networkLost = true
    if (this.socket) this.abandon(this.socket, 4000, 'network lost')
  }
}
