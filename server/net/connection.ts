// One client connection: its id and access, a queue for frames that arrive before its room
// is loaded or while the client is over its message rate, sending with a bound on buffered
// bytes, and the mapping of errors to close codes.
import type { WebSocket } from 'ws'
import { CloseCode } from '../protocol/closeCodes.js'
import { feedDirectly, incompleteBytes } from './directFeed.js'
import { backlog, frameInto, smallFrameOf, writeFrames } from './frames.js'
import { TokenBucket, type IncompleteBudget } from './limits.js'
import type { Traffic } from '../ops/metrics.js'
import { DeletedDocumentError, OverLimitError, ProtocolError, decodeFrame, withoutAwareness, type Message } from '../protocol/messages.js'
import type { Peer, Room } from '../room/room.js'

/// Per-connection limits.
export interface ConnectionLimits {
  /// Close a connection whose unsent bytes exceed this (slow consumer).
  maxBufferedBytes: number
  /// Bytes a connection may send before its room has loaded, or while it is throttled.
  maxQueuedBytes: number
  /// Sustained messages per second (0: no limit) and the burst above it.
  messagesPerSecond: number
  messageBurst: number
  /// Whether read-only connections may share awareness (cursors, names).
  readOnlyAwareness: boolean
  /// Awareness client ids one connection may hold in its room.
  maxAwarenessClients: number
  /// A message must arrive whole within this long of its first byte.
  messageTimeoutMs: number
  /// Bytes held in unfinished messages over every connection, and their bound.
  incomplete: IncompleteBudget
}


/// Facts about a connection fixed at the upgrade.
export interface ConnectionInfo {
  id: string
  room: string
  readOnly: boolean
  wantsAck: boolean
  user: string | null
  ip: string
  /// Epoch milliseconds when its token expires: the connection is closed with 4401 then.
  expiresAt?: number | null
}

// A sync step 1 makes the server encode a diff of the whole document: it costs more.
const SYNC_STEP1_COST = 10
// setTimeout's longest delay; later expiries are not timed (the token outlives the process).
const MAX_TIMER_MS = 2 ** 31 - 1

/// What messages cost in rate-limit tokens.
function cost(messages: readonly Message[]): number {
  let total = 0
  for (const m of messages) total += m.type === 'syncStep1' ? SYNC_STEP1_COST : 1
  return total
}

const encoder = new TextEncoder()

/// Close reasons are limited to 123 bytes by RFC 6455.
function clampReason(reason: string): string {
  if (encoder.encode(reason).length <= 123) return reason
  let out = reason.slice(0, 120)
  while (encoder.encode(out + '…').length > 123) out = out.slice(0, -1)
  return out + '…'
}

// Connections with frames waiting: written once the current callback (a received message, a
// room's flush) is done, so a socket gets one write for all it was sent in it.
let outbox: Connection[] = []
let outboxScheduled = false

function writeOutbox(): void {
  outboxScheduled = false
  while (outbox.length > 0) {
    const batch = outbox
    outbox = []
    for (const conn of batch) conn.writePending()
  }
}

const OWNER = Symbol('concord.connection')
type OwnedSocket = WebSocket & { [OWNER]?: Connection }

/// A live client connection.
export class Connection implements Peer {
  readonly id: string
  readonly user: string | null
  readonly readOnly: boolean
  readonly wantsAck: boolean
  readonly awarenessIds = new Set<number>()
  get maxAwarenessIds(): number {
    return this.limits.maxAwarenessClients
  }
  readonly openedAt = Date.now()
  /// Time of the last frame sent, for the keepalive, to the heartbeat's precision: `send`
  /// only raises `sentSinceTick` (no clock read per frame) and the heartbeat moves this on.
  lastSentAt = Date.now()
  sentSinceTick = false
  /// Cleared on each ping, set by the pong: false at the next ping means a dead peer.
  alive = true
  bytesIn = 0
  bytesOut = 0
  closeCode: number | null = null
  private room: Room | null = null
  /// Frames waiting for the room to load or for the rate limit; handled in order.
  private queue: Uint8Array[] = []
  private queuedBytes = 0
  /// Frames sent in the current callback and not yet written: the first small one alone (no
  /// array for the usual single frame), then all of them in `pending`.
  private pendingOne: Uint8Array | null = null
  private pending: Uint8Array[] | null = null
  private pendingBytes = 0
  /// The message-rate bucket; null without a rate limit (nothing to count, no clock to read).
  private readonly bucket: TokenBucket | null
  /// Set while the client is over its rate: the socket is paused until it fires.
  private throttle: NodeJS.Timeout | null = null
  private expiry: NodeJS.Timeout | null = null
  /// Bytes of an unfinished message held for this connection (counted in the budget), and
  /// since when (0: none).
  private incomplete = 0
  private incompleteSince = 0

