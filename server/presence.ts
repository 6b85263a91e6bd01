// A room's awareness states, kept as the raw JSON bytes clients sent. The server never needs
// the parsed state: it relays each awareness message verbatim and re-encodes only the
// snapshot a joiner receives. Update rules are y-protocols' (higher clock wins; a null state
// at the same clock removes).
import { ProtocolError, Reader, uintSize, writeUint } from './protocol.js'

/// One client's awareness entry; `state` is UTF-8 JSON, or null once removed.
export interface PresenceEntry {
  clock: number
  state: Uint8Array | null
}

/// What applying an awareness update changed.
export interface PresenceChange {
  /// Client ids that now have a state.
  set: number[]
  /// Client ids whose state was removed.
  removed: number[]
}

const NULL_STATE = new TextEncoder().encode('null')
const utf8 = new TextDecoder('utf-8', { fatal: true })

function isNull(bytes: Uint8Array): boolean {
  return bytes.length === 4 && bytes[0] === 0x6e && bytes[1] === 0x75 && bytes[2] === 0x6c && bytes[3] === 0x6c
}

/// Check that a state is valid UTF-8 JSON: a stock client would throw on anything else.
function checkState(bytes: Uint8Array): void {
  try {
    JSON.parse(utf8.decode(bytes))
  } catch {
    throw new ProtocolError('awareness state is not valid JSON')
  }
}

/// Decode an awareness update into entries; throws `ProtocolError` on malformed input.
export function decodeAwareness(update: Uint8Array): Array<{ client: number; clock: number; state: Uint8Array | null }> {
  const reader = new Reader(update)
  const count = reader.uint()
  // Each entry takes at least 3 bytes: a lying count must not make us allocate.
  if (count * 3 > update.length) throw new ProtocolError('awareness count exceeds the frame')
  const entries = []
  for (let i = 0; i < count; i++) {
    const client = reader.uint()
    const clock = reader.uint()
    const json = reader.bytesField()
    let state: Uint8Array | null = null
    if (!isNull(json)) {
      checkState(json)
      state = Uint8Array.prototype.slice.call(json) // a copy (Buffer#slice is a view): do not pin the received frame
    }
    entries.push({ client, clock, state })
  }
  if (!reader.done) throw new ProtocolError('trailing bytes after awareness update')
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

/// The awareness states of one room.
export class Presence {
  /// Current entries by client id; removed clients keep their clock so stale updates lose.
  readonly entries = new Map<number, PresenceEntry>()

  /// Apply a decoded awareness update; returns what changed.
  apply(update: Uint8Array): PresenceChange {
    const change: PresenceChange = { set: [], removed: [] }
    for (const { client, clock, state } of decodeAwareness(update)) {
      const current = this.entries.get(client)
      // y-protocols counts an unknown client as clock 0, so its peers ignore a first state at
      // clock 0; so do we, or joiners would be sent states no peer shows.
      const currentClock = current ? current.clock : 0
      const accept = currentClock < clock || (currentClock === clock && state === null && current?.state != null)
      if (!accept) continue
      this.entries.set(client, { clock, state })
      if (state === null) change.removed.push(client)
      else change.set.push(client)
    }
    return change
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
      if (!current || current.state === null) continue
      const entry = { clock: current.clock, state: null }
      removed.push([client, entry])
      this.entries.delete(client)
    }
    return removed.length ? encodeAwarenessEntries(removed) : null
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
