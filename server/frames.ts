// Writing protocol messages to a `ws` socket as WebSocket frames, framing a broadcast once.
// Measured with bench/: ws's `send` frames every message per receiver (a header buffer, a
// corked two-buffer write); here a small message is framed once into one buffer that every
// receiver's socket is given as is: one plain write each.
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

/// The socket under a `ws` WebSocket (ws keeps it in `_socket` once open).
function socketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket
}

/// Write one message as a binary frame. The caller checked that `ws` is open. Writing to the
/// socket directly keeps frames in order with ws's own (ping, close) because this server
/// never compresses: with permessage-deflate off, ws's sender never queues.
export function writeMessage(ws: WebSocket, message: Uint8Array): void {
  const socket = socketOf(ws)
  if (!socket) {
    ws.send(message)
    return
  }
  if (message.length <= COPY_LIMIT) {
    socket.write(smallFrame(message))
    return
  }
  socket.cork()
  socket.write(header(message.length, 0))
  socket.write(message)
  socket.uncork()
}

/// Bytes written to the socket but not yet sent: `ws.bufferedAmount` without its getters.
export function backlog(ws: WebSocket): number {
  return socketOf(ws)?.writableLength ?? ws.bufferedAmount
}
