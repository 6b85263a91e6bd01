// Wires the parts together: HTTP server, WebSocket upgrades, rooms, storage, heartbeat.
// Holds no protocol logic of its own.
import { randomBytes } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { CloseCode } from './closeCodes.js'
import { createRedisCluster, type RedisCluster } from './cluster/redis.js'
import { defaultConfig, type Config } from './config.js'
import { Connection } from './connection.js'
import { sendError, sendHealth } from './health.js'
import { startHeartbeat } from './heartbeat.js'
import { createLogger, type Logger } from './log.js'
import { parseRoomName, queryOf } from './roomName.js'
import { Rooms } from './rooms.js'
import { defaultEditorDir, staticHandler } from './static.js'
import { openStorage } from './storage/open.js'
import type { Storage } from './storage/types.js'

/// Options of `createServer`: any option of the table, plus objects for embedders.
export interface ServerOptions extends Partial<Config> {
  /// A store object; overrides the `storage` URL.
  store?: Storage
  /// A logger; by default one at `logLevel` writing JSON to stdout.
  logger?: Logger
}

/// A running (or ready to run) Concord server.
export interface ConcordServer {
  readonly config: Config
  readonly http: http.Server
  readonly rooms: Rooms
  /// The link to other instances (with `redis`); its `isReady()` belongs in /readyz.
  readonly cluster: RedisCluster | null
  readonly connections: ReadonlySet<Connection>
  readonly log: Logger
  /// Start listening; resolves with the bound address.
  listen(): Promise<AddressInfo>
  /// `ws://host:port` once listening.
  readonly url: string
  /// Graceful stop: refuse new connections, close clients with 1012 (reconnect elsewhere),
  /// store every pending update, close the store.
  close(): Promise<void>
}

/// Refuse an upgrade with an HTTP status before any WebSocket exists.
function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = JSON.stringify({ error: reason })
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  )
}

/// Create a server. Nothing listens until `listen()`.
export async function createServer(options: ServerOptions = {}): Promise<ConcordServer> {
  const config: Config = { ...defaultConfig(), ...options }
  const log = options.logger ?? createLogger(config.logLevel)
  const storage = options.store ?? (await openStorage(config.storage))
  const cluster = config.redis
    ? await createRedisCluster({
        url: config.redis,
        prefix: config.redisPrefix,
        syncIntervalMs: config.clusterSyncMs,
        heartbeatMs: config.clusterHeartbeatMs,
        log: { info: (msg) => log.info(msg), warn: (obj, msg) => log.warn(obj, msg) },
      })
    : null
  const rooms = new Rooms({
    storage,
    unloadAfterMs: config.unloadAfterMs,
    publish: cluster?.publish,
    cluster: cluster ?? undefined,
    compactAfterUpdates: config.compactAfterUpdates,
    compactAfterBytes: config.compactAfterBytes,
    log: (message, error) => log.error({ err: error }, message),
    compacted: (room, result, ms) => log.debug({ room, ...result, ms: Math.round(ms) }, 'compacted'),
  })
  const connections = new Set<Connection>()
  const instance = randomBytes(3).toString('hex')
  let nextId = 1
  let closing = false
  const startedAt = Date.now()

  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxMessageBytes, perMessageDeflate: false })
  const server = http.createServer((req, res) => handleRequest(req, res))
  const stopHeartbeat = startHeartbeat(connections, config)
  const serveEditor = config.editor ? staticHandler(config.publicDir ?? defaultEditorDir()) : null

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0]
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      sendHealth(res, startedAt, { rooms: rooms.size, connections: connections.size })
      return
    }
    if (serveEditor && (req.method === 'GET' || req.method === 'HEAD')) return serveEditor(req, res)
    sendError(res, 404, 'not found')
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    if (closing) return refuseUpgrade(socket, 503, 'server is shutting down')
    const url = req.url ?? '/'
    const name = parseRoomName(url)
    if (!name.ok) {
      log.info({ url, reason: name.reason }, 'upgrade refused')
      return refuseUpgrade(socket, 400, name.reason)
    }
    const query = queryOf(url)
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, req, name.room, query))
  })

  function accept(ws: WebSocket, req: IncomingMessage, room: string, query: URLSearchParams): void {
    const conn = new Connection(
      ws,
      {
        id: `${instance}-${nextId++}`,
        room,
        readOnly: false,
        wantsAck: query.get('ack') === '1',
        user: null,
        ip: req.socket.remoteAddress ?? '',
      },
      config,
    )
    connections.add(conn)
    const connLog = log.child({ conn: conn.id, room })
    connLog.debug('open')
    ws.on('error', (error) => connLog.debug({ err: error }, 'socket error'))
    ws.on('close', (code) => {
      connections.delete(conn)
      conn.closed(code)
      connLog.info(
        { code, durationMs: Date.now() - conn.openedAt, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut },
        'close',
      )
    })
    rooms.acquire(room).then(
      (r) => conn.attach(r),
      (error: unknown) => {
        connLog.error({ err: error }, 'room failed to load')
        conn.close(CloseCode.TryAgainLater, 'room failed to load')
      },
    )
  }

  let url = ''
  let closed: Promise<void> | null = null
  return {
    config,
    http: server,
    rooms,
    cluster,
    connections,
    log,
    get url() { return url },
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(config.port, config.host, () => {
          server.off('error', reject)
          const address = server.address() as AddressInfo
          const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
          url = `ws://${host}:${address.port}`
          resolve(address)
        })
      })
    },
    close() {
      closed ??= shutdown()
      return closed
    },
  }

  // Stop accepting, tell clients to reconnect (1012: their unacknowledged updates are
  // re-sent to whichever instance they reach), store what the rooms hold, close the store.
  // The CLI bounds the whole with --shutdown-timeout-ms.
  async function shutdown(): Promise<void> {
    closing = true
    stopHeartbeat()
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const conn of connections) conn.close(CloseCode.ServiceRestart, 'server restarting')
    await rooms.flushAll().catch((error: unknown) => log.error({ err: error }, 'final flush failed'))
    await rooms.stopCompacting()
    await cluster?.close() // after the flush: peers need not store anything of ours
    // Give clients a moment to complete the closing handshake, then cut the rest.
    const deadline = Date.now() + Math.min(2000, config.shutdownTimeoutMs / 2)
    while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    for (const conn of connections) conn.ws.terminate()
    rooms.destroyAll()
    wss.close()
    server.closeAllConnections()
    await serverClosed
    if (!options.store) await storage.close() // an embedder's store stays theirs
  }
}
