// /readyz against the real PostgreSQL and Redis, reached through a TCP proxy of our own that
// the test cuts (connections reset) or black-holes (bytes go nowhere) and then restores.
import net from 'node:net'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterEach, expect, test } from 'vitest'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import type { Storage } from '../server/storage/types.js'
import { sleep, startServer } from './helpers.js'

/// A TCP proxy to `target` that can drop every connection or swallow all traffic.
class Proxy {
  private readonly server = net.createServer((socket) => this.accept(socket))
  private readonly pairs = new Set<[net.Socket, net.Socket]>()
  mode: 'open' | 'cut' | 'blackhole' = 'open'
  port = 0

  constructor(private readonly target: number) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
    return this
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined)
    if (this.mode === 'cut') return void client.destroy()
    if (this.mode === 'blackhole') return void this.pairs.add([client, client])
    const upstream = net.connect(this.target, '127.0.0.1')
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    // Forward by hand so a black hole can stop forwarding on live connections too.
    client.on('data', (d) => { if (this.mode === 'open') upstream.write(d) })
    upstream.on('data', (d) => { if (this.mode === 'open') client.write(d) })
    this.pairs.add([client, upstream])
  }

  /// Reset every connection and refuse new ones.
  cut(): void {
    this.mode = 'cut'
    for (const [a, b] of this.pairs) { a.destroy(); b.destroy() }
    this.pairs.clear()
  }

  /// Accept connections and forward nothing: a network partition.
  blackhole(): void {
    this.mode = 'blackhole'
  }

  restore(): void {
    this.mode = 'open'
  }

  async stop(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

const cleanup: Array<() => Promise<unknown> | void> = []
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f()
})

interface Readyz { status: number; body: { status: string; checks: Record<string, { ok: boolean; error?: string }> } }

async function readyz(server: ConcordServer): Promise<Readyz> {
  const res = await fetch(`${server.url.replace('ws:', 'http:')}/readyz`)
  return { status: res.status, body: await res.json() }
}

/// Poll /readyz until `want` holds (generous: the machine is shared).
async function until(server: ConcordServer, want: (r: Readyz) => boolean, what: string, timeoutMs = 15_000): Promise<Readyz> {
  const deadline = Date.now() + timeoutMs
  let last = await readyz(server)
  while (!want(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last /readyz: ${JSON.stringify(last)}`)
    await sleep(50)
    last = await readyz(server)
  }
  return last
}

async function setup(readyTimeoutMs = 2000) {
  const pgProxy = await new Proxy(5432).start()
  const redisProxy = await new Proxy(6379).start()
  const pool = new pg.Pool({
    host: '127.0.0.1', port: pgProxy.port, user: 'postgres', database: 'postgres', max: 2,
    connectionTimeoutMillis: 1000, idleTimeoutMillis: 0,
  })
  pool.on('error', () => undefined) // an idle client's socket was cut: the pool drops it
  const redis = new Redis({
    host: '127.0.0.1', port: redisProxy.port, enableOfflineQueue: false, maxRetriesPerRequest: 0,
    retryStrategy: () => 50, lazyConnect: true,
  })
  redis.on('error', () => undefined)
  await redis.connect()
  // Server first, then the proxies (which fails any query stuck in a black hole), then clients.
  cleanup.push(() => pgProxy.stop(), () => redisProxy.stop(), () => pool.end(), () => redis.disconnect())
  // The store's ping is a round trip to PostgreSQL, as the PostgreSQL store's is.
  const store: Storage = { ...memoryStorage(), ping: async () => { await pool.query('select 1') } }
  const server = await startServer({ store, readyTimeoutMs, readinessChecks: { redis: () => redis.ping() } })
  cleanup.unshift(() => server.close())
  return { server, pgProxy, redisProxy }
}

const healthy = (r: Readyz) => r.status === 200 && r.body.status === 'ready'

test('not ready while PostgreSQL or Redis is unreachable, ready again when it returns', async () => {
  const { server, pgProxy, redisProxy } = await setup()
  const first = await until(server, healthy, 'ready at start')
  expect(Object.keys(first.body.checks).sort()).toEqual(['redis', 'storage'])

  pgProxy.cut()
  const noPg = await until(server, (r) => r.status === 503, 'not ready without PostgreSQL')
  expect(noPg.body.status).toBe('not ready')
  expect(noPg.body.checks.storage.ok).toBe(false)
  expect(noPg.body.checks.storage.error).toBeTruthy()
  expect(noPg.body.checks.redis.ok).toBe(true)
  // /healthz is about the process only: still fine.
  expect((await fetch(`${server.url.replace('ws:', 'http:')}/healthz`)).status).toBe(200)
  pgProxy.restore()
  await until(server, healthy, 'ready again after PostgreSQL returns')

  redisProxy.cut()
  const noRedis = await until(server, (r) => r.status === 503, 'not ready without Redis')
  expect(noRedis.body.checks.redis.ok).toBe(false)
  expect(noRedis.body.checks.storage.ok).toBe(true)
  redisProxy.restore()
  await until(server, healthy, 'ready again after Redis returns')
})

test('a dependency that stops answering fails its check within the time limit', async () => {
  const { server, pgProxy } = await setup(300)
  await until(server, healthy, 'ready at start')
  pgProxy.blackhole()
  // The check's own time limit answered (the message says so), not the blackholed store.
  const r = await readyz(server)
  expect(r.status).toBe(503)
  expect(r.body.checks.storage.error).toMatch(/no answer within 300 ms/)
  // The live pooled connection stays stuck; a restored network makes it answer again.
  pgProxy.restore()
  await until(server, healthy, 'ready again after the partition heals')
})

test('a server with only its store to check is ready, and says the store answered', async () => {
  const server = await startServer()
  const r = await readyz(server)
  expect(r.status).toBe(200)
  expect(r.body).toMatchObject({ status: 'ready', checks: { storage: { ok: true } } })
  await server.close()
})
