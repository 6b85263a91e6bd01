// Putting quiet rooms to sleep (see `EncodedDoc`): a room whose document has not changed, and
// which has not woken, for `afterMs` gives its Y.Doc back. One timer for every room: a timer
// reset per update would cost more than the typing it watches.
import type { Room } from './room.js'

/// Looks at an unchanged room before it sleeps.
const LOOKS = 5

/// What the sleeper watches: the loaded rooms.
export type LoadedRooms = () => Iterable<Room>

/// Looks at every loaded room each `afterMs / 4`; a room awake and at the same version at
/// five looks in a row (quiet for `afterMs` to 1.25 × `afterMs`) is put to sleep. Returns a
/// stop function.
export function sleeper(rooms: LoadedRooms, afterMs: number): () => void {
  /// Per awake room: its version, and how many looks in a row found it so.
  const seen = new WeakMap<Room, { version: number; looks: number }>()
  const timer = setInterval(() => {
    for (const room of rooms()) {
      if (room.document.sleeping) {
        seen.delete(room)
        continue
      }
      const last = seen.get(room)
      if (!last || last.version !== room.document.version) seen.set(room, { version: room.document.version, looks: 1 })
      else if (++last.looks >= LOOKS && room.document.sleep()) seen.delete(room)
    }
  }, Math.max(5, afterMs / (LOOKS - 1)))
  timer.unref()
  return () => clearInterval(timer)
}
