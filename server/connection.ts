// One client connection: its id and access, a queue for frames that arrive before its room
// is loaded, sending with a bound on buffered bytes, and the mapping of errors to close codes.
import type { WebSocket } from 'ws'
import { CloseCode } from './closeCodes.js'
import { backlog, frameInto, writeFrames } from './frames.js'
import { ProtocolError } from './protocol.js'
import type { Peer, Room } from './room.js'

/// Per-connection limits.
export interface ConnectionLimits {
  /// Close a connection whose unsent bytes exceed this (slow consumer).
  maxBufferedBytes: number
  /// Bytes a connection may send before its room has loaded.
  maxQueuedBytes: number
}

/// Facts about a connection fixed at the upgrade.
export interface ConnectionInfo {
  id: string
  room: string
  readOnly: boolean
  wantsAck: boolean
  user: string | null
  ip: string
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

/// A live client connection.
export class Connection implements Peer {
  readonly id: string
  readonly readOnly: boolean
  readonly wantsAck: boolean
  readonly awarenessIds = new Set<number>()
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
  private queue: Uint8Array[] | null = []
  private queuedBytes = 0
  /// Frames sent in the current callback and not yet written (null: none).
  private pending: Uint8Array[] | null = null
  private pendingBytes = 0

  constructor(
    readonly ws: WebSocket,
    readonly info: ConnectionInfo,
    private readonly limits: ConnectionLimits,
  ) {
    this.id = info.id
    this.readOnly = info.readOnly
    this.wantsAck = info.wantsAck
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary))
    ws.on('pong', () => { this.alive = true })
  }

  /// Whether the socket can still be written to.
  get open(): boolean {
    return this.closeCode === null && this.ws.readyState === this.ws.OPEN
  }

  send(frame: Uint8Array): void {
    if (!this.open) return
    if (this.pending === null) {
      this.pending = []
      outbox.push(this)
      if (!outboxScheduled) {
        outboxScheduled = true
        process.nextTick(writeOutbox)
      }
    }
    this.pendingBytes += frameInto(this.pending, frame)
    this.bytesOut += frame.length
    this.sentSinceTick = true
  }

  /// Write what was sent during this callback. A peer that has not taken what it was given
  /// before (more than the limit still unsent) is a slow consumer: closed instead. A single
  /// frame above the limit (a big document's sync step 2) still reaches a healthy peer.
  writePending(checkBacklog = true): void {
    const parts = this.pending
    if (parts === null) return
    const bytes = this.pendingBytes
    this.pending = null
    this.pendingBytes = 0
    if (!this.open) return
    if (checkBacklog && backlog(this.ws) > this.limits.maxBufferedBytes) {
      this.close(CloseCode.TryAgainLater, 'slow consumer: too many unsent bytes')
      return
    }
    writeFrames(this.ws, parts, bytes)
  }

  /// Join the loaded room and handle the frames that waited for it.
  attach(room: Room): void {
    if (this.closeCode !== null) return
    this.room = room
    room.join(this)
    const queued = this.queue ?? []
    this.queue = null
    this.queuedBytes = 0
    for (const frame of queued) {
      if (this.closeCode !== null) break
      this.handle(frame)
    }
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closeCode !== null) return
    this.bytesIn += data.length
    if (!isBinary) {
      this.close(CloseCode.Malformed, 'text frames are not part of the protocol')
      return
    }
    if (this.queue) {
      this.queuedBytes += data.length
      if (this.queuedBytes > this.limits.maxQueuedBytes) {
        this.close(CloseCode.TryAgainLater, 'too much sent before the room loaded')
        return
      }
      this.queue.push(data)
      return
    }
    this.handle(data)
  }

  private handle(frame: Uint8Array): void {
    try {
      this.room?.receive(this, frame)
    } catch (error) {
      if (error instanceof ProtocolError) this.close(CloseCode.Malformed, `malformed message: ${error.message}`)
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
    this.queue = null
    const room = this.room
    this.room = null
    room?.leave(this)
  }
}
