// Keeps connections alive without echoing anything: one timer for the whole server.
// A connection sent nothing for `keepaliveMs` gets the keepalive frame (stock y-websocket
// clients drop a socket that hears nothing for 30 s); every `pingIntervalMs` each socket is
// pinged, and one that did not answer the previous ping is terminated.
import type { Connection } from './connection.js'
import { KEEPALIVE_FRAME } from '../protocol/messages.js'

/// Heartbeat settings.
export interface HeartbeatOptions {
  keepaliveMs: number
  pingIntervalMs: number
}

/// Start the heartbeat over a live set of connections; returns a function that stops it.
export function startHeartbeat(connections: ReadonlySet<Connection>, options: HeartbeatOptions): () => void {
  const tickMs = Math.max(50, Math.min(options.keepaliveMs, options.pingIntervalMs) / 4)
  let lastPing = Date.now()
  let lastTick = lastPing
  const timer = setInterval(() => {
    const now = Date.now()
    // A connection that was sent something since the last tick was sent it after that tick.
    const previousTick = lastTick
    lastTick = now
    const ping = now - lastPing >= options.pingIntervalMs
    if (ping) lastPing = now
    for (const conn of connections) {
      if (!conn.open) continue
      conn.checkIncomplete(now)
      if (!conn.open) continue
      if (ping) {
        if (!conn.alive) {
          conn.ws.terminate()
          continue
        }
        conn.alive = false
        conn.ws.ping()
      }
      if (conn.sentSinceTick) {
        conn.sentSinceTick = false
        conn.lastSentAt = previousTick
      } else if (now - conn.lastSentAt >= options.keepaliveMs) {
        conn.send(KEEPALIVE_FRAME)
        conn.sentSinceTick = false
        conn.lastSentAt = now
      }
    }
  }, tickMs)
  timer.unref()
  return () => clearInterval(timer)
}
