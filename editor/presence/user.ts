// The local user's name and colour: a random default, remembered in localStorage.
// Pure helpers plus two small storage functions, so the rules are easy to follow.

/// What a user shows to others: the awareness `user` field y-codemirror.next reads.
export interface User {
  name: string
  color: string
  /// Background of the user's selection as others see it.
  colorLight: string
}

const STORAGE_KEY = 'concord:user'
/// Longest name shown to others.
export const MAX_NAME_LENGTH = 40

/// Colours that stay readable as white-on-colour labels and as a light selection tint, and
/// that tell twelve people in a room apart (presence.ts hands out free ones).
export const PALETTE = [
  '#d7263d', '#1b998b', '#2e86ab', '#f46036', '#7b2cbf', '#2f9e44',
  '#c2185b', '#5c6bc0', '#a67c00', '#7c4a2d', '#495057', '#1d3557',
]

const ANIMALS = ['Otter', 'Heron', 'Lynx', 'Wren', 'Badger', 'Ibis', 'Marten', 'Puffin', 'Gecko', 'Robin']

/// A fresh random user.
export function randomUser(random: () => number = Math.random): User {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]
  return makeUser(`${pick(ANIMALS)} ${1 + Math.floor(random() * 99)}`, pick(PALETTE))
}

/// A user from a name and a `#rrggbb` colour; falls back to defaults for bad input.
export function makeUser(name: string, color: string): User {
  const clean = name.replace(/\s+/g, ' ').trim().slice(0, MAX_NAME_LENGTH) || 'Anonymous'
  const hex = /^#[0-9a-f]{6}$/i.test(color) ? color.toLowerCase() : PALETTE[0]
  return { name: clean, color: hex, colorLight: hex + '33' }
}

/// The remembered user, or a new random one (remembered from then on).
export function loadUser(storage: Storage | null): User {
  try {
    const raw = storage?.getItem(STORAGE_KEY)
    if (raw) {
      const parsed = JSON.parse(raw) as Partial<User>
      if (typeof parsed.name === 'string' && typeof parsed.color === 'string') return makeUser(parsed.name, parsed.color)
    }
  } catch {
    // Storage blocked or corrupted: a fresh user is the sensible outcome.
  }
  const user = randomUser()
  saveUser(storage, user)
  return user
}

/// Remember the user (ignored when storage is unavailable, e.g. private mode quotas).
export function saveUser(storage: Storage | null, user: User): void {
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify({ name: user.name, color: user.color }))
  } catch {
    // Nothing to do: the name still works for this tab.
  }
}
