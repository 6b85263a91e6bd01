// Putting quiet rooms to sleep (see `EncodedDoc`): a room whose document has not changed, and
// which has not woken, for `afterMs` gives its Y.Doc back. One timer for every room: a timer
// reset per update would cost more than the typing it watches.
import type { Room } from './room.js'

/// What the sleeper watches: the loaded rooms.
export type LoadedRooms = () => Iterable<Room>

/// Looks at every loaded room each `afterMs / 2`; a room awake and at the same version at
/// three looks in a row (quiet for at least `afterMs`) is put to sleep. Returns a stop function.
export function sleeper(rooms: LoadedRooms, afterMs: number): () => void {
  /// Per awake room: its version, and how many looks in a row found it so.
  const seen = new WeakMap<Room, { version: number; looks: number }>()
  const timer = setInterval(() => {
    for (const room of rooms()) {
      if (room.sleeping) {
        seen.delete(room)
        continue
      }
      const last = seen.get(room)
      if (!last || last.version !== room.version) seen.set(room, { version: room.version, looks: 1 })
      else if (++last.looks >= 3 && room.sleep()) seen.delete(room)
    }
  }, Math.max(5, afterMs / 2))
  timer.unref()
  return () => clearInterval(timer)
}
