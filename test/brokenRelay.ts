// A deliberately broken y-websocket-protocol relay, the test double that proves
// `concord converge` can fail. Modes:
//   ok:     a correct minimal relay (sync, update relay to others, awareness relay)
//   drop:   loses one client update in `every` (neither applied nor relayed)
//   echo:   sends every update to every connection, its sender included
//   forget: relays correctly, but its stored copy (GET /api/rooms/<room>/update) misses
//           one update in `every`
//   lose:   loses every client update that touches the root named `root` (neither applied,
//           stored nor relayed), like a server that takes some shared types' updates (say
//           formatted XML text) for no-ops; updates to other roots pass
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import * as Y from 'yjs'
import { decodeFrame, encodeSyncStep1, encodeSyncStep2, encodeUpdate } from '../server/protocol/messages.js'

export type RelayMode = 'ok' | 'drop' | 'echo' | 'forget' | 'lose'

interface RelayRoom {
  doc: Y.Doc
  stored: Y.Doc
  /// Every update received, lost or not: it knows every type, so it can tell which root a
  /// nested change belongs to.
  mirror: Y.Doc
  conns: Set<WebSocket>
  updates: number
}

/// A shared type as a transaction lists it.
type SharedType = Parameters<Y.Transaction['changed']['get']>[0]

/// The name of the root type `type` lives under.
function rootName(type: SharedType): string | undefined {
  let t = type
  while (t._item !== null) t = t._item.parent as SharedType // integrated: a type, not an ID
  for (const [name, root] of t.doc?.share ?? []) if (root === t) return name
  return undefined
}

/// Apply `update` to `mirror` and return the names of the roots it changed.
function rootsTouched(mirror: Y.Doc, update: Uint8Array): Set<string> {
  const roots = new Set<string>()
  // `changed` lists the pre-existing types a transaction changed (new types' parents included).
  const collect = (tr: Y.Transaction) => {
    for (const type of tr.changed.keys()) {
      const name = rootName(type)
      if (name !== undefined) roots.add(name)
    }
  }
  mirror.on('afterTransaction', collect)
  try {
    Y.applyUpdate(mirror, update)
  } finally {
    mirror.off('afterTransaction', collect)
  }
  return roots
}

/// A running relay.
export interface BrokenRelay {
  url: string
  /// Updates lost (drop) or not stored (forget) so far.
  readonly broken: number
  close(): Promise<void>
}

/// Start a relay on 127.0.0.1 with a free port. `every` is for drop and forget, `root` for
/// lose.
export async function startBrokenRelay(mode: RelayMode, every = 10, root = 'xml'): Promise<BrokenRelay> {
  const rooms = new Map<string, RelayRoom>()
  let broken = 0
  const roomOf = (name: string): RelayRoom => {
    let room = rooms.get(name)
    if (!room) {
      room = { doc: new Y.Doc(), stored: new Y.Doc(), mirror: new Y.Doc(), conns: new Set(), updates: 0 }
      const r = room
      r.doc.on('update', (update: Uint8Array, origin: unknown) => {
        const frame = encodeUpdate(update)
        for (const c of r.conns) if (c !== origin || mode === 'echo') c.send(frame)
      })
      rooms.set(name, room)
    }
    return room
  }

  const server = http.createServer((req, res) => {
    const m = /^\/api\/rooms\/([^/]+)\/update$/.exec(req.url ?? '')
    const room = m ? rooms.get(decodeURIComponent(m[1])) : undefined
    if (!room) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Y.encodeStateAsUpdate(room.stored))
  })
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws, req) => {
    const room = roomOf(decodeURIComponent((req.url ?? '/').slice(1).split('?')[0]))
    room.conns.add(ws)
    ws.on('close', () => room.conns.delete(ws))
    ws.on('message', (data: Buffer) => {
      for (const message of decodeFrame(new Uint8Array(data))) {
        if (message.type === 'syncStep1') {
          ws.send(encodeSyncStep2(Y.encodeStateAsUpdate(room.doc, message.stateVector)))
        } else if (message.type === 'syncStep2' || message.type === 'update') {
          if (mode === 'lose' && rootsTouched(room.mirror, message.update).has(root)) {
            broken++
            continue
          }
          const counted = message.type === 'update' && ++room.updates % every === 0
          if (counted && mode === 'drop') {
            broken++
            continue
          }
          if (counted && mode === 'forget') broken++
          else Y.applyUpdate(room.stored, message.update)
          Y.applyUpdate(room.doc, message.update, ws)
        } else if (message.type === 'awareness') {
          for (const c of room.conns) if (c !== ws) c.send(message.raw)
        }
      }
    })
    ws.send(encodeSyncStep1(Y.encodeStateVector(room.doc)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}`,
    get broken() { return broken },
    close: () => new Promise((resolve) => {
      for (const c of wss.clients) c.terminate()
      wss.close()
      server.close(() => resolve())
      for (const r of rooms.values()) { r.doc.destroy(); r.stored.destroy(); r.mirror.destroy() }
    }),
  }
}
