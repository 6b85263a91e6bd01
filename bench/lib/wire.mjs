// The y-websocket wire format as the load generator needs it, and the two dialects spoken
// by the servers under test: plain y-websocket (Concord, y-websocket server, raw relay) and
// Hocuspocus's (every message prefixed with the document name, an auth message first).
const utf8 = new TextEncoder()

/// Concatenate varUints and byte arrays into one buffer.
export function encode(parts) {
  const out = []
  for (const p of parts) {
    if (typeof p === 'number') {
      let n = p
      while (n >= 128) { out.push((n % 128) | 0x80); n = Math.floor(n / 128) }
      out.push(n)
    } else for (const b of p) out.push(b)
  }
  return Buffer.from(out)
}

/// A length-prefixed byte array as parts for `encode`.
export const bytes = (b) => [b.length, b]
/// A length-prefixed UTF-8 string as parts for `encode`.
export const str = (s) => bytes(utf8.encode(s))

/// A cursor over a buffer.
export class Cursor {
  constructor(buf, pos = 0) { this.buf = buf; this.pos = pos }
  get done() { return this.pos >= this.buf.length }
  uint() {
    let result = 0
    let mult = 1
    for (;;) {
      const b = this.buf[this.pos++]
      result += (b & 0x7f) * mult
      if (b < 0x80) return result
      mult *= 128
    }
  }
  bytes() {
    const n = this.uint()
    const v = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }
}

export const syncStep1 = (sv) => encode([0, 0, ...bytes(sv)])
export const syncUpdate = (u) => encode([0, 2, ...bytes(u)])
export const awarenessMsg = (u) => encode([1, ...bytes(u)])

/// Encode a one-entry awareness update.
export const awarenessUpdate = (client, clock, json) => encode([1, client, clock, ...str(json)])

/// How each server is spoken to.
export function dialect(name) {
  if (name === 'hocuspocus') {
    return {
      name,
      needsSync: true,
      path: () => '/',
      wrap: (room, msg) => Buffer.concat([encode(str(room)), msg]),
      hello: (room) => [Buffer.concat([encode(str(room)), encode([2, 0, ...str('')])])],
      unwrapOffset(frame) { const c = new Cursor(frame); c.bytes(); return c.pos },
    }
  }
  return {
    name,
    needsSync: name !== 'raw',
    path: (room) => '/' + room,
    wrap: (_room, msg) => msg,
    hello: () => [],
    unwrapOffset: () => 0,
  }
}

/// Walk the messages of a frame, calling `on.step2(payload)`, `on.update(payload)` and
/// `on.awareness(payload)`; anything else is skipped.
export function readMessages(frame, offset, on) {
  const c = new Cursor(frame, offset)
  while (!c.done) {
    const type = c.uint()
    if (type === 0 || type === 4) {
      const sub = c.uint()
      const payload = c.bytes()
      if (sub === 1) on.step2(payload)
      else if (sub === 2) on.update(payload)
    } else if (type === 1) on.awareness(c.bytes())
    else if (type === 100) c.uint()
    else return // auth, sync status and other single-message frames: nothing for us
  }
}
