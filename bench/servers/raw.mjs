// The floor: a `ws` relay with no Yjs at all. Each frame goes to every other socket of the
// same URL path, unchanged, with plain `send` (no echo).
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { announce } from './common.mjs'

const rooms = new Map()
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
const server = http.createServer((_req, res) => res.end('raw relay'))
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    const name = req.url ?? '/'
    let room = rooms.get(name)
    if (!room) rooms.set(name, (room = new Set()))
    room.add(ws)
    ws.on('message', (data, isBinary) => {
      for (const other of room) if (other !== ws) other.send(data, { binary: isBinary })
    })
    ws.on('close', () => {
      room.delete(ws)
      if (room.size === 0) rooms.delete(name)
    })
  })
})
server.listen(0, '127.0.0.1', () => announce(server.address().port))
