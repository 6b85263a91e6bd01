// Limits that keep one client (or one address) from taking the server down: counted
// connections per key, a token bucket for message rates, and the checks made at the upgrade.
import type { IncomingMessage } from 'node:http'

/// Counts held slots per key (IP address, room) against a limit; 0 means no limit.
export class SlotCounter {
  private readonly counts = new Map<string, number>()

  constructor(private readonly limit: number) {}

  /// Take a slot for `key` if one is free.
  tryTake(key: string): boolean {
    const n = this.counts.get(key) ?? 0
    if (this.limit > 0 && n >= this.limit) return false
    this.counts.set(key, n + 1)
    return true
  }

  /// Give back a slot taken with `tryTake`.
  release(key: string): void {
    const n = this.counts.get(key) ?? 0
    if (n <= 1) this.counts.delete(key)
    else this.counts.set(key, n - 1)
  }

  /// Slots held for `key`.
  count(key: string): number {
    return this.counts.get(key) ?? 0
  }
}

/// A token bucket: `rate` tokens a second up to `burst`. Taking may go into debt; the caller
/// waits `take`'s answer (milliseconds) before reading more from that client.
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(private readonly rate: number, private readonly burst: number, now = Date.now()) {
    this.tokens = burst
    this.last = now
  }

  /// Spend `n` tokens; returns how long until the balance is positive again (0: go on).
  take(n: number, now?: number): number {
    if (this.rate <= 0) return 0
    now ??= Date.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000)
    this.last = now
    this.tokens -= n
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate)
  }
}

/// Whether a browser upgrade from `origin` may proceed. Requests without an Origin header
/// come from non-browser clients, which can send any header anyway; `allowed` null means any.
export function originAllowed(origin: string | undefined, allowed: readonly string[] | null): boolean {
  if (allowed === null || origin === undefined) return true
  return allowed.includes(origin.toLowerCase())
}

/// The client's address: the socket's peer, or behind a trusted proxy the address that proxy
/// appended last to X-Forwarded-For (earlier entries are whatever the client claimed).
export function clientIp(request: IncomingMessage, trustProxy: boolean): string {
  const peer = request.socket.remoteAddress ?? ''
  if (!trustProxy) return peer
  const header = request.headers['x-forwarded-for']
  const value = Array.isArray(header) ? header.join(',') : header
  const last = value?.split(',').map((s) => s.trim()).filter((s) => s !== '').pop()
  return last ?? peer
}
