// The access token of an editor page. A share link carries it in the URL fragment
// (`/r/<room>#token=…`), which browsers never send to the server, so it stays out of request
// lines and logs. The page takes it from there, keeps it for this tab (sessionStorage, per
// room) and removes it from the address bar, so it is not copied along with the address or
// kept in the history.

const STORAGE_KEY = 'concord:tokens'
/// Rooms whose tokens a tab keeps; the oldest are dropped past this.
const MAX_ROOMS = 50

function tokens(storage: Storage | null): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(STORAGE_KEY) ?? '{}')
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {}
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'))
  } catch {
    return {}
  }
}

function save(storage: Storage | null, all: Record<string, string>): void {
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify(all))
  } catch {
    // Storage unavailable: the token lasts as long as this page.
  }
}

/// The token in a fragment (`#token=…`, maybe among other `key=value` parts), and the
/// fragment without it ('' when nothing else is left).
export function splitFragment(hash: string): { token: string | null; rest: string } {
  const params = new URLSearchParams(hash.replace(/^#/, ''))
  const token = params.get('token')
  if (token === null) return { token: null, rest: hash }
  params.delete('token')
  const rest = params.toString()
  return { token: token.trim() || null, rest: rest ? `#${rest}` : '' }
}

/// The token for `room`: a new one from the address bar (which is then removed from it and
/// kept for this tab), else the one kept earlier in this tab, else null.
export function takeToken(room: string, storage: Storage | null, where: Location = location, past: History = history): string | null {
  const kept = tokens(storage)
  const { token, rest } = splitFragment(where.hash)
  if (token !== null || where.hash !== rest) {
    past.replaceState(past.state, '', where.pathname + where.search + rest)
  }
  if (token !== null) {
    delete kept[room] // re-inserted last: the newest
    kept[room] = token
    const rooms = Object.keys(kept)
    for (const old of rooms.slice(0, Math.max(0, rooms.length - MAX_ROOMS))) delete kept[old]
    save(storage, kept)
    return token
  }
  return kept[room] ?? null
}

/// The tab's storage, or null where it is unavailable.
export function tabStorage(): Storage | null {
  try { return window.sessionStorage } catch { return null }
}
