// The registry of loaded rooms: loads each room once however many joins race (single
// flight), unloads it after a grace period without peers, asks for compaction when a room's
// log grows past a threshold, and routes storage failures.
import { performance } from 'node:perf_hooks'
import { CloseCode } from '../protocol/closeCodes.js'
import { Room, type RoomHooks } from './room.js'
import { sleeper } from './sleeper.js'
import { countCompacted, countLoaded, emptyLog, grow, type LogGrowth, type LogLimits } from './logGrowth.js'
import { joinTombstones, tombstoneClocks, tombstoneFor, withoutDeleted } from './tombstone.js'
import { Versioning, type VersioningOptions } from './versioning.js'
import { compactor, type Compactor } from '../storage/compaction.js'
import type { CompactionResult, Storage } from '../storage/types.js'
import { appendStored, writeBatcher, type WriteBatcher } from '../storage/writeBatcher.js'

/// What the registry calls around a room's life; `cluster/redis.ts` implements it.
export interface RoomsCluster {
  /// Before loading a room from storage: subscribe to its channel, so nothing published
  /// while loading is missed.
  beforeLoad(room: string): Promise<void>
  /// After loading: apply what arrived meanwhile and ask the peers for what storage lacked.
  /// `store` appends an update to the room's log (used when a peer dies).
  loaded(room: Room, store: (update: Uint8Array) => Promise<void>): void
  /// The room was unloaded (`room`) or failed to load (`null`): unsubscribe.
  left(name: string, room: Room | null): void
  /// The room was deleted here: every instance drops it (see `Rooms.dropDeleted`).
  deleted(name: string): void
}

/// Options of the room registry.
export interface RoomsOptions {
  storage: Storage
  /// How long a room without peers stays loaded.
  unloadAfterMs: number
  /// Forward updates and awareness to other instances.
  publish?: RoomHooks['publish']
  /// Other instances sharing the rooms: told around each load and unload.
  cluster?: RoomsCluster
  /// Report errors (storage failures) somewhere visible.
  log?: (message: string, error: unknown) => void
  /// Told about loads, unloads and applied updates, for metrics.
  observer?: RoomsObserver
  /// Called once a change to a room is durably stored (the webhook).
  stored?: (room: string) => void
  /// Compact a room's log once this many updates were appended to it (default 500).
  /// Milliseconds a storage commit gathers updates for (see `writeBatcher`); default 0.
  commitDelayMs?: number
  compactAfterUpdates?: number
  /// Compact a room's log once this many bytes were appended to it (default 4 MiB).
  compactAfterBytes?: number
  /// Told about every compaction (for logs and metrics).
  compacted?: (room: string, result: CompactionResult, ms: number) => void
  /// A deterministic update (see storage/seed.ts) applied to, and stored in, every room that
  /// loads empty.
  seed?: Uint8Array
  /// Bytes of updates with missing dependencies a room holds (see `Integrator`); default no limit.
  maxPendingBytes?: number
  /// When versions are taken (see `Versioning`); default: only on request.
  versions?: VersioningOptions
  /// Rooms load asleep (their document kept encoded until something needs a Y.Doc, see
  /// `EncodedDoc`) and fall asleep again after this long without a change; 0 (the default):
  /// never. Not with a cluster, whose state exchange reads every room's Y.Doc.
  sleepAfterMs?: number
}

/// What the registry reports for metrics (times in seconds).
export interface RoomsObserver {
  loaded(seconds: number): void
  unloaded(reason: 'idle' | 'failed' | 'deleted'): void
  applied?: RoomHooks['applied']
}

interface Entry {
  room: Room | null
  loading: Promise<Room> | null
  unloadTimer: NodeJS.Timeout | null
  /// Its stored log, counted towards the next compaction.
  log: LogGrowth
  /// The room's version when a volatile store last had all of it (see `keep`).
  kept: number
}

/// How long after loading an asleep room its stored log may be compacted (see `acquire`).
const COMPACT_AFTER_LOAD_MS = 1000

