// The wire protocol against y-protocols' own encoders and decoders: every message type both
// ways, byte for byte, several messages per frame, and malformed input refused whole.
import { describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as authProtocol from 'y-protocols/auth'
import * as awarenessProtocol from 'y-protocols/awareness'
import {
  KEEPALIVE_FRAME, ProtocolError, decodeFrame, encodeAck, encodeAuthDenied, encodeAwareness,
  encodeQueryAwareness, encodeSyncStep1, encodeSyncStep2, encodeUpdate, uintSize, writeUint,
} from '../server/protocol/messages.js'

/// Bytes written by a lib0 encoder.
function lib0(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  write(e)
  return encoding.toUint8Array(e)
}

/// A document with some text, big enough that length prefixes take several bytes.
function docWith(text: string): Y.Doc {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, text)
  return doc
}

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let pos = 0
  for (const p of parts) { out.set(p, pos); pos += p.length }
  return out
}

describe('decoding what y-protocols encodes', () => {
  test('sync step 1 carries the state vector', () => {
    const doc = docWith('hello')
    const [m] = decodeFrame(lib0((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc) }))
    expect(m).toEqual({ type: 'syncStep1', stateVector: Y.encodeStateVector(doc) })
  })

  test('sync step 2 and update carry an update that rebuilds the document', () => {
    const doc = docWith('x'.repeat(300))
    const step2 = decodeFrame(lib0((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep2(e, doc) }))
    const update = decodeFrame(lib0((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(doc)) }))
    expect(step2[0].type).toBe('syncStep2')
    expect(update[0].type).toBe('update')
    for (const m of [step2[0], update[0]]) {
      const copy = new Y.Doc()
      Y.applyUpdate(copy, (m as { update: Uint8Array }).update)
      expect(copy.getText('t').toString()).toBe('x'.repeat(300))
    }
  })

  test('awareness keeps the raw message for verbatim relay', () => {
    const doc = new Y.Doc()
    const awareness = new awarenessProtocol.Awareness(doc)
    awareness.setLocalState({ name: 'Ada', cursor: { anchor: 3 } })
    const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])
    const frame = lib0((e) => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, update) })
    expect(decodeFrame(frame)).toEqual([{ type: 'awareness', update, raw: frame }])
    awareness.destroy()
    doc.destroy()
  })

  test('auth permission denied carries its reason', () => {
    const reason = 'read-only — désolé 🙂'
    const frame = lib0((e) => { encoding.writeVarUint(e, 2); authProtocol.writePermissionDenied(e, reason) })
    expect(decodeFrame(frame)).toEqual([{ type: 'auth', reason }])
  })

  test('query-awareness and Concord ack', () => {
    expect(decodeFrame(lib0((e) => encoding.writeVarUint(e, 3)))).toEqual([{ type: 'queryAwareness' }])
    const ack = lib0((e) => { encoding.writeVarUint(e, 100); encoding.writeVarUint(e, 300_000) })
    expect(decodeFrame(ack)).toEqual([{ type: 'ack', count: 300_000 }])
  })

  test('several messages in one frame are all decoded, in order', () => {
    const doc = docWith('abc')
    const frame = lib0((e) => {
      encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc)
      encoding.writeVarUint(e, 3)
      encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(doc))
      encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, Uint8Array.of(0))
      encoding.writeVarUint(e, 2); authProtocol.writePermissionDenied(e, 'no')
    })
    expect(decodeFrame(frame).map((m) => m.type)).toEqual(['syncStep1', 'queryAwareness', 'update', 'awareness', 'auth'])
  })
})

