// Hocuspocus 4.7 with its defaults (merges the updates of one event-loop turn), no
// extensions, no persistence.
import { Server } from '@hocuspocus/server'
import { announce } from './common.mjs'

const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false })
await server.listen()
announce(server.address.port)
