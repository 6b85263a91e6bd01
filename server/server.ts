// Wires the parts together: HTTP server, routes, upgrade admission, connections, rooms,
// storage, cluster, heartbeat. Holds no protocol or admission logic of its own.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { admission, type Admitted } from './net/admission.js'
import { createApi } from './http/api.js'
import { shareSigner } from './auth/token.js'
import {
  apiAuthorizer, authenticator, chooseSubprotocol, publicKeyFile, secretKey,
  type Authenticate,
} from './auth/auth.js'
import { CloseCode } from './protocol/closeCodes.js'
import { createRedisCluster, type RedisCluster } from './cluster/redis.js'
import { ConfigError, defaultConfig, type Config } from './ops/config.js'
import { Connection } from './net/connection.js'
import { startHeartbeat } from './net/heartbeat.js'
import { clientIp, RateLimiter, SlotCounter } from './net/limits.js'
import { createLogger, type Logger } from './ops/log.js'
import { createMetrics, type Metrics } from './ops/metrics.js'
import { timedStorage } from './storage/timed.js'
import { createReadiness, type Readiness, type ReadinessCheck } from './http/readiness.js'
import { Rooms } from './room/rooms.js'
import { routes } from './http/routes.js'
import { defaultEditorDir, staticHandler } from './http/static.js'
import { openStorage } from './storage/open.js'
import { seedFromFile } from './storage/seed.js'
import type { Storage } from './storage/types.js'
import { createWebhook } from './ops/webhook.js'

/// Options of `createServer`: every option of the table is optional here, plus objects for embedders.
export interface ServerOptions extends Partial<Config> {
  /// A store object; overrides the `storage` URL.
  store?: Storage
  /// A logger; by default one at `logLevel` writing JSON to stdout.
  logger?: Logger
  /// Decide who may open which room, instead of (or on top of) tokens: runs for every
  /// upgrade before any room is loaded, and for every HTTP API request (room `**` for the
  /// room list). See `verifyToken` to check Concord tokens inside it.
  authenticate?: Authenticate
  /// Extra /readyz checks by name (the store's `ping` is added as `storage`).
  readinessChecks?: Record<string, ReadinessCheck>
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
  /// This server's Prometheus metrics.
  readonly metrics: Metrics
  /// The /readyz checks; other parts (the Redis cluster) add theirs.
  readonly readiness: Readiness
  /// Start listening; resolves with the bound address.
  listen(): Promise<AddressInfo>
  /// `ws://host:port` (or `wss://` with TLS) once listening.
  readonly url: string
  /// Graceful stop: refuse new connections, close clients with 1012 (reconnect elsewhere),
  /// store every pending update, close the store.
  close(): Promise<void>
}

/// Read the file an option names; a missing or unusable file is a configuration error.
function fromFile<T>(option: string, path: string, read: (path: string) => T): T {
  try {
    return read(path)
  } catch (error) {
    throw new ConfigError(`--${option}: cannot use ${JSON.stringify(path)}: ${(error as Error).message}`)
  }
}