describe('encoding what y-protocols decodes', () => {
  test('sync messages are byte-identical to y-protocols and apply through readSyncMessage', () => {
    const doc = docWith('y'.repeat(1000))
    const sv = Y.encodeStateVector(doc)
    const full = Y.encodeStateAsUpdate(doc)
    expect(encodeSyncStep1(sv)).toEqual(lib0((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep1(e, doc) }))
    expect(encodeSyncStep2(full)).toEqual(lib0((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeSyncStep2(e, doc) }))
    expect(encodeUpdate(full)).toEqual(lib0((e) => { encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, full) }))

    for (const frame of [encodeSyncStep2(full), encodeUpdate(full)]) {
      const target = new Y.Doc()
      const d = decoding.createDecoder(frame)
      expect(decoding.readVarUint(d)).toBe(0)
      syncProtocol.readSyncMessage(d, encoding.createEncoder(), target, null)
      expect(target.getText('t').toString()).toBe('y'.repeat(1000))
    }
    // Step 1 read by y-protocols makes it answer with step 2 for exactly what we lack.
    const d = decoding.createDecoder(encodeSyncStep1(Y.encodeStateVector(new Y.Doc())))
    decoding.readVarUint(d)
    const reply = encoding.createEncoder()
    expect(syncProtocol.readSyncMessage(d, reply, doc, null)).toBe(syncProtocol.messageYjsSyncStep1)
    const [answer] = decodeFrame(concat(Uint8Array.of(0), encoding.toUint8Array(reply)))
    expect(answer.type).toBe('syncStep2')
  })

  test('awareness, auth, query-awareness and keepalive are byte-identical to y-protocols', () => {
    const doc = new Y.Doc()
    const awareness = new awarenessProtocol.Awareness(doc)
    awareness.setLocalState({ user: 'Grace' })
    const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID])
    expect(encodeAwareness(update)).toEqual(lib0((e) => { encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, update) }))
    expect(encodeQueryAwareness()).toEqual(lib0((e) => encoding.writeVarUint(e, 3)))
    const reason = 'forbidden ✋'
    const denied = encodeAuthDenied(reason)
    expect(denied).toEqual(lib0((e) => { encoding.writeVarUint(e, 2); authProtocol.writePermissionDenied(e, reason) }))
    const d = decoding.createDecoder(denied)
    decoding.readVarUint(d)
    let heard = ''
    authProtocol.readAuthMessage(d, doc, (_y, r) => { heard = r })
    expect(heard).toBe(reason)

    // The keepalive is an awareness update with no entries: applying it changes nothing.
    expect(KEEPALIVE_FRAME).toEqual(lib0((e) => {
      encoding.writeVarUint(e, 1)
      encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, []))
    }))
    const before = new Map(awareness.getStates())
    let changes = 0
    awareness.on('change', () => changes++)
    const [keepalive] = decodeFrame(KEEPALIVE_FRAME)
    awarenessProtocol.applyAwarenessUpdate(awareness, (keepalive as { update: Uint8Array }).update, 'server')
    expect(changes).toBe(0)
    expect(awareness.getStates()).toEqual(before)
    awareness.destroy()
    doc.destroy()
  })

  test('ack and varints match lib0 across size boundaries', () => {
    for (const n of [0, 1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const bytes = lib0((e) => encoding.writeVarUint(e, n))
      expect(uintSize(n)).toBe(bytes.length)
      const mine = new Uint8Array(bytes.length)
      expect(writeUint(mine, 0, n)).toBe(bytes.length)
      expect(mine).toEqual(bytes)
      expect(encodeAck(n)).toEqual(lib0((e) => { encoding.writeVarUint(e, 100); encoding.writeVarUint(e, n) }))
      expect(decodeFrame(encodeAck(n))).toEqual([{ type: 'ack', count: n }])
    }
  })

  test('every encoder round-trips through decodeFrame', () => {
    const update = Y.encodeStateAsUpdate(docWith('round trip'))
    const frame = concat(
      encodeSyncStep1(Uint8Array.of(0)), encodeSyncStep2(update), encodeUpdate(update),
      encodeAwareness(Uint8Array.of(0)), encodeAuthDenied('why'), encodeQueryAwareness(), encodeAck(7),
    )
    expect(decodeFrame(frame)).toEqual([
      { type: 'syncStep1', stateVector: Uint8Array.of(0) },
      { type: 'syncStep2', update },
      { type: 'update', update },
      { type: 'awareness', update: Uint8Array.of(0), raw: Uint8Array.of(1, 1, 0) },
      { type: 'auth', reason: 'why' },
      { type: 'queryAwareness' },
      { type: 'ack', count: 7 },
    ])
  })
})

describe('malformed input raises ProtocolError', () => {
  const cases: Array<[string, number[], RegExp]> = [
    ['an empty frame', [], /empty frame/],
    ['a truncated type varint', [0x80], /truncated varint/],
    ['a truncated sync subtype', [0], /truncated varint/],
    ['a truncated length varint', [0, 2, 0xff], /truncated varint/],
    ['a length prefix past the end', [0, 2, 5, 1, 2], /exceeds the frame/],
    ['a huge length prefix', [1, 0xff, 0xff, 0xff, 0xff, 0x0f], /exceeds the frame/],
    ['an over-long varint', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /varint too long/],
    ['a varint above 2^53', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], /varint too large/],
    ['an unknown message type', [7], /unknown message type 7/],
    ['an unknown sync subtype', [0, 3, 0], /unknown sync message 3/],
    ['an unknown auth subtype', [2, 1, 0], /unknown auth message 1/],
    ['invalid UTF-8 in an auth reason', [2, 0, 2, 0xc3, 0x28], /invalid UTF-8/],
    ['a truncated auth reason', [2, 0, 4, 0x61], /exceeds the frame/],
    ['a truncated ack', [100], /truncated varint/],
    ['a text frame read as bytes', [...new TextEncoder().encode('{"hello":1}')], /unknown message type/],
  ]
  test.each(cases)('%s', (_name, bytes, message) => {
    expect(() => decodeFrame(Uint8Array.from(bytes))).toThrowError(ProtocolError)
    expect(() => decodeFrame(Uint8Array.from(bytes))).toThrowError(message)
  })

  test('a valid message followed by garbage refuses the whole frame', () => {
    const good = encodeUpdate(Y.encodeStateAsUpdate(docWith('kept out')))
    expect(() => decodeFrame(concat(good, Uint8Array.of(0x80)))).toThrowError(ProtocolError)
    expect(() => decodeFrame(concat(good, Uint8Array.of(9)))).toThrowError(/unknown message type 9/)
  })

  test('a frame that is a view into a larger buffer never reads past its end', () => {
    // ws hands out Buffers that are slices of a pooled allocation: the bytes after the view
    // are someone else's and must not satisfy a length prefix.
    const pool = Uint8Array.from([9, 9, 1, 4, 0xaa, 0xbb, 0xcc, 0xdd, 0xee])
    const view = pool.subarray(2, 5) // awareness, length 4, but only one byte in the view
    expect(() => decodeFrame(view)).toThrowError(/exceeds the frame/)
  })

  test('every truncation of a valid multi-message frame is refused', () => {
    const parts = [
      encodeSyncStep1(Y.encodeStateVector(docWith('a'))), encodeAuthDenied('reason'),
      encodeUpdate(Y.encodeStateAsUpdate(docWith('b'.repeat(200)))),
    ]
    const frame = concat(...parts)
    // Cutting inside a message always fails; cutting exactly between messages is a valid frame.
    const boundaries = new Set([parts[0].length, parts[0].length + parts[1].length])
    for (let cut = 0; cut < frame.length; cut++) {
      const piece = frame.subarray(0, cut)
      if (boundaries.has(cut)) expect(decodeFrame(piece).length).toBeGreaterThan(0)
      else expect(() => decodeFrame(piece), `cut at ${cut}`).toThrowError(ProtocolError)
    }
  })
})
