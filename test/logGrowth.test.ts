// When a room's stored log is compacted (server/room/logGrowth.ts): the counts a load, appends
// and compactions leave, and the thresholds with their jitter.
import { expect, test } from 'vitest'
import { countCompacted, countLoaded, emptyLog, grow } from '../server/room/logGrowth.js'

const limits = { updates: 100, bytes: 1000 }
const rows = (...sizes: number[]) => sizes.map((n) => new Uint8Array(n))

test('a loaded snapshot is not growth: a room whose snapshot passes the byte threshold is not compacted on every load', () => {
  const log = emptyLog()
  countLoaded(log, rows(5000))
  expect(log).toMatchObject({ count: 0, bytes: 0, stored: 1 })
  expect(grow(log, 0, 0, limits)).toBe(false)
  countLoaded(log, rows(5000, 10, 20))
  expect(log).toMatchObject({ count: 2, bytes: 30, stored: 3 })
})

test('the thresholds hold between the configured value and a quarter above it, and counting starts over', () => {
  for (let run = 0; run < 50; run++) {
    const log = emptyLog()
    let n = 0
    while (!grow(log, 1, 1, limits)) n++
    expect(n + 1).toBeGreaterThanOrEqual(100)
    expect(n + 1).toBeLessThanOrEqual(125)
    expect(log).toMatchObject({ count: 0, bytes: 0, stored: n + 1 })
  }
  const bytes = emptyLog()
  expect(grow(bytes, 1, 1250, limits)).toBe(true) // bytes alone pass it too
})

test('a compaction folds its inputs into one stored row', () => {
  const log = emptyLog()
  countLoaded(log, rows(10, 10, 10))
  grow(log, 4, 40, limits)
  countCompacted(log, 7)
  expect(log.stored).toBe(1)
})
