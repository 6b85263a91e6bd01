// Room names come from the URL path, as in y-websocket: `/notes/today?x=1` is room
// `notes/today`. Pure functions, so the rules are testable on their own.

/// Longest room name, in UTF-8 bytes.
export const MAX_ROOM_NAME_BYTES = 512

/// A room name, or the reason the path does not name one.
export type RoomNameResult = { ok: true; room: string } | { ok: false; reason: string }

const encoder = new TextEncoder()

/// Parse and validate the room named by a request path (query string ignored).
export function parseRoomName(url: string): RoomNameResult {
  const path = url.split('?', 1)[0].split('#', 1)[0]
  let room: string
  try {
    room = decodeURIComponent(path.replace(/^\/+/, ''))
  } catch {
    return { ok: false, reason: 'room name is not valid percent-encoding' }
  }
  if (room.length === 0) return { ok: false, reason: 'room name is empty' }
  if (encoder.encode(room).length > MAX_ROOM_NAME_BYTES) {
    return { ok: false, reason: `room name is longer than ${MAX_ROOM_NAME_BYTES} bytes` }
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(room)) return { ok: false, reason: 'room name contains control characters' }
  return { ok: true, room }
}

/// Query parameters of a request URL.
export function queryOf(url: string): URLSearchParams {
  const q = url.indexOf('?')
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
}
