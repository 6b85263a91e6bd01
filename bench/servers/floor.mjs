// The floor of a join: the least work Node can do to serve one, speaking enough of the
// y-websocket protocol for the bench's clients (and y-websocket's provider). Per room it keeps
// the updates it received; when someone needs the document it merges them once
// (`Y.mergeUpdates`, no Y.Doc) and encodes ONE sync step 2 frame, which every joiner's sync
// step 1 is answered with, the same Buffer each time (plain `ws.send`); a new update drops
// that frame, and the next join rebuilds it. Each connection first gets the floor's own sync
// step 1, so a real client sends what it has: a state vector kept by folding in each new
// update's end clocks (`Y.parseUpdateMeta`), so that it needs no merge. Updates (sync step 2 and update messages) are stored and relayed to the room's other
// sockets; awareness frames are relayed as they are; nothing else is read. A room with no
// sockets left is dropped, as the y-websocket server without persistence does.
import http from 'node:http'
import { WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { announce } from './common.mjs'

/// Pending updates are merged once this many wait, even if nobody joins (bounds memory
/// under a typing load).
const MERGE_AT = 1000
const EMPTY_UPDATE = Uint8Array.of(0, 0)

function varUint(n) {
  const out = []
  while (n >= 128) { out.push((n % 128) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return out
}

/// [messageType, syncType, length] then the payload, as one Buffer.
function syncFrame(sub, payload) {
  const head = Buffer.from([0, sub, ...varUint(payload.length)])
  return Buffer.concat([head, payload], head.length + payload.length)
}

function readVarUint(buf, pos) {
  let n = 0
  let mult = 1
  for (;;) {
    const b = buf[pos++]
    n += (b & 0x7f) * mult
    if (b < 0x80) return [n, pos]
    mult *= 128
  }
}

class Room {
  constructor() {
    this.sockets = new Set()
    /// Updates received since the last merge (the merged state first).
    this.updates = []
    /// The state vector of `updates[0 .. vectorUpTo)`.
    this.vector = new Map()
    this.vectorUpTo = 0
    /// Sync step 2 with the whole document, sync step 1 with its vector; null when stale.
    this.step2Frame = null
    this.step1Frame = null
  }

  merged() {
    if (this.updates.length > 1) {
      this.foldVector()
      this.updates = [Y.mergeUpdates(this.updates)]
      this.vectorUpTo = 1
    }
    return this.updates[0] ?? EMPTY_UPDATE
  }

  foldVector() {
    for (; this.vectorUpTo < this.updates.length; this.vectorUpTo++) {
      for (const [client, clock] of Y.parseUpdateMeta(this.updates[this.vectorUpTo]).to) {
        if (clock > (this.vector.get(client) ?? 0)) this.vector.set(client, clock)
      }
    }
  }

  step1() {
    if (!this.step1Frame) {
      this.foldVector()
      this.step1Frame = syncFrame(0, Y.encodeStateVector(this.vector))
    }
    return this.step1Frame
  }

  step2() {
    if (!this.step2Frame) {
      const merged = this.merged()
      this.step2Frame = syncFrame(1, merged)
      // The frame holds the only copy: the merged state is a view into it.
      this.updates = [this.step2Frame.subarray(this.step2Frame.length - merged.length)]
    }
    return this.step2Frame
  }

  add(update) {
    this.updates.push(update)
    this.step2Frame = null
    this.step1Frame = null
    if (this.updates.length >= MERGE_AT) this.merged()
  }
}

const rooms = new Map()
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 })
const server = http.createServer((_req, res) => res.end('floor'))

function relay(room, from, data) {
  for (const other of room.sockets) if (other !== from) other.send(data)
}

server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    const name = req.url ?? '/'
    let room = rooms.get(name)
    if (!room) rooms.set(name, (room = new Room()))
    room.sockets.add(ws)
    ws.send(room.step1())
    ws.on('message', (data, isBinary) => {
      if (!isBinary || data.length < 2) return
      if (data[0] === 1) return relay(room, ws, data) // awareness
      if (data[0] !== 0) return
      const sub = data[1]
      if (sub === 0) return ws.send(room.step2()) // their step 1: the whole document
      if (sub !== 1 && sub !== 2) return
      const [len, start] = readVarUint(data, 2)
      // A small update is copied: a view would pin the whole read it came in.
      const view = data.subarray(start, start + len)
      const update = view.length < 4096 ? Buffer.from(view) : view
      // An update with no structs and no deletions changes nothing: neither kept nor relayed.
      if (update.length === 2 && update[0] === 0 && update[1] === 0) return
      room.add(update)
      relay(room, ws, sub === 2 ? data : syncFrame(2, update))
    })
    ws.on('close', () => {
      room.sockets.delete(ws)
      if (room.sockets.size === 0 && rooms.get(name) === room) rooms.delete(name)
    })
  })
})
server.listen(0, '127.0.0.1', () => announce(server.address().port))
