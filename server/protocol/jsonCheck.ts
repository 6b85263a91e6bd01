// Whether bytes are one JSON text, read in place. Awareness states are relayed as the bytes
// clients sent, and checked only so that a stock client is never sent one its JSON.parse
// would throw on; decoding and parsing each state built a string and an object tree per
// cursor move only to drop them (perf under the awareness benchmark: 1.4% of the server's
// samples, for a yes or no). The answer is JSON.parse's on the UTF-8 decoded text.
import { isUtf8 } from 'node:buffer'

/// Nesting deeper than this is left to JSON.parse (this reader recurses).
const MAX_DEPTH = 256

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a, MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e
const ZERO = 0x30, NINE = 0x39, OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d

/// Thrown where nesting exceeds `MAX_DEPTH`.
class TooDeep extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/// Whether `bytes` are valid UTF-8 holding exactly one JSON value (with whitespace around it,
/// and the byte order mark TextDecoder skips), as `JSON.parse` would accept it.
export function isJson(bytes: Uint8Array): boolean {
  if (!isUtf8(bytes)) return false
  const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  try {
    const end = value(bytes, space(bytes, start), 0)
    return end >= 0 && space(bytes, end) === bytes.length
  } catch (error) {
    if (!(error instanceof TooDeep)) throw error
    try {
      JSON.parse(utf8.decode(bytes))
      return true
    } catch {
      return false
    }
  }
}

function space(b: Uint8Array, i: number): number {
  while (i < b.length) {
    const c = b[i]
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break
    i++
  }
  return i
}

/// The end of the value at `i`, or -1 if there is none.
function value(b: Uint8Array, i: number, depth: number): number {
  if (i >= b.length) return -1
  const c = b[i]
  if (c === QUOTE) return string(b, i)
  if (c === OPEN_BRACE) return object(b, i, depth + 1)
  if (c === OPEN_BRACKET) return array(b, i, depth + 1)
  if (c === MINUS || (c >= ZERO && c <= NINE)) return number(b, i)
  if (c === 0x74) return word(b, i, 'true')
  if (c === 0x66) return word(b, i, 'false')
  if (c === 0x6e) return word(b, i, 'null')
  return -1
}

function word(b: Uint8Array, i: number, text: string): number {
  if (i + text.length > b.length) return -1
  for (let k = 0; k < text.length; k++) if (b[i + k] !== text.charCodeAt(k)) return -1
  return i + text.length
}

function digits(b: Uint8Array, i: number): number {
  const from = i
  while (i < b.length && b[i] >= ZERO && b[i] <= NINE) i++
  return i > from ? i : -1
}

function number(b: Uint8Array, i: number): number {
  if (b[i] === MINUS) i++
  if (i >= b.length) return -1
  if (b[i] === ZERO) i++
  else if ((i = digits(b, i)) < 0) return -1
  if (i < b.length && b[i] === DOT && (i = digits(b, i + 1)) < 0) return -1
  if (i < b.length && (b[i] === 0x65 || b[i] === 0x45)) {
    i++
    if (i < b.length && (b[i] === PLUS || b[i] === MINUS)) i++
    if ((i = digits(b, i)) < 0) return -1
  }
  return i
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)
}

function string(b: Uint8Array, i: number): number {
  i++ // the opening quote
  while (i < b.length) {
    const c = b[i++]
    if (c === QUOTE) return i
    if (c < 0x20) return -1 // control characters must be escaped
    if (c !== BACKSLASH) continue // bytes of 0x80 and above: UTF-8, already checked
    if (i >= b.length) return -1
    const e = b[i++]
    if (e === 0x75) {
      if (i + 4 > b.length) return -1
      for (let k = 0; k < 4; k++) if (!isHex(b[i + k])) return -1
      i += 4
    } else if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) {
      return -1
    }
  }
  return -1
}

function object(b: Uint8Array, i: number, depth: number): number {
  if (depth > MAX_DEPTH) throw new TooDeep()
  i = space(b, i + 1)
  if (i < b.length && b[i] === CLOSE_BRACE) return i + 1
  for (;;) {
    if (i >= b.length || b[i] !== QUOTE) return -1
    if ((i = string(b, i)) < 0) return -1
    i = space(b, i)
    if (i >= b.length || b[i] !== COLON) return -1
    if ((i = value(b, space(b, i + 1), depth)) < 0) return -1
    i = space(b, i)
    if (i >= b.length) return -1
    if (b[i] === CLOSE_BRACE) return i + 1
    if (b[i] !== COMMA) return -1
    i = space(b, i + 1)
  }
}

function array(b: Uint8Array, i: number, depth: number): number {
  if (depth > MAX_DEPTH) throw new TooDeep()
  i = space(b, i + 1)
  if (i < b.length && b[i] === CLOSE_BRACKET) return i + 1
  for (;;) {
    if ((i = value(b, i, depth)) < 0) return -1
    i = space(b, i)
    if (i >= b.length) return -1
    if (b[i] === CLOSE_BRACKET) return i + 1
    if (b[i] !== COMMA) return -1
    i = space(b, i + 1)
  }
}
