// The registry of loaded rooms: loads each room once however many joins race (single
// flight), unloads it after a grace period without peers, and routes storage failures.
import { performance } from 'node:perf_hooks'
import { CloseCode } from './closeCodes.js'
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
  /// Report errors (storage failures) somewhere visible.
  log?: (message: string, error: unknown) => void
  /// Told about loads, unloads and applied updates, for metrics.
  observer?: RoomsObserver
  /// Called once a change to a room is durably stored (the webhook).
  stored?: (room: string) => void
}

/// What the registry reports for metrics (times in seconds).
export interface RoomsObserver {
  loaded(seconds: number): void
  unloaded(reason: 'idle' | 'failed'): void
  applied?: RoomHooks['applied']
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
      persist: (room, update) => {
        const written = this.writes.append(room, update)
        const stored = options.stored
        if (stored && update) written.then(() => stored(room), () => undefined)
        return written
      },
      publish: options.publish,
      empty: (room) => this.scheduleUnload(room),
      failed: (room, error) => this.fail(room, error),
      applied: options.observer?.applied,
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

  /// Let a room acquired without joining it (the HTTP API) unload once it has no peers.
  release(room: Room): void {
    if (room.peers.size === 0) this.scheduleUnload(room)
  }

  private async load(name: string): Promise<Room> {
    const start = performance.now()
    const updates = await this.options.storage.load(name)
    const room = new Room(name, this.hooks)
    try {
      room.restore(updates)
    } catch (error) {
      room.destroy()
      throw error
    }
    this.options.observer?.loaded((performance.now() - start) / 1000)
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
    for (const peer of [...room.peers.keys()]) peer.close(CloseCode.TryAgainLater, 'storage failure')
    room.destroy()
    this.options.observer?.unloaded('failed')
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
