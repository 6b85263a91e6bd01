// The storage contract. A room's document is an append-only log of Yjs updates plus at most
// one snapshot; loading returns the snapshot first, then the log. Compaction folds the log
// rows it read into a new snapshot and deletes exactly those rows, atomically, so rows
// appended meanwhile stay. Stores move bytes only: merging is the caller's (Yjs) business.

/// One update to append to a room's log.
export interface AppendEntry {
  room: string
  update: Uint8Array
}

/// Turns a room's snapshot and log (oldest first) into one update covering them all.
export type MergeUpdates = (updates: Uint8Array[]) => Uint8Array | Promise<Uint8Array>

/// What one compaction did.
export interface CompactionResult {
  /// False when there was nothing to fold, or another compaction of the same room (maybe in
  /// another process) committed first; the room is then left as that one wrote it.
  compacted: boolean
  /// Log rows folded into the snapshot.
  rows: number
  /// Bytes of snapshot plus folded rows before, and of the new snapshot after.
  bytesBefore: number
  bytesAfter: number
}

/// Durable storage of rooms' update logs. Implementations know nothing of sockets or Yjs
/// documents beyond bytes.
export interface Storage {
  /// Every stored update of the room, snapshot first (an empty array for a new room).
  load(room: string): Promise<Uint8Array[]>
  /// Append updates, possibly of several rooms, atomically: all are stored when it resolves.
  append(entries: readonly AppendEntry[]): Promise<void>
  /// Fold the room's snapshot and current log rows into one snapshot with `merge`. Rows
  /// appended while `merge` runs are not touched. Safe to run concurrently for one room,
  /// in one process or several: at most one of the racing compactions commits.
  compact?(room: string, merge: MergeUpdates): Promise<CompactionResult>
  /// Resolves when the store answers (used by readiness checks); rejects otherwise.
  ping(): Promise<void>
  /// Release connections and files.
  close(): Promise<void>
  /// `append` for a store that needs no I/O (memory): done when it returns, throws on
  /// failure. The write batcher then stores each update at once, with no batch, timer or
  /// promise (per keystroke, those cost more than the append itself).
  appendNow?(entries: readonly AppendEntry[]): void
  /// Set by a store that keeps nothing across a restart (memory). A loaded room's document is
  /// then as safe as anything the store holds, so live updates are not appended one by one:
  /// the room's whole state is stored with `replace` when it unloads or the server stops.
  readonly volatile?: boolean
  /// Store `snapshot` as all of a room's state, dropping its snapshot and log (volatile
  /// stores).
  replace?(room: string, snapshot: Uint8Array): void
}

/// The result of a compaction that changed nothing.
export const NOT_COMPACTED: CompactionResult = Object.freeze({ compacted: false, rows: 0, bytesBefore: 0, bytesAfter: 0 })
