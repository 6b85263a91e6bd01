// The y-websocket reference server (@y/websocket-server), set up as its own bin does,
// without persistence.
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { setupWSConnection } from '@y/websocket-server/utils'
import { announce } from './common.mjs'

const wss = new WebSocketServer({ noServer: true })
const server = http.createServer((_req, res) => res.end('okay'))
wss.on('connection', setupWSConnection)
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
})
server.listen(0, '127.0.0.1', () => announce(server.address().port))
