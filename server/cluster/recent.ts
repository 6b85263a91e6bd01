// What each other instance sent lately in one room. Every update is stored by the instance
// whose client sent it; should that instance die, it may not have stored its last seconds,
// so the survivors store what they kept of them.
import * as Y from 'yjs'

/// Updates received from each instance in the last `keepMs`.
export class RecentUpdates {
  private readonly byInstance = new Map<string, Array<{ at: number; update: Uint8Array }>>()

  constructor(private readonly keepMs: number) {}

  /// Keep an update that instance `from` sent.
  add(from: string, update: Uint8Array): void {
    let list = this.byInstance.get(from)
    if (!list) this.byInstance.set(from, (list = []))
    list.push({ at: Date.now(), update })
    this.prune(list)
  }

  /// Drop what is too old (a quiet instance's last burst too).
  pruneAll(): void {
    for (const list of this.byInstance.values()) this.prune(list)
  }

  /// Forget instance `from`; returns what it sent lately, merged into one update (or null).
  take(from: string): Uint8Array | null {
    const list = this.byInstance.get(from)
    this.byInstance.delete(from)
    return list?.length ? Y.mergeUpdates(list.map((r) => r.update)) : null
  }

  private prune(list: Array<{ at: number }>): void {
    const oldest = Date.now() - this.keepMs
    while (list.length && list[0].at < oldest) list.shift()
  }
}
