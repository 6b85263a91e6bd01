// Helpers the stores share for listing rooms and recording authors. Room names are ordered by
// code point, which is how SQLite (BINARY) and PostgreSQL (COLLATE "C") compare UTF-8 text,
// so every store pages through rooms in the same order.
import type { Retention } from './types.js'

/// Compare two room names by code point (JavaScript's `<` compares UTF-16 units, which puts
/// U+E000..U+FFFF after astral characters).
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointRank(x) - codePointRank(y)
  }
  return a.length - b.length
}

/// A UTF-16 unit's rank in code point order: surrogates (astral characters) after the BMP.
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000
  return unit >= 0xe000 ? unit - 0x800 : unit
}

/// The least string above every string that starts with `prefix` (its last code point plus
/// one), or null when there is none: the end of an index range scan.
export function prefixEnd(prefix: string): string | null {
  const points = [...prefix]
  while (points.length) {
    let next = points.pop()!.codePointAt(0)! + 1
    if (next === 0xd800) next = 0xe000 // no surrogates in valid text
    if (next <= 0x10ffff) return points.join('') + String.fromCodePoint(next)
  }
  return null
}

/// The sorted, distinct authors of both lists.
export function mergeAuthors(recorded: readonly string[], known: readonly string[]): string[] {
  return [...new Set([...recorded, ...known])].sort()
}

/// Of a retention's `keep`, how many unlabelled versions a query may keep (null: no limit).
export function keepLimit(retention: Retention): number | null {
  return Number.isFinite(retention.keep) ? Math.max(0, Math.floor(retention.keep)) : null
}
