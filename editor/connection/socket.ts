// What the provider needs of a WebSocket, and its rules for reaching a room: the URL, which
// closes are final, how long to wait before trying again. Pure, so they are tested alone.

/// The part of the WebSocket API the provider uses. Browsers' `WebSocket` and the `ws`
/// package's both fit. Handlers take `never` so either implementation's event types are
/// accepted; the provider reads only `data`, `code` and `reason` from them.
export interface SocketLike {
  binaryType: string
  readonly readyState: number
  onopen: ((event: never) => void) | null
  onmessage: ((event: never) => void) | null
  onclose: ((event: never) => void) | null
  onerror: ((event: never) => void) | null
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
}

/// A WebSocket constructor (`protocols`: the subprotocols to offer, e.g. a token).
export type SocketConstructor = new (url: string, protocols?: string | string[]) => SocketLike

/// Close codes after which reconnecting cannot help: 4400–4499 (bad room, malformed,
/// unauthorised, forbidden, rate limited) and 1009 (a change larger than the server accepts
/// would be sent again on every reconnect).
export function isPermanentClose(code: number): boolean {
  return (code >= 4400 && code <= 4499) || code === 1009
}

/// Delay before retry number `attempt` (0-based): exponential, capped, with jitter in the
/// upper half ("equal jitter"), so clients that lost the same server do not return in step
/// and no retry comes sooner than half the nominal delay.
export function retryDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const nominal = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30))
  return Math.round(nominal / 2 + (random() * nominal) / 2)
}

/// The WebSocket URL of a room: the server URL plus the percent-encoded room name as path.
export function roomUrl(serverUrl: string, room: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({ ...params, ack: '1' }).toString()
  return `${serverUrl.replace(/\/+$/, '')}/${encodeURIComponent(room)}?${query}`
}
