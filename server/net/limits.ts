// Limits that keep one client (or one address) from taking the server down: counted
// connections per key, token buckets for message and request rates, and the checks made at
// the upgrade and on state-changing HTTP requests.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'

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

  /// Whether `tryTake(key)` would fail now.
  isFull(key: string): boolean {
    return this.limit > 0 && this.count(key) >= this.limit
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

  /// Spend `n` tokens only if the balance holds them; otherwise spend nothing and return how
  /// long until it does (a refused request must not push its sender further into debt).
  tryTake(n: number, now?: number): number {
    if (this.rate <= 0) return 0
    now ??= Date.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000)
    this.last = now
    if (this.tokens >= n) {
      this.tokens -= n
      return 0
    }
    return Math.ceil(((n - this.tokens) * 1000) / this.rate)
  }
}

/// A token bucket per key (client IP) for request rates; 0 as `rate` means no limit. A key
/// idle long enough for its bucket to be full again is forgotten, so the map holds only the
/// addresses active in the last few seconds.
export class RateLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; last: number }>()
  private lastSweep: number

  constructor(private readonly rate: number, private readonly burst: number, now = Date.now()) {
    this.lastSweep = now
  }

  /// Take one token for `key`: 0 to go on, else the milliseconds until one is free.
  take(key: string, now = Date.now()): number {
    if (this.rate <= 0) return 0
    this.sweep(now)
    let entry = this.buckets.get(key)
    if (!entry) {
      entry = { bucket: new TokenBucket(this.rate, this.burst, now), last: now }
      this.buckets.set(key, entry)
    }
    entry.last = now
    return entry.bucket.tryTake(1, now)
  }

  // Forget the buckets that have refilled: a fresh one is the same.
  private sweep(now: number): void {
    const refillMs = (this.burst * 1000) / this.rate
    if (now - this.lastSweep < refillMs) return
    this.lastSweep = now
    for (const [key, entry] of this.buckets) if (now - entry.last >= refillMs) this.buckets.delete(key)
  }
}

/// Hold one of `key`'s slots until the response closes (finished or cut); false when none
/// is free.
export function holdUntilClosed(slots: SlotCounter, key: string, res: ServerResponse): boolean {
  if (!slots.tryTake(key)) return false
  res.once('close', () => slots.release(key))
  return true
}

/// Whether a browser upgrade from `origin` may proceed. Requests without an Origin header
/// come from non-browser clients, which can send any header anyway; `allowed` null means any.
export function originAllowed(origin: string | undefined, allowed: readonly string[] | null): boolean {
  if (allowed === null || origin === undefined) return true
  return allowed.includes(origin.toLowerCase())
}

/// Why a state-changing HTTP request (not GET or HEAD) is refused as cross-site, or null.
/// With `allowed` set: an Origin outside it is refused, as at the upgrade (browsers send
/// Origin on every cross-origin POST, and `null` from sandboxes, which no list holds); a
/// request without Origin is refused when `Sec-Fetch-Site` says a browser sent it from
/// another site. Neither header: not a browser (curl, a backend), which a page cannot drive.
export function crossSiteRefusal(headers: IncomingHttpHeaders, allowed: readonly string[] | null): string | null {
  if (allowed === null) return null
  if (headers.origin !== undefined) return originAllowed(headers.origin, allowed) ? null : 'origin not allowed'
  const site = headers['sec-fetch-site']
  return site === 'cross-site' || site === 'same-site' ? 'cross-site request not allowed' : null
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

/// Bytes held in messages and request bodies still arriving, over every connection of a
/// server: what nobody can pin by never finishing one (each alone is bounded by the message
/// size).
export interface IncompleteBudget {
  held: number
  readonly limit: number
}
