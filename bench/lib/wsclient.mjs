// A lean WebSocket client over `net` for the load generator: thousands of sockets and
// hundreds of thousands of frames a second must cost the generator little, so it parses
// frames by hand, masks with a zero key (legal, and a no-op), and timestamps once per read.
import net from 'node:net'
import { randomBytes } from 'node:crypto'

/// Frame one binary message, client to server (masked with key 0).
export function frameBinary(payload) {
  const n = payload.length
  let header
  if (n < 126) header = Buffer.from([0x82, 0x80 | n, 0, 0, 0, 0])
  else if (n < 65536) header = Buffer.from([0x82, 0x80 | 126, n >> 8, n & 255, 0, 0, 0, 0])
  else {
    header = Buffer.alloc(14)
    header[0] = 0x82
    header[1] = 0x80 | 127
    header.writeUInt32BE(Math.floor(n / 2 ** 32), 2)
    header.writeUInt32BE(n >>> 0, 6)
  }
  return Buffer.concat([header, payload])
}

function controlFrame(opcode, payload) {
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload])
}

/// One client socket. `onFrame(payload, now)` gets each binary message as a view into the
/// read buffer (copy it to keep it); `now` is `performance.now()` taken once per read.
export class LeanSocket {
  /// `onPong(now)`: a pong arrived (see `ping`).
  constructor(port, path, { onOpen, onFrame, onClose, onPong = null }) {
    this.open = false
    this.closed = false
    this.onFrame = onFrame
    this.onClose = onClose
    this.onPong = onPong
    /// Reads of an unfinished frame, their bytes, and the bytes the frame needs (when known).
    this.buf = null
    this.bufBytes = 0
    this.need = 0
    this.fragments = null
    const sock = (this.sock = net.connect(port, '127.0.0.1'))
    sock.setNoDelay(true)
    const key = randomBytes(16).toString('base64')
    sock.on('connect', () => {
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      )
    })
    sock.on('data', (chunk) => {
      const now = performance.now()
      let data = chunk
      if (this.buf) {
        // A frame split over reads (a document's state: 64 KB a read): gather the reads and
        // join them once the frame is whole, not once per read.
        this.buf.push(chunk)
        this.bufBytes += chunk.length
        if (this.bufBytes < this.need) return
        data = Buffer.concat(this.buf, this.bufBytes)
        this.buf = null
      }
      if (!this.open) {
        const end = data.indexOf('\r\n\r\n')
        if (end < 0) { this.keep(data, data.length + 1); return }
        const status = data.subarray(0, data.indexOf('\r\n')).toString()
        if (!/^HTTP\/1\.1 101/.test(status)) {
          this.fail(new Error(`upgrade refused: ${status}`))
          return
        }
        this.open = true
        data = data.subarray(end + 4)
        onOpen?.(now)
      }
      this.parse(data, now)
    })
    sock.on('error', (error) => this.fail(error))
    sock.on('close', () => this.fail(null))
  }

  fail(error) {
    if (this.closed) return
    this.closed = true
    this.open = false
    this.sock.destroy()
    this.onClose?.(error)
  }

  parse(data, now) {
    let off = 0
    const len = data.length
    let need = 0
    while (len - off >= 2) {
      const b0 = data[off]
      let plen = data[off + 1] & 0x7f
      let hdr = 2
      if (plen === 126) {
        if (len - off < 4) break
        plen = data.readUInt16BE(off + 2)
        hdr = 4
      } else if (plen === 127) {
        if (len - off < 10) break
        plen = data.readUInt32BE(off + 2) * 2 ** 32 + data.readUInt32BE(off + 6)
        hdr = 10
      }
      if (len - off < hdr + plen) { need = hdr + plen; break }
      const payload = data.subarray(off + hdr, off + hdr + plen)
      off += hdr + plen
      const opcode = b0 & 0x0f
      const fin = (b0 & 0x80) !== 0
      if (opcode === 0x9) this.sock.write(controlFrame(0xa, payload))
      else if (opcode === 0xa) this.onPong?.(now)
      else if (opcode === 0x8) this.fail(null)
      else if (opcode === 0x2 || opcode === 0x1 || opcode === 0x0) {
        if (!fin) (this.fragments ??= []).push(Buffer.from(payload))
        else if (this.fragments) {
          this.fragments.push(payload)
          const whole = Buffer.concat(this.fragments)
          this.fragments = null
          this.onFrame(whole, now)
        } else this.onFrame(payload, now)
      }
      if (this.closed) return
    }
    if (off < len) this.keep(data.subarray(off), need)
  }

  /// Keep the unparsed end of a read until `need` bytes are in. A small end is copied (a view
  /// would pin the whole read buffer); a large one is most of its read anyway.
  keep(rest, need) {
    this.buf = [rest.length < 4096 ? Buffer.from(rest) : rest]
    this.bufBytes = rest.length
    this.need = need
  }

  /// Send a WebSocket ping: every server here answers it with a pong from its event loop, so
  /// the round trip is that loop's lag seen from outside.
  ping() {
    if (this.open) this.sock.write(controlFrame(0x9, Buffer.alloc(0)))
  }

  /// Send a pre-framed buffer (from `frameBinary`).
  write(framed) {
    if (this.open) this.sock.write(framed)
  }

  close() {
    if (this.closed) return
    if (this.open) this.sock.end(controlFrame(0x8, Buffer.from([0x03, 0xe8])))
    this.closed = true
    this.open = false
    setTimeout(() => this.sock.destroy(), 200).unref()
  }
}
