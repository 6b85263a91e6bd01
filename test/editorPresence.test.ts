// The editor's presence and offline rules on their own: grouping tabs into people, choosing
// a free colour, the browser id, and the words of the status line.
import { describe, expect, test } from 'vitest'
import { browserId, colourToTake, othersText, people, personText } from '../editor/presence/presence.js'
import { saveText } from '../editor/connection/offline.js'
import { PALETTE } from '../editor/presence/user.js'
import type { ProviderState } from '../editor/connection/provider.js'
import { mulberry32 } from './random.js'

type State = { [key: string]: unknown }
const state = (name: string, color: string, browser?: string): State => ({ user: { name, color, colorLight: color + '33', ...(browser ? { browser } : {}) } })

describe('people list', () => {
  test('tabs of one browser under one name are one entry; ours first', () => {
    const states = new Map<number, State>([
      [50, state('Bob', '#2e86ab', 'b')],
      [10, state('Ada', '#c2185b', 'a')],
      [30, state('Ada', '#c2185b', 'a')],
      [70, state('Ada', '#c2185b', 'a')],
      [20, state('Cy', '#2f9e44', 'c')],
    ])
    const list = people(states, 50)
    expect(list.map(personText)).toEqual(['Bob (you)', 'Ada · 3 tabs', 'Cy'])
    expect(othersText(list)).toBe('2 other people')
    expect(people(states, 30).map(personText)).toEqual(['Ada (you) · 3 tabs', 'Cy', 'Bob'])
    expect(othersText(people(states, 30))).toBe('2 other people')
  })

  test('two browsers with one name are two people; states without a browser each count alone', () => {
    const states = new Map<number, State>([
      [1, state('Ada', '#c2185b', 'a')],
      [2, state('Ada', '#c2185b', 'other')],
      [3, state('Old client', '#5c6bc0')],
      [4, state('Old client', '#5c6bc0')],
      [5, {}],
    ])
    expect(people(states, 1).map(personText)).toEqual(['Ada (you)', 'Ada', 'Old client', 'Old client'])
    expect(othersText(people(new Map([[1, state('Ada', '#c2185b', 'a')], [2, state('Ada', '#c2185b', 'a')]]), 1))).toBe('no one else here')
  })

  test('names are cleaned as the editor cleans its own, colours fall back to the palette', () => {
    const states = new Map<number, State>([[1, { user: { name: '  Zoë \n  K ', color: 'red', browser: 'z' } }]])
    expect(people(states, 2)).toEqual([{ name: 'Zoë K', color: PALETTE[0], tabs: 1, you: false }])
  })
})

describe('colour choice', () => {
  test('the higher client id of two people with one colour moves to the first free colour', () => {
    const states = new Map<number, State>([
      [10, state('Ada', PALETTE[0], 'a')],
      [20, state('Bob', PALETTE[0], 'b')],
    ])
    expect(colourToTake(states, 10, 'a', PALETTE[0])).toBeNull()
    expect(colourToTake(states, 20, 'b', PALETTE[0])).toBe(PALETTE[1])
  })

  test('one person\'s own tabs never push each other away', () => {
    const states = new Map<number, State>([
      [10, state('Ada', PALETTE[3], 'a')],
      [20, state('Ada', PALETTE[3], 'a')],
    ])
    expect(colourToTake(states, 20, 'a', PALETTE[3])).toBeNull()
  })

  test('a full palette keeps the colour', () => {
    const states = new Map<number, State>(PALETTE.map((c, i) => [i + 1, state(`P${i}`, c, `b${i}`)]))
    states.set(100, state('Late', PALETTE[0], 'late'))
    expect(colourToTake(states, 100, 'late', PALETTE[0])).toBeNull()
  })

  test('twelve people who all start with one colour end with twelve, whatever the order of turns', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const random = mulberry32(seed)
      const ids = Array.from({ length: 12 }, (_, i) => 1000 + Math.floor(random() * 1e6) * 12 + i)
      const states = new Map<number, State>(ids.map((id, i) => [id, state(`P${i}`, PALETTE[5], `b${i}`)]))
      for (let round = 0; round < 200; round++) {
        const id = ids[Math.floor(random() * ids.length)]
        const mine = (states.get(id)!.user as { color: string; browser: string })
        const next = colourToTake(states, id, mine.browser, mine.color)
        if (next) states.set(id, state(`P${ids.indexOf(id)}`, next, mine.browser))
      }
      // Whoever still clashes moves on their next turn: let everyone have turns until calm.
      let moved = true
      while (moved) {
        moved = false
        for (const id of ids) {
          const mine = (states.get(id)!.user as { color: string; browser: string })
          const next = colourToTake(states, id, mine.browser, mine.color)
          if (next) { states.set(id, state('x', next, mine.browser)); moved = true }
        }
      }
      const colours = [...states.values()].map((s) => (s.user as { color: string }).color)
      expect(new Set(colours).size, `seed ${seed}`).toBe(12)
    }
  })

  test('the palette has twelve distinct colours', () => {
    expect(PALETTE.length).toBeGreaterThanOrEqual(12)
    expect(new Set(PALETTE.map((c) => c.toLowerCase())).size).toBe(PALETTE.length)
  })
})

describe('browser id', () => {
  function memoryStorage(): Storage {
    const items = new Map<string, string>()
    return {
      get length() { return items.size },
      clear: () => items.clear(),
      getItem: (k) => items.get(k) ?? null,
      key: (i) => [...items.keys()][i] ?? null,
      removeItem: (k) => { items.delete(k) },
      setItem: (k, v) => { items.set(k, v) },
    }
  }

  test('made once and then remembered; without storage a fresh one each time', () => {
    const storage = memoryStorage()
    const first = browserId(storage, mulberry32(1))
    expect(first).toMatch(/^[a-z0-9]{16}$/)
    expect(browserId(storage, mulberry32(2))).toBe(first)
    expect(browserId(null, mulberry32(3))).not.toBe(browserId(null, mulberry32(4)))
    storage.setItem('concord:browser', '../bad id')
    expect(browserId(storage, mulberry32(5))).not.toBe('../bad id')
  })
})

describe('status words', () => {
  const provider = (saved: boolean): ProviderState => ({
    status: 'offline', synced: false, saved, peers: 0, stopped: null, denied: null, attempt: 0, retryInMs: null,
  })
  test('the server first, then this device, else saving', () => {
    expect(saveText(provider(true), { available: true, loaded: true, saved: false })).toBe('Saved on the server')
    expect(saveText(provider(false), { available: true, loaded: true, saved: true })).toBe('Saved on this device')
    expect(saveText(provider(false), { available: true, loaded: true, saved: false })).toBe('Saving…')
    expect(saveText(provider(false), { available: false, loaded: false, saved: true })).toBe('Saving…')
  })
})
