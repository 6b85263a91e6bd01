// The hostile side of the fuzz test (test/fuzz.test.ts), run in a worker thread so the
// server has a core of its own: seeded generators of valid, mutated and broken frames, and
// connection loops that throw them at a server, reconnecting whenever one is closed.
import WebSocket from 'ws'
import * as Y from 'yjs'
import {
  encodeAwareness, encodeSyncStep1, encodeSyncStep2, encodeUpdate, uintSize, writeUint,
} from '../server/protocol/messages.js'
import { mulberry32 as prng } from './random.js'

/// Largest message the fuzzed server accepts; bigger frames must close with 1009.
export const MAX_MESSAGE = 64 * 1024
const BATCH = 25


let rand = prng(1)
const int = (n: number) => Math.floor(rand() * n)
const pick = <T>(list: readonly T[]): T => list[int(list.length)]
const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256))
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let pos = 0
  for (const p of parts) { out.set(p, pos); pos += p.length }
  return out
}
const varUint = (n: number) => {
  const out = new Uint8Array(uintSize(n))
  writeUint(out, 0, n)
  return out
}
const varBytes = (b: Uint8Array) => concat(varUint(b.length), b)
const utf8 = (s: string) => new TextEncoder().encode(s)

// A corpus of real Yjs updates from a document other than the honest clients'.
function corpus(): { updates: Uint8Array[]; full: Uint8Array; fullV2: Uint8Array } {
  const doc = new Y.Doc()
  const updates: Uint8Array[] = []
  doc.on('update', (u: Uint8Array) => updates.push(u))
  for (let i = 0; i < 60; i++) {
    const text = doc.getText('t')
    const r = int(4)
    if (r === 0 && text.length > 2) text.delete(int(text.length - 1), 1 + int(2))
    else if (r === 1) doc.getMap('m').set(`k${int(5)}`, pick([1, 'two', { three: [3] }, null, true]))
    else if (r === 2) doc.getArray('a').insert(0, [int(100), 'x'])
    else text.insert(int(text.length + 1), pick(['fuzz', 'ü', '🎉', ' ', 'z']))
  }
  const full = Y.encodeStateAsUpdate(doc)
  const fullV2 = Y.encodeStateAsUpdateV2(doc)
  doc.destroy()
  return { updates, full, fullV2 }
}
const { updates: CORPUS, full: FULL, fullV2: FULL_V2 } = corpus()

function awarenessEntry(client: number, clock: number, json: Uint8Array): Uint8Array {
  return concat(varUint(client), varUint(clock), varBytes(json))
}
function awarenessMessage(entries: Uint8Array[]): Uint8Array {
  return encodeAwareness(concat(varUint(entries.length), ...entries))
}
const randomClient = () => pick([int(10), int(1000), int(2 ** 32), 2 ** 53 - 1 - int(3)])
const randomJson = () => utf8(pick([
  '{"user":{"name":"f","color":"#f00"}}', 'null', '{}', '[1,2,3]', '"s"', '42', `{"cursor":${int(1e6)}}`,
]))

/// A well-formed frame the server must accept (or ignore) without closing.
function validFrame(): Uint8Array {
  switch (int(9)) {
    case 0: case 1: case 2: return encodeUpdate(pick(CORPUS))
    case 3: return encodeSyncStep2(pick([FULL, pick(CORPUS), Uint8Array.of(0, 0)]))
    case 4: {
      // A random but valid state vector: the server answers with a diff.
      const n = int(4)
      const parts = [varUint(n)]
      for (let i = 0; i < n; i++) parts.push(varUint(randomClient()), varUint(int(1000)))
      return encodeSyncStep1(concat(...parts))
    }
    case 5: return awarenessMessage(Array.from({ length: 1 + int(3) }, () => awarenessEntry(int(50), int(100), randomJson())))
    case 6: return Uint8Array.of(3) // query awareness
    case 7: return concat(Uint8Array.of(2, 0), varBytes(utf8('client auth message'))) // ignored
    default: return concat(validFrame(), validFrame()) // several messages in one frame
  }
}

