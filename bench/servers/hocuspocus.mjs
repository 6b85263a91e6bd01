// Hocuspocus 4.7 with its defaults (merges the updates of one event-loop turn), no
// persistence; in the scale-out scenario (BENCH_REDIS set) its Redis extension 4.7.0.
import { Server } from '@hocuspocus/server'
import { announce } from './common.mjs'

const extensions = []
if (process.env.BENCH_REDIS) {
  const { Redis } = await import('@hocuspocus/extension-redis')
  const url = new URL(process.env.BENCH_REDIS)
  extensions.push(new Redis({ host: url.hostname, port: Number(url.port), prefix: process.env.BENCH_REDIS_PREFIX }))
}
const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false, extensions })
await server.listen()
announce(server.address.port)
