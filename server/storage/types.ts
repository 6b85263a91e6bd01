// The storage contract. A room's document is an append-only log of Yjs updates plus at most
// one snapshot; loading returns the snapshot first, then the log. Compaction folds the log
// rows it read into a new snapshot and deletes exactly those rows, atomically, so rows
// appended meanwhile stay. Beside the document a store keeps the room's facts (when it was
// created and last changed, who changed it since its last version), its versions (whole
// states, kept apart from the log so compaction never touches them) and, once deleted, its
// tombstone. Stores move bytes only: merging is the caller's (Yjs) business.

/// One update to append to a room's log.
export interface AppendEntry {
  room: string
  update: Uint8Array
  /// Who made it (a token's `sub`, or an editor's display name); null or absent: anonymous.
  author?: string | null
}

/// A stored room, as listed.
export interface RoomInfo {
  name: string
  /// Bytes of its snapshot and log.
  bytes: number
  /// Epoch milliseconds of its first stored update and of its last one.
  createdAt: number
  updatedAt: number
}

/// Which rooms to list, and in what order: by name, or most recently changed first (ties by
/// name, descending). `after` is the last room of the previous page.
export interface ListQuery {
  prefix?: string
  order: 'name' | 'recent'
  limit: number
  after?: { name: string; updatedAt: number } | null
}

/// One page of rooms; `more` is true when rooms follow the last one.
export interface RoomPage {
  rooms: RoomInfo[]
  more: boolean
}

/// A version of a room, without its content.
export interface VersionInfo {
  /// Unique in the store, increasing with time.
  id: number
  createdAt: number
  /// Given on request; null for versions taken automatically.
  label: string | null
  /// Who changed the document between the previous version and this one, sorted.
  authors: string[]
  /// Bytes of the version's state.
  bytes: number
}

/// A version to add.
export interface NewVersion {
  /// The whole document at that moment, as one update.
  update: Uint8Array
  label: string | null
  /// Authors the caller knows of beyond those the store recorded (with appends, or a volatile
  /// store's `noteChange`); the version gets both, and the store's record starts afresh.
  authors: readonly string[]
  /// Add it only if something was appended since the previous version (automatic versions of
  /// several instances, or of an idle room, are not repeated). A volatile store, which is
  /// never appended to, always adds.
  onlyIfChanged: boolean
  /// Epoch milliseconds; default now.
  at?: number
}

/// Which versions to keep: labelled versions are kept while the room exists; of the others,
/// those newer than `olderThan` (epoch ms; 0: any age) and at most `keep` of them, newest first.
export interface Retention {
  olderThan: number
  keep: number
}

/// A whole room as a backup holds it (see `cli/backup.ts`), versions oldest first.
export interface RoomRecord extends Omit<RoomInfo, 'bytes'> {
  update: Uint8Array
  versions: Array<Omit<VersionInfo, 'id' | 'bytes'> & { update: Uint8Array }>
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
  /// Rooms with anything stored, one page at a time (see `ListQuery`).
  list(query: ListQuery): Promise<RoomPage>
  /// Add a version (see `NewVersion`); null when `onlyIfChanged` and nothing changed.
  addVersion(room: string, version: NewVersion): Promise<VersionInfo | null>
  /// The room's versions, newest first.
  versions(room: string): Promise<VersionInfo[]>
  /// One version with its content; null if the room has no such version.
  version(room: string, id: number): Promise<{ info: VersionInfo; update: Uint8Array } | null>
  /// Drop versions the retention does not keep; resolves to how many were dropped.
  pruneVersions(room: string, retention: Retention): Promise<number>
  /// Remove the room's log, snapshot, facts and versions at once, and keep `tombstone` (the
  /// deleted document's state vector, see `room/tombstone.ts`) in their place, replacing an
  /// older one. False when nothing was stored.
  deleteRoom(room: string, tombstone: Uint8Array): Promise<boolean>
  /// The tombstone a deletion left, or null.
  tombstone(room: string): Promise<Uint8Array | null>
  /// Replace the room whole (log, snapshot, facts, versions; a tombstone stays) by a record,
  /// at once: restoring a backup, importing a document.
  putRoom(record: RoomRecord): Promise<void>
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
  /// Record that a room changed, by `author`, without its content (volatile stores, whose
  /// rooms are stored only when they unload): its facts and the authors of its next version
  /// are then as a durable store's would be, and it is listed while it is loaded.
  noteChange?(room: string, author: string | null): void
}

/// The result of a compaction that changed nothing.
export const NOT_COMPACTED: CompactionResult = Object.freeze({ compacted: false, rows: 0, bytesBefore: 0, bytesAfter: 0 })
