// Rooms this browser opened recently, for the landing page's "pick a room" list.

const STORAGE_KEY = 'concord:recent-rooms'
const MAX_RECENT = 12

/// Recently opened rooms, newest first.
export function recentRooms(storage: Storage | null): string[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(STORAGE_KEY) ?? '[]')
    return Array.isArray(parsed) ? parsed.filter((r): r is string => typeof r === 'string').slice(0, MAX_RECENT) : []
  } catch {
    return []
  }
}

/// Put `room` first in the recent list.
export function rememberRoom(storage: Storage | null, room: string): void {
  const rooms = [room, ...recentRooms(storage).filter((r) => r !== room)].slice(0, MAX_RECENT)
  try {
    storage?.setItem(STORAGE_KEY, JSON.stringify(rooms))
  } catch {
    // Storage unavailable: the list is a convenience only.
  }
}

/// The page path of a room's editor.
export const roomPath = (room: string): string => `/r/${encodeURIComponent(room)}`

/// The room named by an editor page path (`/r/<room>`), or null.
export function roomFromPath(pathname: string): string | null {
  const m = /^\/r\/(.+)$/s.exec(pathname)
  if (!m) return null
  try {
    return decodeURIComponent(m[1])
  } catch {
    return null
  }
}
