// The optional change webhook: when a room's document changed (and the change is stored),
// POST {"event":"document.changed","room":…} to a URL. Debounced per room, so a burst of
// typing is one call; a room edited without pause is still reported every `maxWaitMs`.
// Bodies are signed with HMAC-SHA256; failed deliveries are retried with backoff.
import { createHmac, randomUUID } from 'node:crypto'
import type { Logger } from './log.js'

/// Webhook settings.
export interface WebhookOptions {
  url: string
  /// HMAC-SHA256 key; the hex digest of the body goes in `X-Concord-Signature: sha256=…`.
  secret: string
  /// Quiet time after a room's last change before it is reported.
  debounceMs: number
  /// Longest a change waits while edits continue (default 10 × debounce, at least 1 s).
  maxWaitMs?: number
  /// Attempts per delivery, the first included (default 5).
  attempts?: number
  /// Delay before the first retry; doubles each time (default 1000 ms).
  retryMs?: number
  /// Time limit of one attempt (default 10 s).
  timeoutMs?: number
  log: Logger
}

/// A running webhook.
export interface Webhook {
  /// A change to `room` is stored.
  changed(room: string): void
  /// Deliver what is pending now (one attempt each, bounded) and stop.
  close(): Promise<void>
}

/// The signature header value of a body: `sha256=<hex HMAC-SHA256>`.
export function signature(secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex')
}

interface Pending {
  first: number
  last: number
  timer: NodeJS.Timeout
}

/// Start a webhook.
export function createWebhook(options: WebhookOptions): Webhook {
  const maxWaitMs = options.maxWaitMs ?? Math.max(1000, options.debounceMs * 10)
  const attempts = options.attempts ?? 5
  const retryMs = options.retryMs ?? 1000
  const timeoutMs = options.timeoutMs ?? 10_000
  const pending = new Map<string, Pending>()
  const inFlight = new Set<Promise<void>>()
  let closed = false
  // Wakes every retry waiting out its backoff when the webhook closes.
  const stopping = new AbortController()

  function schedule(room: string, entry: Pending): void {
    const wait = Math.min(options.debounceMs, entry.first + maxWaitMs - Date.now())
    entry.timer = setTimeout(() => fire(room), Math.max(0, wait))
  }

  function fire(room: string, tries = attempts): void {
    const entry = pending.get(room)
    if (!entry) return
    clearTimeout(entry.timer)
    pending.delete(room)
    const delivery = deliver(room, entry.last, tries).finally(() => inFlight.delete(delivery))
    inFlight.add(delivery)
  }

  async function deliver(room: string, changedAt: number, tries: number): Promise<void> {
    const id = randomUUID()
    const body = JSON.stringify({ event: 'document.changed', room, changedAt: new Date(changedAt).toISOString(), delivery: id })
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'concord-webhook',
      'x-concord-delivery': id,
      'x-concord-signature': signature(options.secret, body),
    }
    for (let attempt = 1; ; attempt++) {
      let outcome: string
      try {
        const res = await fetch(options.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) })
        await res.arrayBuffer().catch(() => undefined)
        if (res.ok) return
        outcome = `HTTP ${res.status}`
        // Other client errors mean a misconfigured receiver: retrying cannot help.
        if (res.status < 500 && res.status !== 408 && res.status !== 429) attempt = tries
      } catch (error) {
        outcome = (error as Error).message
      }
      if (attempt >= tries || closed) {
        options.log.error({ room, delivery: id, attempts: attempt, outcome }, 'webhook delivery failed')
        return
      }
      const delay = retryMs * 2 ** (attempt - 1)
      options.log.warn({ room, delivery: id, attempt, outcome, retryInMs: delay }, 'webhook delivery failed; retrying')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        stopping.signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
      })
    }
  }

  return {
    changed(room) {
      if (closed) return
      const now = Date.now()
      const entry = pending.get(room)
      if (entry) {
        entry.last = now
        clearTimeout(entry.timer)
        schedule(room, entry)
        return
      }
      const fresh: Pending = { first: now, last: now, timer: undefined as unknown as NodeJS.Timeout }
      pending.set(room, fresh)
      schedule(room, fresh)
    },
    async close() {
      closed = true
      stopping.abort()
      for (const room of [...pending.keys()]) fire(room, 1)
      await Promise.all(inFlight)
    },
  }
}
