// When a room's versions are taken: once it has been quiet for a while after changes, at a
// bounded interval while changes go on, before it unloads with changes not yet in a version,
// and on request. A version is the whole document (see `Storage.addVersion`); the authors it
// names are those the store recorded since the previous version, with each append (or, for a
// volatile store, with each `noteChange`).
import type { Room } from './room.js'
import type { Retention, Storage, VersionInfo } from '../storage/types.js'

/// When automatic versions are taken and how long they are kept.
export interface VersioningOptions {
  /// A changed room gets a version once no change came for this long (0: no automatic versions).
  quietMs: number
  /// ...and at the latest this long after its first change since the last version.
  everyMs: number
  /// Unlabelled versions older than this are dropped (0: kept whatever their age)...
  keepMs: number
  /// ...and beyond this many per room, oldest first. Labelled versions stay.
  keepCount: number
}

interface Pending {
  quiet: NodeJS.Timeout
  every: NodeJS.Timeout
}

/// Takes a store's versions for the rooms of one server.
export class Versioning {
  /// Rooms changed since their last version, with their timers.
  private readonly pending = new Map<string, Pending>()
  private stopped = false

  constructor(
    private readonly storage: Storage,
    private readonly options: VersioningOptions,
    private readonly events: {
      /// Resolves once every update queued so far is stored (the version must not be ahead of
      /// the authors the store knows).
      drain(): Promise<void>
      /// The loaded room of that name, if any.
      room(name: string): Room | undefined
      failed(room: string, error: unknown): void
    },
  ) {}

  /// A room changed: (re)start its quiet timer, and its interval if it was not running.
  changed(name: string): void {
    if (this.options.quietMs <= 0 || this.stopped) return
    const timers = this.pending.get(name)
    if (timers) return void timers.quiet.refresh()
    const due = (): void => {
      const room = this.events.room(name)
      if (room) void this.take(room, null).catch((error: unknown) => this.events.failed(name, error))
      else this.forget(name)
    }
    const quiet = setTimeout(due, this.options.quietMs).unref()
    const every = setTimeout(due, Math.max(this.options.quietMs, this.options.everyMs)).unref()
    this.pending.set(name, { quiet, every })
  }

  /// Whether the room has changes not yet in a version.
  changedSinceVersion(name: string): boolean {
    return this.pending.has(name)
  }

  /// Take a version of the room now. With `onlyIfChanged` (by default when unlabelled) it is
  /// skipped (null) when the store saw no change since the previous one (another instance
  /// took it, or nothing changed).
  async take(room: Room, label: string | null, onlyIfChanged = label === null): Promise<VersionInfo | null> {
    this.forget(room.name)
    await this.events.drain()
    // Deleted (or unloaded and destroyed) meanwhile: nothing left to take a version of.
    if (this.events.room(room.name) !== room) return null
    // The store knows the authors: from each append, or (volatile) from `noteChange`.
    const info = await this.storage.addVersion(room.name, { update: room.document.snapshot, label, authors: [], onlyIfChanged })
    if (info) await this.storage.pruneVersions(room.name, this.retention())
    return info
  }

  /// Take the version a room still owes before it unloads.
  async settle(room: Room): Promise<void> {
    if (!this.pending.has(room.name)) return
    try {
      await this.take(room, null)
    } catch (error) {
      this.events.failed(room.name, error)
    }
  }

  /// Drop a room's timers (deleted, or versioned).
  forget(name: string): void {
    const timers = this.pending.get(name)
    if (!timers) return
    clearTimeout(timers.quiet)
    clearTimeout(timers.every)
    this.pending.delete(name)
  }

  /// What `pruneVersions` keeps now.
  retention(now = Date.now()): Retention {
    return { olderThan: this.options.keepMs > 0 ? now - this.options.keepMs : 0, keep: this.options.keepCount }
  }

  /// Take no more automatic versions.
  stop(): void {
    this.stopped = true
    for (const name of [...this.pending.keys()]) this.forget(name)
  }
}
