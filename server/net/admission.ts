// Decides every WebSocket upgrade before any room is loaded: shutting down, room name,
// origin, upgrades waiting for authentication, connections per IP and per room,
// authentication, rooms loaded. A refused client costs a few header reads and, with auth,
// one signature check; it gets an HTTP status with a JSON reason and never a WebSocket.
import http, { type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocket, WebSocketServer } from 'ws'
import type { AuthDecision } from '../auth/auth.js'
import type { Config } from '../ops/config.js'
import { clientIp, originAllowed, type SlotCounter } from './limits.js'
import type { Logger } from '../ops/log.js'
import { parseRoomName, queryOf } from '../protocol/roomName.js'
import type { Rooms } from '../room/rooms.js'

/// What an admitted upgrade carries to the new connection.
export interface Admitted {
  room: string
  ip: string
  decision: Extract<AuthDecision, { ok: true }>
  query: URLSearchParams
}

/// What admission needs from the server.
export interface AdmissionOptions {
  config: Config
  log: Logger
  rooms: Rooms
  wss: WebSocketServer
  authenticate: (req: IncomingMessage, room: string) => AuthDecision | Promise<AuthDecision>
  /// Slots per IP and per room; the connection releases them when it closes.
  perIp: SlotCounter
  perRoom: SlotCounter
  closing(): boolean
  /// Counts an authentication refusal (metrics).
  refused(status: number): void
  /// Called with the open WebSocket of an admitted upgrade.
  accept(ws: WebSocket, req: IncomingMessage, admitted: Admitted): void
}

/// How long an `authenticate` hook may take before the upgrade is refused with 500.
const AUTH_TIMEOUT_MS = 10_000

/// Refuse an upgrade with an HTTP status before any WebSocket exists.
function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = JSON.stringify({ error: reason })
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}

// A socket error before or after the upgrade just ends that socket. A plain function, not a
// closure: a closure here would keep the upgrade's whole scope (the request and its headers)
// alive for as long as the connection lasts.
function destroyOnError(this: Duplex): void {
  this.destroy()
}

/// The server's `upgrade` listener.
export function admission(o: AdmissionOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { config, log, perIp, perRoom } = o
  let pendingUpgrades = 0

  return (req, socket, head) => {
    socket.on('error', destroyOnError)
    const url = req.url ?? '/'
    const ip = clientIp(req, config.trustProxy)
    const refuse = (status: number, reason: string, room?: string) => {
      log.info({ ip, room, origin: req.headers.origin, status, reason }, 'upgrade refused')
      refuseUpgrade(socket, status, reason)
    }
    if (o.closing()) return refuse(503, 'server is shutting down')
    const name = parseRoomName(url)
    if (!name.ok) return refuse(400, name.reason)
    const room = name.room
    if (!originAllowed(req.headers.origin, config.allowedOrigins)) return refuse(403, 'origin not allowed', room)
    if (pendingUpgrades >= config.maxPendingUpgrades) return refuse(503, 'too many connections waiting for authentication', room)
    // The IP's slot is taken now, so parallel upgrades waiting for auth count too.
    if (!perIp.tryTake(ip)) return refuse(429, 'too many connections from this address', room)
    pendingUpgrades++
    let decided = false
    const decide = (decision: AuthDecision | Error) => {
      if (decided) return
      decided = true
      pendingUpgrades--
      const refuseAndRelease = (status: number, reason: string) => {
        perIp.release(ip)
        refuse(status, reason, room)
      }
      if (decision instanceof Error) {
        log.error({ err: decision, ip, room }, 'authenticate failed')
        return refuseAndRelease(500, 'authentication failed')
      }
      if (!decision.ok) {
        o.refused(decision.status)
        return refuseAndRelease(decision.status, decision.reason)
      }
      if (o.closing()) return refuseAndRelease(503, 'server is shutting down')
      if (socket.destroyed) return perIp.release(ip)
      if (config.maxRooms > 0 && !o.rooms.get(room) && o.rooms.size >= config.maxRooms) {
        return refuseAndRelease(503, 'too many rooms loaded')
      }
      if (!perRoom.tryTake(room)) return refuseAndRelease(429, 'too many connections to this room')
      // handleUpgrade answers synchronously: either `accept` ran, or it refused the handshake.
      let accepted = false
      o.wss.handleUpgrade(req, socket, head, (ws) => {
        accepted = true
        o.accept(ws, req, { room, ip, decision, query: queryOf(url) })
      })
      if (!accepted) {
        perIp.release(ip)
        perRoom.release(room)
      }
    }
    let pending: AuthDecision | Promise<AuthDecision>
    try {
      pending = o.authenticate(req, room)
    } catch (error) {
      return decide(error instanceof Error ? error : new Error(String(error)))
    }
    if ('then' in pending) {
      const timer = setTimeout(() => decide(new Error('authenticate took longer than 10 s')), AUTH_TIMEOUT_MS)
      timer.unref()
      pending.then(
        (decision) => { clearTimeout(timer); decide(decision) },
        (error: unknown) => { clearTimeout(timer); decide(error instanceof Error ? error : new Error(String(error))) },
      )
    } else decide(pending)
  }
}