/// Create a server. Nothing listens until `listen()`.
export async function createServer(options: ServerOptions = {}): Promise<ConcordServer> {
  const config: Config = { ...defaultConfig(), ...options }
  const log = options.logger ?? createLogger(config.logLevel)
  const connections = new Set<Connection>()
  const metrics = createMetrics({ connections: () => connections.size, roomsLoaded: () => rooms.size, roomsAsleep: () => rooms.asleep })
  const webhook = config.webhookUrl && config.webhookSecret
    ? createWebhook({ url: config.webhookUrl, secret: config.webhookSecret, debounceMs: config.webhookDebounceMs, log })
    : null
  // With --metrics false nothing is timed or counted on the hot paths.
  const store = options.store ?? (await openStorage(config.storage))
  const storage = config.metrics ? timedStorage(store, metrics) : store
  const cluster = config.redis
    ? await createRedisCluster({
        url: config.redis,
        prefix: config.redisPrefix,
        syncIntervalMs: config.clusterSyncMs,
        heartbeatMs: config.clusterHeartbeatMs,
        deleted: (room) => rooms.dropDeleted(room),
        log: { info: (msg) => log.info(msg), warn: (obj, msg) => log.warn(obj, msg) },
      })
    : null
  const seed = config.initialContent ? seedFromFile(config.initialContent, config.initialContentField) : undefined
  const rooms: Rooms = new Rooms({
    storage,
    unloadAfterMs: config.unloadAfterMs,
    sleepAfterMs: config.sleepAfterMs,
    publish: cluster?.publish,
    cluster: cluster ?? undefined,
    commitDelayMs: config.commitDelayMs,
    maxPendingBytes: config.maxPendingBytes,
    compactAfterUpdates: config.compactAfterUpdates,
    compactAfterBytes: config.compactAfterBytes,
    log: (message, error) => log.error({ err: error }, message),
    observer: config.metrics ? metrics : undefined,
    stored: webhook ? (room) => webhook.changed(room) : undefined,
    versions: {
      quietMs: config.versionAfterQuietMs,
      everyMs: config.versionEveryMs,
      keepMs: config.versionRetentionDays * 86_400_000,
      keepCount: config.maxVersions,
    },
    compacted: (room, result, ms) => log.debug({ room, ...result, ms: Math.round(ms) }, 'compacted'),
    seed,
  })
  const readiness = createReadiness(config.readyTimeoutMs)
  readiness.add('storage', () => storage.ping())
  if (cluster) readiness.add('redis', async () => { if (!cluster.isReady()) throw new Error('not connected to Redis') })
  for (const [name, check] of Object.entries(options.readinessChecks ?? {})) readiness.add(name, check)
  const instance = randomBytes(3).toString('hex')
  let nextId = 1
  let closing = false
  const startedAt = Date.now()

  const key = config.authPublicKey ? fromFile('auth-public-key', config.authPublicKey, publicKeyFile) : config.authSecret ? secretKey(config.authSecret) : null
  const authenticate = authenticator({ authenticate: options.authenticate, key })
  // The HTTP API asks the same question with the token in `Authorization: Bearer …` (or
  // ?token=); the room list shows each caller the rooms it is granted (see `apiAuthorizer`).
  /// Bytes of WebSocket messages and HTTP bodies still arriving, bounded together.
  const incomplete = { held: 0, limit: config.maxIncompleteBytes }
  const connectionLimits = { ...config, incomplete }
  const perIp = new SlotCounter(config.maxConnectionsPerIp)
  const perRoom = new SlotCounter(config.maxConnectionsPerRoom)
  const api = createApi({
    rooms,
    storage,
    authorize: apiAuthorizer({ authenticate: options.authenticate, key }),
    allowedOrigins: config.allowedOrigins,
    rate: new RateLimiter(config.apiRequestsPerSecond, config.apiRequestBurst),
    textName: config.textName,
    maxBodyBytes: config.maxMessageBytes,
    incomplete,
    maxRooms: config.maxRooms,
    capacity: (room) => {
      if (config.maxRooms > 0 && !rooms.get(room) && rooms.size >= config.maxRooms) return { status: 503, reason: 'too many rooms loaded' }
      return perRoom.isFull(room) ? { status: 429, reason: 'too many connections to this room' } : null
    },
    share: shareSigner({ hook: options.authenticate !== undefined, publicKey: config.authPublicKey !== null, secret: config.authSecret }),
    closing: () => closing,
    refused: (status) => metrics.refused('http', status),
    log,
  })
  if ((config.tlsCert === null) !== (config.tlsKey === null)) throw new ConfigError('--tls-cert and --tls-key go together')

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxMessageBytes,
    perMessageDeflate: false,
    allowSynchronousEvents: true, // ws's default; directFeed.ts relies on it
    handleProtocols: (offered) => chooseSubprotocol(offered),
  })
  const handleRequest = routes({
    startedAt, rooms, connections, readiness, metrics: config.metrics ? metrics : null, api: config.api ? api : null,
    editor: config.editor ? staticHandler(config.publicDir ?? defaultEditorDir()) : null,
    clientIp: (req) => clientIp(req, config.trustProxy),
    perIp: new SlotCounter(config.maxHttpRequestsPerIp),
    closing: () => closing,
    log,
  })
  // A request must arrive whole (headers and body) within --request-timeout-ms, not Node's
  // 300 s; Node then answers 408 and closes. It checks every so often: a tenth of the limit.
  const timeouts = {
    requestTimeout: config.requestTimeoutMs,
    headersTimeout: config.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.round(config.requestTimeoutMs / 10))),
  }
  const server = config.tlsCert && config.tlsKey
    ? https.createServer({ cert: fromFile('tls-cert', config.tlsCert, readFileSync), key: fromFile('tls-key', config.tlsKey, readFileSync), ...timeouts }, handleRequest)
    : http.createServer(timeouts, handleRequest)
  const stopHeartbeat = startHeartbeat(connections, config)

  server.on('upgrade', admission({
    config, log, rooms, wss, authenticate, perIp, perRoom,
    closing: () => closing,
    refused: (status) => metrics.refused('websocket', status),
    accept,
  }))

  function onSocketError(this: WebSocket, error: Error): void {
    const { info } = Connection.of(this)
    log.debug({ conn: info.id, room: info.room, user: info.user, err: error }, 'socket error')
  }

  function onSocketClose(this: WebSocket, code: number): void {
    const conn = Connection.of(this)
    const { info } = conn
    connections.delete(conn)
    perIp.release(info.ip)
    perRoom.release(info.room)
    conn.closed(code)
    // Our code when the server closed it, the peer's otherwise (1006: no close frame).
    const closeCode = conn.closeCode ?? code
    metrics.closed(closeCode)
    log.info(
      { conn: info.id, room: info.room, user: info.user, code: closeCode, durationMs: Date.now() - conn.openedAt, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut },
      'close',
    )
  }

  function accept(ws: WebSocket, req: IncomingMessage, { room, ip, decision, query }: Admitted): void {
    const conn = new Connection(
      ws,
      {
        id: `${instance}-${nextId++}`,
        room,
        readOnly: decision.access === 'read',
        wantsAck: query.get('ack') === '1',
        user: decision.user,
        ip,
        expiresAt: decision.expiresAt ?? null,
      },
      connectionLimits,
      config.metrics ? metrics.traffic : undefined,
    )
    connections.add(conn)
    metrics.opened()
    // No child logger per connection, and listeners shared by all connections (it all costs
    // memory for as long as a connection lives): the few lines a connection writes carry its
    // bindings themselves.
    log.info({ conn: conn.id, room, user: decision.user, ip, access: decision.access, origin: req.headers.origin }, 'open')
    ws.on('error', onSocketError)
    ws.on('close', onSocketClose)
    rooms.acquire(room).then(
      (r) => conn.attach(r),
      (error: unknown) => {
        log.error({ conn: conn.id, room, user: conn.info.user, err: error }, 'room failed to load')
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
    metrics,
    readiness,
    get url() { return url },
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(config.port, config.host, () => {
          server.off('error', reject)
          const address = server.address() as AddressInfo
          const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
          url = `${config.tlsCert ? 'wss' : 'ws'}://${host}:${address.port}`
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
    await webhook?.close()
    wss.close()
    server.closeAllConnections()
    await serverClosed
    if (!options.store) await storage.close() // an embedder's store stays theirs
  }
}
