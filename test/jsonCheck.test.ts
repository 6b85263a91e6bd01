// isJson must accept exactly what a stock client's JSON.parse accepts on the UTF-8 decoded
// bytes: a state the server lets through reaches every peer of the room, and one it refuses
// closes its sender.
import { expect, it } from 'vitest'
import { isJson } from '../server/protocol/jsonCheck.js'
import { seededInt } from './random.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/// What a client would make of these bytes.
function parses(bytes: Uint8Array): boolean {
  try {
    JSON.parse(decoder.decode(bytes))
    return true
  } catch {
    return false
  }
}

const valid = [
  '{"user":{"name":"user 7","color":"#30bced"},"cursor":{"anchor":12,"head":13}}',
  'null', 'true', 'false', '0', '-0', '12.5e-3', '1E+9', '"a\\u00e9\\n\\"b\\\\"', '[]', '{}', ' [1, [2, [3]], {"k": []}] ',
  '"héllo wörld 🎉"', '{"a":1,"a":2}', '\ufeff{"bom":true}', '"\\ud800"', '\t\r\n 5 \n',
]
const invalid = [
  '', ' ', '{', '}', '[1,]', '{"a":1,}', '{a:1}', "'x'", '01', '1.', '.5', '-', '+1', '1e', '1e+', 'tru', 'nulls',
  'NaN', 'Infinity', '"\\x41"', '"\\u12G4"', '"unterminated', '"tab\there"', '[1 2]', '{"a" 1}', '{"a":}', '1 2',
  '{"a":1}}', '[[]', '"a"b',
]

it('agrees with JSON.parse on hand-picked texts', () => {
  for (const text of [...valid, ...invalid]) {
    const bytes = encoder.encode(text)
    expect(isJson(bytes), text).toBe(parses(bytes))
  }
  for (const text of valid) expect(isJson(encoder.encode(text)), text).toBe(true)
})

it('refuses bytes that are not UTF-8, inside a string or out of it', () => {
  expect(isJson(Uint8Array.of(0x22, 0xff, 0x22))).toBe(false)
  expect(isJson(Uint8Array.of(0x22, 0xc3, 0x22))).toBe(false) // a truncated two-byte sequence
  expect(isJson(Uint8Array.of(0xc3, 0xa9))).toBe(false) // valid UTF-8, but no JSON value
})

it('defers very deep nesting to JSON.parse', () => {
  const deep = encoder.encode('['.repeat(5000) + ']'.repeat(5000))
  expect(isJson(deep)).toBe(parses(deep))
  expect(isJson(encoder.encode('['.repeat(5000) + ']'.repeat(4999)))).toBe(false)
})

it('agrees with JSON.parse on 20,000 seeded mutations of valid texts', () => {
  const int = seededInt(20261206)
  const alphabet = encoder.encode(' \t\n{}[]",:\\/-+.0123456789eEtrufalsn\u00e9x')
  let disagreements = 0
  let accepted = 0
  for (let n = 0; n < 20000; n++) {
    const bytes = Array.from(encoder.encode(valid[int(valid.length)]))
    for (let edits = 1 + int(3); edits > 0; edits--) {
      const at = int(bytes.length + 1)
      const op = int(3)
      if (op === 0) bytes.splice(at, 1) // delete
      else if (op === 1) bytes.splice(at, 0, alphabet[int(alphabet.length)]) // insert
      else bytes[Math.min(at, bytes.length - 1)] = alphabet[int(alphabet.length)] // replace
    }
    const input = Uint8Array.from(bytes)
    const expected = parses(input)
    if (isJson(input) !== expected) disagreements++
    if (expected) accepted++
  }
  expect(disagreements).toBe(0)
  expect(accepted).toBeGreaterThan(1000) // the mutations reach both answers
})
