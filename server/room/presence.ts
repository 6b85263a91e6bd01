// A room's awareness states, kept as the raw JSON bytes clients sent. The server never needs
// the parsed state: it relays each awareness message verbatim and re-encodes only the
// snapshot a joiner receives. Update rules are y-protocols' (higher clock wins; a null state
// at the same clock removes).
import { isJson } from '../protocol/jsonCheck.js'
import { ProtocolError, Reader, uintSize, writeUint } from '../protocol/messages.js'

/// One client's awareness entry; `state` is UTF-8 JSON, or null once removed.
export interface PresenceEntry {
  clock: number
  state: Uint8Array | null
}

const utf8 = new TextDecoder()
const NULL_STATE = new TextEncoder().encode('null')

function isNull(bytes: Uint8Array): boolean {
  return bytes.length === 4 && bytes[0] === 0x6e && bytes[1] === 0x75 && bytes[2] === 0x6c && bytes[3] === 0x6c
}

/// Check that a state is valid UTF-8 JSON: a stock client would throw on anything else.
function checkState(bytes: Uint8Array): void {
  if (!isJson(bytes)) throw new ProtocolError('awareness state is not valid JSON')
}

/// A copy of a state (Buffer#slice is a view): a held state must not pin the received frame.
function copyOf(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes)
}

/// Check a whole awareness update, as `decodeAwareness` would read it, without building its
/// entries. Throws `ProtocolError` on malformed input.
function checkAwareness(update: Uint8Array): void {
  const reader = new Reader(update)
  const count = reader.uint()
  // Each entry takes at least 3 bytes: a lying count must not make us allocate.
  if (count * 3 > update.length) throw new ProtocolError('awareness count exceeds the frame')
  for (let i = 0; i < count; i++) {
    reader.uint()
    reader.uint()
    const json = reader.bytesField()
    if (!isNull(json)) checkState(json)
  }
  if (!reader.done) throw new ProtocolError('trailing bytes after awareness update')
}

/// Decode an awareness update into entries; throws `ProtocolError` on malformed input.
export function decodeAwareness(update: Uint8Array): Array<{ client: number; clock: number; state: Uint8Array | null }> {
  checkAwareness(update)
  const reader = new Reader(update)
  const entries = []
  for (let i = reader.uint(); i > 0; i--) {
    const client = reader.uint()
    const clock = reader.uint()
    const json = reader.bytesField()
    entries.push({ client, clock, state: isNull(json) ? null : copyOf(json) })
  }
  return entries
}

/// Encode entries as one awareness update.
export function encodeAwarenessEntries(entries: Iterable<[number, PresenceEntry]>): Uint8Array {
  const list = [...entries]
  let size = uintSize(list.length)
  for (const [client, e] of list) {
    const state = e.state ?? NULL_STATE
    size += uintSize(client) + uintSize(e.clock) + uintSize(state.length) + state.length
  }
  const out = new Uint8Array(size)
  let pos = writeUint(out, 0, list.length)
  for (const [client, e] of list) {
    const state = e.state ?? NULL_STATE
    pos = writeUint(out, pos, client)
    pos = writeUint(out, pos, e.clock)
    pos = writeUint(out, pos, state.length)
    out.set(state, pos)
    pos += state.length
  }
  return out
}

/// Whether an entry at `clock` replaces `current`. y-protocols counts an unknown client as
/// clock 0, so its peers ignore a first state at clock 0; so do we, or joiners would be sent
/// states no peer shows. A removal at the same clock removes a state.
function accepts(current: PresenceEntry | undefined, clock: number, removal: boolean): boolean {
  const currentClock = current ? current.clock : 0
  return currentClock < clock || (currentClock === clock && removal && current?.state != null)
}

/// The awareness states of one room.
export class Presence {
  /// Current entries by client id; removed clients keep their clock so stale updates lose.
  readonly entries = new Map<number, PresenceEntry>()

  /// Apply an awareness update from one sender; `ids` (the client ids that sender announced)
  /// gains the clients it set and loses those it removed. Throws `ProtocolError`, changing
  /// nothing, on a malformed update. Reads the update twice (check, then apply) rather than
  /// building a list of its entries: one cursor move is one entry, and arrives often.
  apply(update: Uint8Array, ids?: Set<number>, maxIds = Infinity): void {
    checkAwareness(update)
    if (ids) this.checkOwned(update, ids, maxIds)
    const reader = new Reader(update)
    const count = reader.uint()
    for (let i = 0; i < count; i++) {
      const client = reader.uint()
      const clock = reader.uint()
      const json = reader.bytesField()
      const current = this.entries.get(client)
      const removal = isNull(json)
      if (!accepts(current, clock, removal)) continue
      const state = removal ? null : copyOf(json)
      if (current) {
        current.clock = clock
        current.state = state
      } else this.entries.set(client, { clock, state })
      // The sender owns what it set or removed (a removal keeps the clock, as y-protocols
      // does, so that a stale state loses): its entries go when it leaves.
      ids?.add(client)
    }
  }

  /// Throw, before anything is applied, if `update` would give its sender (owning `ids`)
  /// more than `maxIds` client ids.
  private checkOwned(update: Uint8Array, ids: Set<number>, maxIds: number): void {
    const reader = new Reader(update)
    let owned = ids.size
    for (let i = reader.uint(); i > 0; i--) {
      const client = reader.uint()
      const clock = reader.uint()
      const json = reader.bytesField()
      // Only what is accepted counts: a stock client echoes every state it hears (a joiner
      // echoes the whole room's), at the clock the room has.
      if (!ids.has(client) && accepts(this.entries.get(client), clock, isNull(json)) && ++owned > maxIds) {
        throw new ProtocolError(`awareness for more than ${maxIds} clients from one connection`)
      }
    }
  }

  /// Remove the given clients (their connection closed). Returns the encoded awareness
  /// update announcing the removal, or null if none of them had a state. The removal keeps
  /// the client's clock (y-protocols accepts a null state at the same clock): bumping it,
  /// as a client removing itself does, would make peers ignore the client's state when it
  /// reconnects and re-announces at its own clock, until its second renewal (~30 s).
  remove(clients: Iterable<number>): Uint8Array | null {
    const removed: Array<[number, PresenceEntry]> = []
    for (const client of clients) {
      const current = this.entries.get(client)
      if (!current) continue
      this.entries.delete(client) // a removed client's clock goes too: its owner left
      if (current.state !== null) removed.push([client, { clock: current.clock, state: null }])
    }
    return removed.length ? encodeAwarenessEntries(removed) : null
  }

  /// The display name (`user.name`, as the editor and the ecosystem's cursor plugins set it)
  /// in the first of `clients`' states that has one; null if none.
  nameOf(clients: Iterable<number>): string | null {
    for (const client of clients) {
      const state = this.entries.get(client)?.state
      if (!state) continue
      try {
        const name = (JSON.parse(utf8.decode(state)) as { user?: { name?: unknown } } | null)?.user?.name
        if (typeof name === 'string' && name.trim() !== '') return name.trim().slice(0, 100)
      } catch {
        // checked JSON on the way in; nothing to name here
      }
    }
    return null
  }

  /// The number of clients with a state.
  get size(): number {
    let n = 0
    for (const e of this.entries.values()) if (e.state) n++
    return n
  }

  /// Encode every present state (for a joiner or a query-awareness), or null if none.
  snapshot(): Uint8Array | null {
    const present = [...this.entries].filter(([, e]) => e.state !== null)
    return present.length ? encodeAwarenessEntries(present) : null
  }
}