/// Loaded rooms of one server.
export class Rooms {
  private readonly entries = new Map<string, Entry>()
  readonly writes: WriteBatcher
  readonly compactor: Compactor
  private readonly hooks: RoomHooks
  private readonly limits: LogLimits
  /// Whether the store is volatile (see `Storage.volatile`): live updates are then not
  /// appended, and a room's state is stored when it unloads or the server stops.
  private readonly volatile: boolean
  readonly versioning: Versioning
  /// Whether rooms sleep (see `RoomsOptions.sleepAfterMs`).
  private readonly sleeps: boolean
  private readonly stopSleeper: () => void

  constructor(private readonly options: RoomsOptions) {
    this.writes = writeBatcher(options.storage, options.commitDelayMs ?? 0, (entries) => {
      for (const { room, update } of entries) {
        this.grew(room, 1, update.length)
        options.stored?.(room)
      }
    })
    this.limits = { updates: options.compactAfterUpdates ?? 500, bytes: options.compactAfterBytes ?? 4 * 1024 * 1024 }
    this.compactor = compactor(options.storage, {
      snapshot: (room, inputs) => this.liveSnapshot(room, inputs),
      compacted: (room, result, ms, inputs) => {
        const entry = this.entries.get(room)
        if (entry && result.compacted) countCompacted(entry.log, inputs)
        options.compacted?.(room, result, ms)
      },
      failed: (room, error) => options.log?.(`compacting room ${JSON.stringify(room)} failed`, error),
    })
    const { storage } = options
    this.volatile = storage.volatile === true && storage.replace !== undefined
    this.hooks = {
      persist: this.volatile
        ? (room, update, done, author) => {
            if (update) {
              storage.noteChange?.(room, author)
              this.versioning.changed(room)
              options.stored?.(room)
            }
            done()
          }
        : (room, update, done, author) => {
            if (update) this.versioning.changed(room)
            this.writes.append(room, update, done, author)
          },
      publish: options.publish,
      empty: (room) => this.scheduleUnload(room),
      failed: (room, error) => this.fail(room, error),
      applied: options.observer?.applied,
    }
    this.versioning = new Versioning(storage, options.versions ?? { quietMs: 0, everyMs: 0, keepMs: 0, keepCount: 1000 }, {
      drain: () => this.writes.drain(),
      room: (name) => this.get(name),
      failed: (room, error) => options.log?.(`taking a version of room ${JSON.stringify(room)} failed`, error),
    })
    const sleepAfterMs = options.cluster ? 0 : options.sleepAfterMs ?? 0
    this.sleeps = sleepAfterMs > 0
    this.stopSleeper = this.sleeps ? sleeper(() => this.loaded(), sleepAfterMs) : () => undefined
  }

  /// The loaded room of that name, if any.
  get(name: string): Room | undefined {
    return this.entries.get(name)?.room ?? undefined
  }

  /// Every loaded room.
  *loaded(): IterableIterator<Room> {
    for (const e of this.entries.values()) if (e.room) yield e.room
  }

  /// Number of loaded rooms asleep (see `RoomDocument.sleep`).
  get asleep(): number {
    let n = 0
    for (const room of this.loaded()) if (room.document.sleeping) n++
    return n
  }

  /// Number of rooms loaded or loading.
  get size(): number {
    return this.entries.size
  }

  /// The room, loading it from storage first if needed. Concurrent calls share one load; a
  /// failed load leaves nothing behind, so the next call tries again.
  acquire(name: string): Promise<Room> {
    const entry = this.entries.get(name)
    if (entry) {
      if (entry.unloadTimer) clearTimeout(entry.unloadTimer)
      entry.unloadTimer = null
      if (entry.room) return Promise.resolve(entry.room)
      if (entry.loading) return entry.loading
    }
    const fresh: Entry = { room: null, loading: null, unloadTimer: null, log: emptyLog(), kept: 0 }
    fresh.loading = this.load(name, fresh).then(
      (room) => {
        if (this.entries.get(name) !== fresh) {
          // Deleted while it loaded: what it loaded is gone.
          this.options.cluster?.left(name, room)
          room.destroy()
          throw new Error('room deleted while loading')
        }
        fresh.room = room
        fresh.loading = null
        fresh.kept = room.document.version // what it loaded (a seed is appended as it loads)
        // A long stored log is compacted, but not before the joiners waiting for the load are
        // served: asleep, serving the first folds the log, and the compaction then takes that.
        if (this.sleeps) setTimeout(() => this.grew(name, 0, 0), COMPACT_AFTER_LOAD_MS).unref()
        else this.grew(name, 0, 0)
        return room
      },
      (error: unknown) => {
        if (this.entries.get(name) === fresh) this.entries.delete(name)
        throw error
      },
    )
    this.entries.set(name, fresh)
    return fresh.loading
  }