/// A frame that breaks the protocol in one specific way; `fatal` when no server may accept it
/// (mutations and random bytes sometimes still decode).
function brokenFrame(): { frame: Uint8Array | string; fatal: boolean } {
  switch (int(16)) {
    case 0: return { frame: pick([Uint8Array.of(0x80), Uint8Array.of(0, 0x80, 0x80), Uint8Array.of(1, 0xff, 0xff), bytes(1).map(() => 0xff)]), fatal: true } // truncated varints
    case 1: return { frame: concat(Uint8Array.of(0, 2), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), bytes(int(8))), fatal: true } // huge length prefix
    case 2: return { frame: concat(Uint8Array.of(1), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), bytes(4)), fatal: true } // huge, beyond 2^49
    case 3: return { frame: concat(varUint(pick([4, 5, 99, 101, 2 ** 20, 2 ** 40])), bytes(int(8))), fatal: true } // unknown type
    case 4: return { frame: concat(Uint8Array.of(0, 3 + int(100)), varBytes(bytes(4))), fatal: true } // unknown sync subtype
    case 5: return { frame: concat(Uint8Array.of(2, 0), varBytes(Uint8Array.of(0xff, 0xfe, 0xc0, 0x80))), fatal: true } // invalid UTF-8
    case 6: return { frame: awarenessMessage([awarenessEntry(1, 1, Uint8Array.of(0x7b, 0xff, 0x7d))]), fatal: true } // invalid UTF-8 JSON
    case 7: return { frame: awarenessMessage([awarenessEntry(1, 1, utf8('{"unterminated":'))]), fatal: true } // invalid JSON
    case 8: return { frame: encodeUpdate(mutate(pick([FULL, FULL_V2, pick(CORPUS)]))), fatal: false } // garbage Yjs inside valid framing
    case 9: return { frame: pick(['hello', '{"type":"sync"}', '']), fatal: true } // text frames
    case 10: { const big = int(3) === 0; return { frame: big ? bytes(MAX_MESSAGE + 1 + int(1000)) : mutate(validFrame()), fatal: big } }
    case 12: return { frame: awarenessMessage(Array.from({ length: 65 + int(200) }, (_, i) => awarenessEntry(1_000_000 + i, 1 + int(5), utf8('{}')))), fatal: true } // one connection announcing too many clients
    case 13: return { frame: concat(Uint8Array.of(0, 0), varBytes(concat(varUint(5000), ...Array.from({ length: 5000 }, (_, i) => concat(varUint(7_000_000 + i), varUint(1)))))), fatal: true } // a state vector naming clients the room never had
    case 14: return { frame: encodeUpdate(concat(Uint8Array.of(2, 1), varUint(900 + int(99)), Uint8Array.of(0, 4, 1), varBytes(utf8('t')), varBytes(utf8('ab')), Uint8Array.of(0), varUint(900 + int(99)), Uint8Array.of(0, 0))), fatal: false } // a client twice (fatal when both blocks name the same one)
    case 15: return { frame: encodeUpdate(concat(Uint8Array.of(1, 1), varUint(901), varUint(2 ** 53 - 2), Uint8Array.of(4, 1), varBytes(utf8('t')), varBytes(utf8('abc')), Uint8Array.of(0))), fatal: true } // clocks past 2^53
    default: { const empty = int(2) === 0; return { frame: empty ? new Uint8Array(0) : bytes(1 + int(64)), fatal: empty } } // empty or random
  }
}

/// Flip, overwrite, truncate, insert or splice a few bytes.
function mutate(input: Uint8Array): Uint8Array {
  let out = input.slice()
  for (let n = 1 + int(3); n > 0; n--) {
    const at = int(out.length + 1)
    switch (int(5)) {
      case 0: if (out.length) out[Math.min(at, out.length - 1)] ^= 1 << int(8); break
      case 1: if (out.length) out[Math.min(at, out.length - 1)] = pick([0, 0x7f, 0x80, 0xff, int(256)]); break
      case 2: out = out.slice(0, at); break
      case 3: out = concat(out.slice(0, at), bytes(1 + int(6)), out.slice(at)); break
      default: out = concat(out.slice(0, at), Uint8Array.of(0xff, 0xff, 0xff, 0x7f), out.slice(at)); break
    }
  }
  return out
}

/// What the attack saw.
export interface AttackResult {
  sent: number
  connectionsOpened: number
  /// Connections that answered a ping after a frame no server may accept.
  survivedFatal: number
  closeCodes: Record<number, number>
  badCloses: Array<{ code: number; reason: string }>
  seconds: number
}

/// Throw `frames` frames at the server from `loops` concurrent connection loops; loop `i`
/// uses `rooms[i % rooms.length]`.
export async function attack(options: { url: string; rooms: string[]; frames: number; seed: number; loops: number }): Promise<AttackResult> {
  rand = prng(options.seed)
  const result: AttackResult = { sent: 0, connectionsOpened: 0, survivedFatal: 0, closeCodes: {}, badCloses: [], seconds: 0 }
  const started = performance.now()
  async function loop(index: number): Promise<void> {
    const room = options.rooms[index % options.rooms.length]
    while (result.sent < options.frames) {
      const ws = new WebSocket(`${options.url}/${room}`)
      result.connectionsOpened++
      let closed = false
      let byUs = false
      let fatalSent = false
      const closedPromise = new Promise<void>((resolve) => {
        ws.on('close', (code, reason) => {
          closed = true
          if (byUs) return resolve()
          result.closeCodes[code] = (result.closeCodes[code] ?? 0) + 1
          if (!((code >= 4400 && code <= 4499) || code === 1009)) result.badCloses.push({ code, reason: reason.toString() })
          resolve()
        })
      })
      ws.on('error', () => undefined)
      // The server's sync step 1 comes once the room is loaded: from then on frames are
      // handled as they arrive, so a pong proves they were handled.
      const opened = await new Promise<boolean>((resolve) => {
        ws.once('message', () => resolve(true))
        ws.once('close', () => resolve(false))
      })
      if (!opened) continue
      for (let round = 0; round < 10 && !closed && result.sent < options.frames; round++) {
        for (let i = 0; i < BATCH && result.sent < options.frames; i++) {
          const f = rand() < 0.02 ? brokenFrame() : { frame: validFrame(), fatal: false }
          fatalSent ||= f.fatal
          ws.send(f.frame, { binary: typeof f.frame !== 'string' })
          result.sent++
        }
        // A ping is answered after every frame before it was read: wait for the server.
        const ponged = new Promise<void>((resolve) => ws.once('pong', () => resolve()))
        ws.ping()
        await Promise.race([ponged, closedPromise])
        // A server that closes answers no ping after the close: a pong here means it let a
        // frame through that no server may accept.
        if (fatalSent && !closed) result.survivedFatal++
      }
      if (!closed) {
        byUs = true
        ws.terminate()
        await closedPromise
      }
    }
  }
  await Promise.all(Array.from({ length: options.loops }, (_, i) => loop(i)))
  result.seconds = (performance.now() - started) / 1000
  return result
}
