// Concord from the root's compiled dist, memory storage, logs off, no editor.
import { createServer } from '../../dist/server/index.js'
import { announce } from './common.mjs'

const server = await createServer({ host: '127.0.0.1', port: 0, storage: 'memory', logLevel: 'silent', editor: false })
const address = await server.listen()
announce(address.port)