  /// Let a room acquired without joining it (the HTTP API) unload once it has no peers.
  release(room: Room): void {
    if (room.peers.size === 0) this.scheduleUnload(room)
  }

  private async load(name: string, entry: Entry): Promise<Room> {
    const start = performance.now()
    const cluster = this.options.cluster
    // Subscribe before loading so nothing published meanwhile is missed.
    await cluster?.beforeLoad(name)
    let updates: Uint8Array[]
    let tombstone: Uint8Array | null
    try {
      ;[updates, tombstone] = await Promise.all([this.options.storage.load(name), this.options.storage.tombstone(name)])
      if (tombstone && updates.length) updates = withoutDeleted(updates, tombstone)
    } catch (error) {
      cluster?.left(name, null)
      throw error
    }
    countLoaded(entry.log, updates)
    const room = new Room(name, this.hooks, { maxPendingBytes: this.options.maxPendingBytes, sleeps: this.sleeps })
    if (tombstone) room.document.tombstone = tombstoneClocks(tombstone)
    const seed = updates.length === 0 ? this.options.seed : undefined
    try {
      room.document.restore(seed ? [seed] : updates)
    } catch (error) {
      room.destroy()
      cluster?.left(name, null)
      throw error
    }
    cluster?.loaded(room, (update) => appendStored(this.writes, name, update))
    this.options.observer?.loaded((performance.now() - start) / 1000)
    // Stored before any client's update (the batch is in order), which may build on it.
    if (seed) this.writes.append(name, seed, (error) => { if (error !== undefined) this.hooks.failed(room, error) })
    return room
  }

  /// The room's live document as the snapshot of a compaction, instead of replaying its log
  /// (Yjs already integrated every update once; a replay does it again, ~5 µs per update),
  /// and the same encoding a joiner of this document version is sent.
  /// Only when the document holds every input: this instance alone writes the room (no
  /// cluster) and the store holds exactly what it loaded and appended since. Otherwise null.
  private liveSnapshot(name: string, inputs: readonly Uint8Array[]): Uint8Array | null {
    const entry = this.entries.get(name)
    if (this.options.cluster || !entry?.room || inputs.length !== entry.log.stored) return null
    return entry.room.document.snapshotAtHand
  }

  // A room's log grew (or was loaded): queue a compaction once it passes a threshold.
  private grew(name: string, count: number, bytes: number): void {
    const entry = this.entries.get(name)
    if (entry && grow(entry.log, count, bytes, this.limits)) this.compactor.request(name)
  }

  private scheduleUnload(room: Room): void {
    const entry = this.entries.get(room.name)
    if (!entry || entry.room !== room) return
    if (entry.unloadTimer) clearTimeout(entry.unloadTimer)
    entry.unloadTimer = setTimeout(() => void this.unload(room), this.options.unloadAfterMs)
    entry.unloadTimer.unref()
  }

  /// Store what is pending and drop the room from memory, unless a peer came back.
  async unload(room: Room): Promise<void> {
    const entry = this.entries.get(room.name)
    if (!entry || entry.room !== room || room.peers.size > 0) return
    if (entry.unloadTimer) clearTimeout(entry.unloadTimer)
    entry.unloadTimer = null
    room.flushNow()
    await this.writes.drain().catch(() => undefined)
    await this.versioning.settle(room)
    if (room.peers.size > 0 || this.entries.get(room.name) !== entry) return
    this.keep(room, entry)
    this.entries.delete(room.name)
    this.options.cluster?.left(room.name, room)
    room.destroy()
    this.options.observer?.unloaded('idle')
  }

