// A WebSocket client at the byte level, for attacks the `ws` client will not make: half-sent
// messages, fragments that never end.
import { connect, type Socket } from 'node:net'

/// An upgraded raw socket and the close code the server sent on it, once it did.
export interface RawSocket {
  socket: Socket
  /// Resolves with the close code of the server's close frame, or null if the socket ended
  /// without one.
  closed: Promise<number | null>
}

/// Open a WebSocket to `room` on `port` of 127.0.0.1 with a hand-made handshake.
export function openRaw(port: number, room: string): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let buffer = Buffer.alloc(0)
    let upgraded = false
    let code: number | null = null
    const closed = new Promise<number | null>((done) => socket.once('close', () => done(code)))
    socket.on('error', () => undefined)
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n')
        if (end < 0) return
        if (!buffer.subarray(0, end).toString().startsWith('HTTP/1.1 101')) return reject(new Error(buffer.toString()))
        upgraded = true
        buffer = buffer.subarray(end + 4)
        resolve({ socket, closed })
      }
      // Server frames are unmasked; a close frame (0x88) carries the code first.
      for (let at = 0; at + 2 <= buffer.length;) {
        const length = buffer[at + 1] & 0x7f
        const head = length === 126 ? 4 : length === 127 ? 10 : 2
        const size = length === 126 ? buffer.readUInt16BE(at + 2) : length === 127 ? Number(buffer.readBigUInt64BE(at + 2)) : length
        if (at + head + size > buffer.length) break
        if (buffer[at] === 0x88 && size >= 2) code = buffer.readUInt16BE(at + head)
        at += head + size
        buffer = buffer.subarray(at)
        at = 0
      }
    })
    socket.write(
      `GET /${encodeURIComponent(room)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    )
  })
}

/// The header of a client frame (masked, with a zero mask: the payload goes as it is).
/// `fin` false starts a fragmented message; `opcode` 2 is binary, 0 a continuation.
export function frameHeader(length: number, { fin = true, opcode = 2 } = {}): Buffer {
  const first = (fin ? 0x80 : 0) | opcode
  if (length < 126) return Buffer.from([first, 0x80 | length, 0, 0, 0, 0])
  if (length < 65536) return Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff, 0, 0, 0, 0])
  const header = Buffer.alloc(14)
  header[0] = first
  header[1] = 0x80 | 127
  header.writeBigUInt64BE(BigInt(length), 2)
  return header
}