  constructor(
    readonly ws: WebSocket,
    readonly info: ConnectionInfo,
    private readonly limits: ConnectionLimits,
    /// Frame counters for metrics, shared by the server's connections.
    private readonly traffic?: Traffic,
  ) {
    this.id = info.id
    this.user = info.user
    this.readOnly = info.readOnly
    this.wantsAck = info.wantsAck
    this.bucket = limits.messagesPerSecond > 0 ? new TokenBucket(limits.messagesPerSecond, limits.messageBurst) : null
    const expiresIn = info.expiresAt == null ? null : info.expiresAt - Date.now()
    if (expiresIn !== null && expiresIn < MAX_TIMER_MS) {
      this.expiry = setTimeout(() => this.close(CloseCode.Unauthorized, 'token expired'), Math.max(0, expiresIn))
      this.expiry.unref()
    }
    // Listeners shared by every connection (no closures per connection: idle memory).
    ;(ws as OwnedSocket)[OWNER] = this
    ws.on('message', Connection.onSocketMessage)
    ws.on('pong', Connection.onSocketPong)
    feedDirectly(ws, Connection.onSocketChunk)
  }

  private static onSocketChunk(ws: WebSocket): void {
    Connection.of(ws).measureIncomplete()
  }

  /// Count what ws holds of an unfinished message against the server's budget; the
  /// connection that would pass it is dropped.
  private measureIncomplete(): void {
    const held = this.closeCode === null ? incompleteBytes(this.ws) : 0
    const budget = this.limits.incomplete
    budget.held += held - this.incomplete
    this.incomplete = held
    if (held === 0) this.incompleteSince = 0
    else if (this.incompleteSince === 0) this.incompleteSince = Date.now()
    if (held > 0 && budget.held > budget.limit) {
      this.drop(CloseCode.TryAgainLater, 'server busy: too many bytes held in unfinished messages')
    }
  }

  /// Drop a connection still sending a message begun more than `messageTimeoutMs` ago
  /// (called by the heartbeat).
  checkIncomplete(now: number): void {
    if (this.incompleteSince !== 0 && now - this.incompleteSince > this.limits.messageTimeoutMs) {
      this.drop(CloseCode.MessageTimeout, 'message not completed in time')
    }
  }

  /// Close, and free at once what ws holds of the unfinished message (a plain close keeps
  /// reading until the peer answers, up to 30 s).
  private drop(code: number, reason: string): void {
    this.close(code, reason)
    setImmediate(() => this.ws.terminate())
  }

  /// The connection of a socket passed to the constructor.
  static of(ws: WebSocket): Connection {
    return (ws as OwnedSocket)[OWNER] as Connection
  }

