// Room names the server accepts, checked in the page before any request: the server's own
// rules (server/protocol/roomName.ts), so the page and the server never disagree.
import { MAX_ROOM_NAME_BYTES, parseRoomName } from '../../server/protocol/roomName.js'

/// What is wrong with a room name, in words a person can act on, or null if it is fine.
export function roomNameProblem(room: string): string | null {
  if (room.trim() === '') return 'Type a name for the room.'
  const parsed = parseRoomName('/' + encodeURIComponent(room))
  if (parsed.ok) return null
  if (/longer than/.test(parsed.reason)) {
    const bytes = new TextEncoder().encode(room).length
    return `This name is too long: ${bytes} bytes, and a room name may have at most ${MAX_ROOM_NAME_BYTES} (letters such as é or 中 count 2–4 bytes each). Shorten it.`
  }
  if (/control characters/.test(parsed.reason)) return 'This name contains control characters (such as a tab or a line break). Remove them.'
  return `This name cannot be used: ${parsed.reason}.`
}
