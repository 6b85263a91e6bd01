// A small seeded PRNG (sfc32) so one seed reproduces the same edit scripts and fault
// schedules. Network timing is not seeded, so a replay is the same workload, not the same
// interleaving.

/// A seeded source of random numbers.
export interface Random {
  /// A float in [0, 1).
  next(): number
  /// An integer in [min, max] (both included).
  int(min: number, max: number): number
  /// True with probability `p`.
  chance(p: number): boolean
  /// One element of a non-empty list.
  pick<T>(list: readonly T[]): T
  /// Milliseconds until the next event of a Poisson process with `perMinute` events per
  /// minute; Infinity for a rate of 0.
  waitMs(perMinute: number): number
  /// An independent stream derived from this seed and a label (a client's script, a
  /// connection's faults), so adding a client does not change the others' scripts.
  fork(label: string): Random
}

// cyrb128: spreads a string over four 32-bit words, the state sfc32 needs.
function hashSeed(text: string): [number, number, number, number] {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0]
}

/// A PRNG seeded by `seed` (any string or number).
export function createRandom(seed: string | number): Random {
  const key = String(seed)
  let [a, b, c, d] = hashSeed(key)
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    t = (t + d) | 0
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 12; i++) next() // let the state mix before first use
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (list) => list[Math.floor(next() * list.length)],
    waitMs: (perMinute) => (perMinute <= 0 ? Infinity : (-Math.log(1 - next()) * 60_000) / perMinute),
    fork: (label) => createRandom(`${key}/${label}`),
  }
}
