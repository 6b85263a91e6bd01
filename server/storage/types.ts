// The storage contract. A room's document is an append-only log of Yjs updates; loading
// returns them all (snapshot first), and compaction may replace a prefix with one snapshot.

/// One update to append to a room's log.
export interface AppendEntry {
  room: string
  update: Uint8Array
}

/// Durable storage of rooms' update logs. Implementations know nothing of sockets or Yjs
/// documents beyond bytes.
export interface Storage {
  /// Every stored update of the room, oldest first (an empty array for a new room).
  load(room: string): Promise<Uint8Array[]>
  /// Append updates, possibly of several rooms, atomically: all are stored when it resolves.
  append(entries: readonly AppendEntry[]): Promise<void>
  /// Release connections and files.
  close(): Promise<void>
  /// Resolve when the store answers (a round trip to the database); /readyz uses it.
  ping?(): Promise<void>
}
