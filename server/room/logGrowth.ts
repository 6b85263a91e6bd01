// When a room's stored log is compacted. Counted per room from what this instance loaded,
// appended and compacted: rows another instance appends are not seen here, so in a cluster
// each instance compacts on its own count.

/// A room's stored log, as far as this instance knows.
export interface LogGrowth {
  /// Rows appended since the last compaction was asked for.
  count: number
  /// Bytes of those rows.
  bytes: number
  /// Rows a load of the room would return now (snapshot and log); a compaction whose inputs
  /// are exactly these may take the room's live document as its snapshot.
  stored: number
  /// This room's thresholds exceed the configured ones by this fraction (see `jitter`).
  slack: number
}

/// When a log is compacted: after this many rows or bytes, whichever comes first.
export interface LogLimits {
  updates: number
  bytes: number
}

/// Rooms that fill up at the same pace (created together, typed in evenly, loaded after a
/// restart) would all pass the thresholds in the same second and queue their compactions
/// back to back; each room's thresholds are raised by up to a quarter, drawn anew after
/// each compaction, so compactions spread out instead.
const jitter = (): number => Math.random() * 0.25

/// The log of a room not loaded yet.
export function emptyLog(): LogGrowth {
  return { count: 0, bytes: 0, stored: 0, slack: jitter() }
}

/// Count what a load returned. The first update may be a snapshot: only the rest counts as
/// growth, so a room whose snapshot alone passes the byte threshold is not compacted again
/// on every load.
export function countLoaded(log: LogGrowth, updates: readonly Uint8Array[]): void {
  log.stored = updates.length
  log.count = Math.max(0, updates.length - 1)
  log.bytes = 0
  for (let i = 1; i < updates.length; i++) log.bytes += updates[i].length
}

/// Count `count` rows of `bytes` appended. True once the log passes a threshold: the caller
/// asks for a compaction, and rows counted from then on count towards the next one (they may
/// miss this compaction).
export function grow(log: LogGrowth, count: number, bytes: number, limits: LogLimits): boolean {
  log.stored += count
  log.count += count
  log.bytes += bytes
  const scale = 1 + log.slack
  if (log.count < limits.updates * scale && log.bytes < limits.bytes * scale) return false
  log.count = 0
  log.bytes = 0
  log.slack = jitter()
  return true
}

/// A compaction replaced `inputs` stored rows with one snapshot.
export function countCompacted(log: LogGrowth, inputs: number): void {
  log.stored += 1 - inputs
}