  private static onSocketMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
    Connection.of(this).onMessage(data, isBinary)
  }

  private static onSocketPong(this: WebSocket): void {
    Connection.of(this).alive = true
  }

  /// Whether the socket can still be written to.
  get open(): boolean {
    return this.closeCode === null && this.ws.readyState === this.ws.OPEN
  }

  send(frame: Uint8Array): void {
    if (!this.open) return
    if (this.pendingBytes === 0) {
      outbox.push(this)
      if (!outboxScheduled) {
        outboxScheduled = true
        process.nextTick(writeOutbox)
      }
    }
    const small = this.pendingBytes === 0 ? smallFrameOf(frame) : null
    if (small !== null) {
      this.pendingOne = small
      this.pendingBytes = small.length
    } else {
      if (this.pending === null) {
        this.pending = this.pendingOne === null ? [] : [this.pendingOne]
        this.pendingOne = null
      }
      this.pendingBytes += frameInto(this.pending, frame)
    }
    this.bytesOut += frame.length
    this.traffic?.sent(frame)
    this.sentSinceTick = true
  }

  /// Write what was sent during this callback. A peer that has not taken what it was given
  /// before (more than the limit still unsent) is a slow consumer: closed instead. A single
  /// frame above the limit (a big document's sync step 2) still reaches a healthy peer.
  writePending(checkBacklog = true): void {
    const bytes = this.pendingBytes
    if (bytes === 0) return
    const one = this.pendingOne
    const parts = this.pending
    this.pendingOne = null
    this.pending = null
    this.pendingBytes = 0
    if (!this.open) return
    if (checkBacklog && backlog(this.ws) > this.limits.maxBufferedBytes) {
      this.close(CloseCode.TryAgainLater, 'slow consumer: too many unsent bytes')
      return
    }
    writeFrames(this.ws, parts ?? (one as Uint8Array), bytes)
  }

  /// Join the loaded room and handle the frames that waited for it.
  attach(room: Room): void {
    if (this.closeCode !== null) return
    this.room = room
    room.join(this)
    this.drain()
  }

  /// Whether the connection is being slowed down for exceeding its message rate.
  get throttled(): boolean {
    return this.throttle !== null
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closeCode !== null) return
    this.bytesIn += data.length
    this.traffic?.received(data)
    if (!isBinary) {
      this.close(CloseCode.Malformed, 'text frames are not part of the protocol')
      return
    }
    if (this.room === null || this.throttle !== null || this.queue.length > 0) {
      this.queuedBytes += data.length
      if (this.queuedBytes > this.limits.maxQueuedBytes) {
        if (this.room === null) this.close(CloseCode.TryAgainLater, 'too much sent before the room loaded')
        else this.close(CloseCode.RateLimited, 'message rate limit exceeded: too much sent while throttled')
        return
      }
      this.queue.push(data)
      return
    }
    this.handle(data)
  }

  // Handle queued frames until the queue is empty or the client is throttled again.
  private drain(): void {
    while (this.queue.length > 0 && this.throttle === null && this.closeCode === null) {
      const frame = this.queue.shift() as Uint8Array
      this.queuedBytes -= frame.length
      this.handle(frame)
    }
  }

  private handle(frame: Uint8Array): void {
    try {
      const messages = decodeFrame(frame)
      const price = this.bucket === null ? 0 : cost(messages)
      if (price > this.limits.messageBurst) {
        this.close(CloseCode.RateLimited, 'more messages in one frame than the burst limit allows')
        return
      }
      const accepted = this.readOnly && !this.limits.readOnlyAwareness ? withoutAwareness(frame, messages) : frame
      if (accepted === frame) this.room?.receiveMessages(this, messages)
      else if (accepted) this.room?.receive(this, accepted)
      // Over the rate: stop reading from the socket (TCP pushes back on the client) until
      // the bucket has refilled. Nothing is dropped; the client is only slowed down.
      const wait = this.bucket === null ? 0 : this.bucket.take(price)
      if (wait > 0 && this.closeCode === null) {
        this.ws.pause()
        this.throttle = setTimeout(() => {
          this.throttle = null
          if (this.closeCode !== null) return
          this.ws.resume()
          this.drain()
        }, wait)
      }
    } catch (error) {
      if (error instanceof OverLimitError) this.close(CloseCode.TryAgainLater, error.message)
      else if (error instanceof DeletedDocumentError) this.close(CloseCode.DocumentDeleted, error.message)
      else if (error instanceof ProtocolError) this.close(CloseCode.Malformed, `malformed message: ${error.message}`)
      else this.close(CloseCode.InternalError, 'internal error')
    }
  }

  /// Close with a code and reason; the room forgets this peer at once.
  close(code: number, reason: string): void {
    if (this.closeCode !== null) return
    this.writePending(false) // what it was sent before goes out before the close frame
    this.closeCode = code
    this.leaveRoom()
    this.ws.close(code, clampReason(reason))
  }

  /// Called when the socket closed (by either side).
  closed(code: number): void {
    if (this.closeCode === null) this.closeCode = code
    this.leaveRoom()
  }

  private leaveRoom(): void {
    this.limits.incomplete.held -= this.incomplete
    this.incomplete = 0
    this.incompleteSince = 0
    this.queue = []
    this.queuedBytes = 0
    if (this.throttle) clearTimeout(this.throttle)
    if (this.expiry) clearTimeout(this.expiry)
    this.throttle = null
    this.expiry = null
    const room = this.room
    this.room = null
    room?.leave(this)
  }
}
