// Concord from the root's compiled dist (or CONCORD_BENCH_DIST: another checkout's, for
// --baseline), memory storage (or CONCORD_BENCH_STORAGE), logs off, no editor. Three limits
// are lifted: every simulated client connects from 127.0.0.1 (the per-IP connection cap would
// refuse them), fan-out writers type faster than any person (the per-connection message rate
// would throttle them), and crowded-room runs put up to 1,000 clients in one room (the default
// per-room cap is 500, which an operator raises for such rooms). Everything else is the
// default configuration.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { announce } from './common.mjs'

const dist = process.env.CONCORD_BENCH_DIST
const { createServer } = await import(dist ? pathToFileURL(join(dist, 'server', 'index.js')).href : '../../dist/server/index.js')

const server = await createServer({
  host: '127.0.0.1',
  port: 0,
  storage: process.env.CONCORD_BENCH_STORAGE ?? 'memory',
  logLevel: 'silent',
  editor: false,
  maxConnectionsPerIp: 0,
  messagesPerSecond: 0,
  maxConnectionsPerRoom: 0,
  // The scale-out scenario's instances share a private Redis (and a PostgreSQL store).
  ...(process.env.BENCH_REDIS ? { redis: process.env.BENCH_REDIS, redisPrefix: process.env.BENCH_REDIS_PREFIX } : {}),
})
const address = await server.listen()
announce(address.port)
