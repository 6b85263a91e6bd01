// Concord from the root's compiled dist, memory storage (or CONCORD_BENCH_STORAGE), logs off, no editor. Two limits are
// lifted: every simulated client connects from 127.0.0.1 (the per-IP connection cap would
// refuse them), and fan-out writers type faster than any person (the per-connection message
// rate would throttle them). Everything else is the default configuration.
import { createServer } from '../../dist/server/index.js'
import { announce } from './common.mjs'

const server = await createServer({
  host: '127.0.0.1',
  port: 0,
  storage: process.env.CONCORD_BENCH_STORAGE ?? 'memory',
  logLevel: 'silent',
  editor: false,
  maxConnectionsPerIp: 0,
  messagesPerSecond: 0,
})
const address = await server.listen()
announce(address.port)
