// The registry of loaded rooms: loads each room once however many joins race (single
// flight), unloads it after a grace period without peers, and routes storage failures.
import { CloseCode } from './closeCodes.js'
import type { RoomsCluster } from './cluster/redis.js'
import { Room, type RoomHooks } from './room.js'
import type { Storage } from './storage/types.js'
import { writeBatcher, type WriteBatcher } from './writeBatcher.js'

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
}

interface Entry {
  room: Room | null
  loading: Promise<Room> | null
  unloadTimer: NodeJS.Timeout | null
}

/// Loaded rooms of one server.
export class Rooms {
  private readonly entries = new Map<string, Entry>()
  readonly writes: WriteBatcher
  private readonly hooks: RoomHooks

  constructor(private readonly options: RoomsOptions) {
    this.writes = writeBatcher(options.storage)
    this.hooks = {
      persist: (room, update) => this.writes.append(room, update),
      publish: options.publish,
      empty: (room) => this.scheduleUnload(room),
      failed: (room, error) => this.fail(room, error),
    }
  }

  /// The loaded room of that name, if any.
  get(name: string): Room | undefined {
    return this.entries.get(name)?.room ?? undefined
  }

  /// Every loaded room.
  *loaded(): IterableIterator<Room> {
    for (const e of this.entries.values()) if (e.room) yield e.room
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
    const fresh: Entry = { room: null, loading: null, unloadTimer: null }
    fresh.loading = this.load(name).then(
      (room) => {
        fresh.room = room
        fresh.loading = null
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

  private async load(name: string): Promise<Room> {
    const cluster = this.options.cluster
    // Subscribe before loading so nothing published meanwhile is missed.
    await cluster?.beforeLoad(name)
    const room = new Room(name, this.hooks)
    try {
      room.restore(await this.options.storage.load(name))
    } catch (error) {
      room.destroy()
      cluster?.left(name, null)
      throw error
    }
    cluster?.loaded(room, (update) => this.writes.append(name, update))
    return room
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
    if (room.peers.size > 0 || this.entries.get(room.name) !== entry) return
    this.entries.delete(room.name)
    this.options.cluster?.left(room.name, room)
    room.destroy()
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
  }

  /// Flush every room and wait until storage has everything.
  async flushAll(): Promise<void> {
    for (const room of this.loaded()) room.flushNow()
    await this.writes.drain()
  }

  /// Drop every room (after `flushAll`); timers are cleared.
  destroyAll(): void {
    for (const entry of this.entries.values()) {
      if (entry.unloadTimer) clearTimeout(entry.unloadTimer)
      entry.room?.destroy()
    }
    this.entries.clear()
  }
}
