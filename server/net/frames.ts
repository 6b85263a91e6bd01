// Writing protocol messages to a `ws` socket as WebSocket frames, framing a broadcast once.
// Measured with bench/: ws's `send` frames every message per receiver (a header buffer, a
// corked two-buffer write, one syscall per message); here a small message is framed once
// into one buffer shared by every receiver, and a connection's frames of one callback go
// out in one write.
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/// Messages up to this size are copied behind their header, once per broadcast; larger ones
/// (a document's full state) are written as header + payload, never copied.
const COPY_LIMIT = 16 * 1024

// A broadcast hands the same message object to every receiver in a row: one entry suffices.
let lastMessage: Uint8Array | null = null
let lastFrame: Buffer | null = null

function header(length: number, extra: number): Buffer {
  const size = length < 126 ? 2 : length < 65536 ? 4 : 10
  const out = Buffer.allocUnsafe(size + extra)
  out[0] = 0x82 // FIN, binary
  if (length < 126) out[1] = length
  else if (length < 65536) {
    out[1] = 126
    out.writeUInt16BE(length, 2)
  } else {
    out[1] = 127
    out.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    out.writeUInt32BE(length >>> 0, 6)
  }
  return out
}

/// The unmasked (server to client) binary frame of a small message, built once per message.
export function smallFrame(message: Uint8Array): Buffer {
  if (message === lastMessage && lastFrame) return lastFrame
  const frame = header(message.length, message.length)
  frame.set(message, frame.length - message.length)
  lastMessage = message
  lastFrame = frame
  return frame
}

/// The frame of a small message (see `smallFrame`), or null for a large one.
export function smallFrameOf(message: Uint8Array): Buffer | null {
  return message.length <= COPY_LIMIT ? smallFrame(message) : null
}

/// Append the frame of `message` to `parts` (one buffer, or header + payload for a large
/// message); returns the bytes added.
export function frameInto(parts: Uint8Array[], message: Uint8Array): number {
  if (message.length <= COPY_LIMIT) {
    const frame = smallFrame(message)
    parts.push(frame)
    return frame.length
  }
  const head = header(message.length, 0)
  parts.push(head, message)
  return head.length + message.length
}

/// The socket under a `ws` WebSocket (ws keeps it in `_socket` once open).
function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket
}

/// Write frames (from `frameInto`, or one from `smallFrameOf`; `bytes` in all) to an open socket in one go: small ones
/// as one buffer, otherwise corked into one writev. Writing to the socket directly keeps
/// them in order with ws's own frames (ping, close) because this server never compresses:
/// with permessage-deflate off, ws's sender never queues.
export function writeFrames(ws: WebSocket, parts: Uint8Array[] | Uint8Array, bytes: number): void {
  const socket = socketOf(ws)
  if (!socket) throw new Error('writeFrames: the WebSocket has no socket (not open)')
  if (!Array.isArray(parts)) socket.write(parts)
  else if (parts.length === 1) socket.write(parts[0])
  else if (bytes <= COPY_LIMIT) socket.write(Buffer.concat(parts, bytes))
  else {
    socket.cork()
    for (const part of parts) socket.write(part)
    socket.uncork()
  }
}

/// Bytes written to the socket but not yet sent: `ws.bufferedAmount` without its getters.
export function backlog(ws: WebSocket): number {
  return socketOf(ws)?.writableLength ?? ws.bufferedAmount
}
