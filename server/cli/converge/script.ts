// Seeded edit scripts: what a simulated client does next and how long it waits first.
// Typing comes in bursts and pauses; text mixes ASCII, multi-byte letters and emoji
// (surrogate pairs, skin tones, ZWJ sequences, flags). Each step edits one of the chosen
// shapes: the plain text is typed here, the others are edited by `randomEdit` (shapes.ts).
import type { Random } from './random.js'
import type { Shape } from './shapes.js'

/// One action of a client.
export type Edit =
  | { kind: 'insert'; index: number; text: string }
  | { kind: 'delete'; index: number; length: number }
  | { kind: 'undo' }
  | { kind: 'redo' }
  | { kind: 'awareness'; cursor: number }
  /// A random edit of a shape other than the plain text, drawn from its own seed (the
  /// edit depends on the document, which network timing shapes; the seed keeps scripts data).
  | { kind: 'shape'; shape: Exclude<Shape, 'text'>; seed: number }

/// The next action, after waiting `delayMs`.
export interface Step {
  edit: Edit
  delayMs: number
}

/// A client's script: call `next` with the client's current text.
export interface Script {
  next(text: string): Step
}

const ALPHABET: readonly string[] = [
  ...'abcdefghijklmnopqrstuvwxyz', ' ', ' ', ' ', '\n', 'é', 'ß', 'ж', 'ñ', '中', '文', 'ア', '€',
  '🙂', '🚀', '👍🏽', '👩‍💻', '🇫🇷', '𝄞',
]

/// Move `index` off the middle of a surrogate pair. Editors place cursors on code point
/// boundaries; Yjs indexes UTF-16 units and would replace a split pair with U+FFFD.
export function clampToCodePoint(text: string, index: number): number {
  if (index <= 0 || index >= text.length) return Math.max(0, Math.min(index, text.length))
  const before = text.charCodeAt(index - 1)
  const at = text.charCodeAt(index)
  const splitsPair = before >= 0xd800 && before <= 0xdbff && at >= 0xdc00 && at <= 0xdfff
  return splitsPair ? index - 1 : index
}

function randomText(rng: Random): string {
  let out = ''
  const n = rng.int(1, 8)
  for (let i = 0; i < n; i++) out += rng.pick(ALPHABET)
  return out
}

// Exponential delay around a mean, capped so one step never waits absurdly long.
function jitter(rng: Random, meanMs: number): number {
  return Math.min(meanMs * 5, -Math.log(1 - rng.next()) * meanMs)
}

/// A seeded script typing `editRate` edits per second on average while typing, each step
/// on one of `shapes` (the plain text alone by default, as before shapes existed).
export function createScript(rng: Random, editRate: number, shapes: readonly Shape[] = ['text']): Script {
  let mode: 'typing' | 'burst' | 'pause' = 'typing'
  let left = 0
  const typingMs = 1000 / editRate

  function delay(): number {
    if (left <= 0) {
      const r = rng.next()
      mode = r < 0.7 ? 'typing' : r < 0.9 ? 'burst' : 'pause'
      left = mode === 'typing' ? rng.int(5, 30) : mode === 'burst' ? rng.int(5, 40) : 1
    }
    left--
    if (mode === 'burst') return rng.int(0, 5)
    if (mode === 'pause') return typingMs * rng.int(3, 15)
    return jitter(rng, typingMs)
  }

  // One list entry draws nothing, so a text-only run replays the scripts it always had.
  function edit(text: string): Edit {
    const shape = shapes.length === 1 ? shapes[0] : rng.pick(shapes)
    return shape === 'text' ? textEdit(text) : shapeEdit(shape)
  }

  // Undo and redo act on the client's UndoManager, whose scope is every chosen shape.
  function shapeEdit(shape: Exclude<Shape, 'text'>): Edit {
    const r = rng.next()
    if (r < 0.06) return { kind: 'undo' }
    if (r < 0.09) return { kind: 'redo' }
    return { kind: 'shape', shape, seed: rng.int(0, 0x7fffffff) }
  }

  function textEdit(text: string): Edit {
    if (text.length === 0) return { kind: 'insert', index: 0, text: randomText(rng) }
    // Keep documents from growing without end: delete more, and more at once, when long.
    const long = text.length > 2000
    const r = rng.next()
    const pDelete = long ? 0.55 : 0.25
    if (r < 0.08) return { kind: 'awareness', cursor: clampToCodePoint(text, rng.int(0, text.length)) }
    if (r < 0.14) return { kind: 'undo' }
    if (r < 0.17) return { kind: 'redo' }
    if (r < 0.17 + pDelete) {
      const index = clampToCodePoint(text, rng.int(0, text.length - 1))
      const max = Math.min(long ? 200 : 8, text.length - index)
      const end = clampToCodePoint(text, index + rng.int(1, max))
      // A pair straddling the end: take it whole rather than split it.
      const length = end > index ? end - index : Math.min(2, text.length - index)
      return { kind: 'delete', index, length }
    }
    return { kind: 'insert', index: clampToCodePoint(text, rng.int(0, text.length)), text: randomText(rng) }
  }

  return { next: (text) => ({ delayMs: delay(), edit: edit(text) }) }
}