  // A store failed: what the room holds in memory is not all durable. Close its peers with a
  // retryable code and drop it; they reconnect to a freshly loaded room and re-send what the
  // store lacks, since they were never told it was stored.
  private fail(room: Room, error: unknown): void {
    this.options.log?.(`storing room ${JSON.stringify(room.name)} failed`, error)
    const entry = this.entries.get(room.name)
    if (!entry || entry.room !== room) return
    this.entries.delete(room.name)
    this.options.cluster?.left(room.name, room)
    for (const peer of [...room.peers.keys()]) peer.close(CloseCode.TryAgainLater, 'storage failure')
    room.destroy()
    this.options.observer?.unloaded('failed')
  }

  /// Flush every room and wait until storage has everything, versions owed included.
  async flushAll(): Promise<void> {
    for (const room of this.loaded()) room.flushNow()
    await this.writes.drain()
    for (const room of [...this.loaded()]) await this.versioning.settle(room)
    for (const entry of this.entries.values()) if (entry.room) this.keep(entry.room, entry)
  }

  /// Delete a room everywhere: its connections here are closed with 4410, other instances
  /// are told to drop theirs, and the store forgets its log, snapshot and versions, keeping a
  /// tombstone (see `tombstone.ts`). False when nothing of it was stored or loaded.
  async delete(name: string): Promise<boolean> {
    const { storage } = this.options
    // The tombstone first: from then on nothing of the document loads anywhere (see `load`),
    // whatever rows of it are still in flight from this or another instance.
    const [stored, old] = await Promise.all([storage.load(name), storage.tombstone(name)])
    const live = this.get(name)
    const tombstone = tombstoneFor(stored, live ? live.document.stateVector : null, old)
    const removed = await storage.deleteRoom(name, tombstone)
    const loaded = this.dropDeleted(name)
    this.options.cluster?.deleted(name)
    // Rows this instance still had queued are swept too, under a tombstone that also covers
    // what the room took in meanwhile.
    await this.writes.drain().catch(() => undefined)
    await storage.deleteRoom(name, loaded ? joinTombstones([tombstone, loaded]) : tombstone)
    return removed || loaded !== null
  }

  /// Drop a deleted room from memory without storing anything more of it, closing its
  /// connections with 4410; returns its state vector, or null if it was not loaded.
  dropDeleted(name: string): Uint8Array | null {
    this.versioning.forget(name)
    const entry = this.entries.get(name)
    if (!entry) return null
    this.entries.delete(name)
    if (entry.unloadTimer) clearTimeout(entry.unloadTimer)
    const room = entry.room
    if (!room) return null // still loading: its load finishes into nothing (see `acquire`)
    const stateVector = room.document.stateVector
    this.options.cluster?.left(name, room)
    for (const peer of [...room.peers.keys()]) peer.close(CloseCode.DocumentDeleted, 'document deleted')
    room.destroy()
    this.options.observer?.unloaded('deleted')
    return stateVector
  }

  /// Give a volatile store the room's whole state, if it changed since the store last had it.
  private keep(room: Room, entry: Entry): void {
    if (!this.volatile || room.document.version === entry.kept) return
    try {
      this.options.storage.replace!(room.name, room.document.snapshot)
      entry.kept = room.document.version
    } catch (error) {
      this.options.log?.(`keeping room ${JSON.stringify(room.name)} failed`, error) // a closed store
    }
  }

  /// Stop compacting; resolves once a running compaction is over (it commits or not at all).
  stopCompacting(): Promise<void> {
    return this.compactor.stop()
  }

  /// Drop every room (after `flushAll`); timers are cleared.
  destroyAll(): void {
    this.versioning.stop()
    this.stopSleeper()
    for (const entry of this.entries.values()) {
      if (entry.unloadTimer) clearTimeout(entry.unloadTimer)
      entry.room?.destroy()
    }
    this.entries.clear()
  }
}
