// Which instance's clients each awareness state belongs to, in one room shared through the
// cluster: so that a dead instance's users can be removed, and so that an instance answers
// for its own users' cursors only.
import { decodeAwareness, encodeAwarenessEntries, type PresenceEntry } from '../room/presence.js'
import type { Room } from '../room/room.js'

/// Awareness client ids by the instance that last announced a state for them.
export type Owners = Map<string, Set<number>>

/// The awareness states of this instance's own clients in the room (null if none).
export function ownAwareness(room: Room): Uint8Array | null {
  const entries: Array<[number, PresenceEntry]> = []
  for (const peer of room.peers.keys()) {
    for (const id of peer.awarenessIds) {
      const entry = room.presence.entries.get(id)
      if (entry?.state) entries.push([id, entry])
    }
  }
  return entries.length ? encodeAwarenessEntries(entries) : null
}

/// Record which states of an awareness update from instance `from` it now owns, then apply
/// the update to the room. Throws on a malformed update (nothing is applied then).
export function applyOwned(owners: Owners, room: Room, from: string, awareness: Uint8Array): void {
  for (const { client, clock, state } of decodeAwareness(awareness)) {
    // Only a newer clock moves ownership: stock y-websocket clients echo the states of
    // others at the same clock, and their instance relays the echo.
    const current = room.presence.entries.get(client)
    if (current && (state ? clock <= current.clock : clock < current.clock)) continue
    if (state) {
      for (const [other, ids] of owners) if (other !== from) ids.delete(client)
      let ids = owners.get(from)
      if (!ids) owners.set(from, (ids = new Set()))
      ids.add(client)
    } else {
      owners.get(from)?.delete(client)
    }
  }
  room.applyRemoteAwareness(awareness)
}

/// Remove the states of a departed instance's clients (`ids`) from the room, except those of
/// clients that already reconnected here.
export function removeOwned(room: Room, ids: ReadonlySet<number>): void {
  const local = new Set<number>()
  for (const peer of room.peers.keys()) for (const id of peer.awarenessIds) local.add(id)
  // Removed at the same clock (the rules allow it): a user whose tab reconnects late is
  // shown again at its next awareness change, not only after the one after.
  const removal: Array<[number, PresenceEntry]> = []
  for (const id of ids) {
    const entry = room.presence.entries.get(id)
    if (entry?.state && !local.has(id)) removal.push([id, { clock: entry.clock, state: null }])
  }
  if (removal.length) room.applyRemoteAwareness(encodeAwarenessEntries(removal))
}
