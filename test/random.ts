// One seeded PRNG for every test, so a failing run replays exactly from its seed.

/// mulberry32: a float in [0, 1) per call, the same sequence for the same seed.
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/// An integer in [0, n) per call, from mulberry32.
export function seededInt(seed: number): (n: number) => number {
  const next = mulberry32(seed)
  return (n) => Math.floor(next() * n)
}
