// Plain live edits that a room relays and stores at once but integrates into its Y.Doc later,
// a batch in one transaction: Yjs' cost per transaction is then paid once per batch.
// `checkUpdate` decides which updates may wait; this module keeps them, and the clocks they
// bring each client to, until the batch is integrated.
import * as Y from 'yjs'
import { checkUpdate } from '../protocol/updateCheck.js'

/// A batch is integrated once it holds this many updates, or this many bytes (figures per
/// batch size: `npm run bench:held`).
export const MAX_HELD = 256
const MAX_HELD_BYTES = 256 * 1024
/// A due batch waits in the settle queue until it holds this many times the above.
export const OVERFULL = 4

const NO_BYTES = new Uint8Array(0)
/// The origin of a held batch's transaction.
const HELD = Symbol('held')
const FIRST_ARENA_BYTES = 1024

/// Updates held back from one document, with their origins (any type the room uses).
export class HeldBack<O> {
  /// The held updates' bytes one after another, update `i` ending at `bounds[i]`: one buffer
  /// per batch, where a copy per update was one more object per keystroke that lived until
  /// its batch was integrated (what survives is what V8's young-generation collections copy:
  /// with a copy per update they were the longest pauses under typing load). Filled bytes are
  /// never written again: the views handed out stay valid.
  private arena = NO_BYTES
  private bounds: number[] = []
  private origins: O[] = []
  /// Where clients' histories end once the held updates are integrated.
  private readonly ends = new Map<number, number>()
  /// `checkUpdate`'s client ends for the update last checked.
  private checked: number[] = []
  /// The clock each client reaches with the held updates: what a new update may build on.
  private readonly clock = (client: number): number => this.ends.get(client) ?? Y.getState(this.doc.store, client)

  constructor(private readonly doc: Y.Doc) {}

  /// Updates held now.
  get size(): number {
    return this.bounds.length
  }

  /// Whether the batch is due for integration.
  get full(): boolean {
    return this.bounds.length >= MAX_HELD || this.bytes >= MAX_HELD_BYTES
  }

  /// Whether the batch is so far past due that it may not wait any longer (memory bound).
  get overfull(): boolean {
    return this.bounds.length >= OVERFULL * MAX_HELD || this.bytes >= OVERFULL * MAX_HELD_BYTES
  }

  /// Bytes held now (where the last held update ends).
  private get bytes(): number {
    return this.bounds.length === 0 ? 0 : this.bounds[this.bounds.length - 1]
  }

  /// Read a whole update against the document plus what is held: true if it may be held
  /// (see `checkUpdate`). Throws on an update Yjs could not read.
  check(update: Uint8Array): boolean {
    this.checked = []
    return checkUpdate(update, this.clock, this.checked)
  }

  /// Hold the update last passed to `check` (which returned true). Returns a view of the copy
  /// held: the update is a view into the socket's read buffer, which it would pin.
  hold(update: Uint8Array, origin: O): Uint8Array {
    const ends = this.checked
    for (let i = 0; i < ends.length; i += 2) this.ends.set(ends[i], ends[i + 1])
    const start = this.bytes
    const end = start + update.length
    if (end > this.arena.length) {
      // A new buffer with the held bytes (views of the old one keep it while they live).
      const grown = new Uint8Array(Math.max(end, 2 * this.arena.length, FIRST_ARENA_BYTES))
      grown.set(this.arena.subarray(0, start))
      this.arena = grown
    }
    this.arena.set(update, start)
    this.bounds.push(end)
    this.origins.push(origin)
    return this.arena.subarray(start, end)
  }

  /// Integrate the held updates, in arrival order, each with `Y.applyUpdate` as received, in one
  /// remote transaction (Yjs' cost per transaction is paid once per batch). They were checked
  /// to integrate without error; `refused` hears of any that Yjs still refuses.
  integrate(refused: (origin: O, error: Error) => void): void {
    const { arena, bounds, origins } = this
    this.clear()
    Y.transact(this.doc, () => {
      for (let i = 0; i < bounds.length; i++) {
        try {
          Y.applyUpdate(this.doc, arena.subarray(i === 0 ? 0 : bounds[i - 1], bounds[i]))
        } catch (error) {
          refused(origins[i], error as Error)
        }
      }
    }, HELD, false)
  }

  /// Forget the held updates (the document is being destroyed).
  clear(): void {
    this.arena = NO_BYTES
    this.bounds = []
    this.origins = []
    this.ends.clear()
  }
}
