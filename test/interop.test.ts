// The stock y-websocket client (WebsocketProvider 3.1.0) against Concord: it syncs, converges
// with our own client and with another provider, shows awareness, and stays connected while
// idle and alone for longer than its hard-coded 30 s "no message received" timeout.
import { afterEach, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { KEEPALIVE_FRAME } from '../server/protocol/messages.js'
import type { ConcordServer } from '../server/server.js'
import { sleep, startServer, TestClient, waitFor } from './helpers.js'

let server: ConcordServer
const clients: TestClient[] = []
const providers: WebsocketProvider[] = []
afterEach(async () => {
  for (const p of providers.splice(0)) {
    p.destroy()
    p.awareness.destroy()
    p.doc.destroy()
  }
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
})

/// A stock provider with Node's `ws` as its WebSocket and no BroadcastChannel.
function provider(room: string, connect = true): WebsocketProvider {
  const p = new WebsocketProvider(server.url, room, new Y.Doc(), {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    connect,
  })
  providers.push(p)
  return p
}

const synced = (p: WebsocketProvider) => waitFor(() => p.synced, 'the provider to sync')

async function join(room: string): Promise<TestClient> {
  const c = new TestClient(server.url, room)
  clients.push(c)
  return c.connect()
}

describe('y-websocket WebsocketProvider', () => {
  test('syncs existing content and edits both ways with a TestClient', async () => {
    server = await startServer()
    const ours = await join('interop')
    ours.doc.getText('t').insert(0, 'written before the provider came')
    await waitFor(() => server.rooms.get('interop')?.document.doc.getText('t').length === 32, 'the server to hold it')
    const p = provider('interop')
    await synced(p)
    const text = p.doc.getText('t')
    expect(text.toString()).toBe('written before the provider came')
    text.insert(0, '[stock] ')
    ours.doc.getText('t').insert(ours.text.length, ' [ours]')
    await waitFor(() => ours.text === text.toString() && ours.text.includes('[stock]') && ours.text.includes('[ours]'), 'both edits on both sides')
    expect(ours.count('update')).toBeGreaterThan(0)
  })

  test('two providers converge under concurrent edits', async () => {
    server = await startServer()
    const a = provider('pair')
    const b = provider('pair')
    await synced(a)
    await synced(b)
    for (let i = 0; i < 40; i++) {
      a.doc.getText('t').insert(i % 3, 'a')
      b.doc.getText('t').insert(0, 'b')
      if (i % 5 === 0) await sleep(2)
    }
    b.doc.getText('t').delete(0, 10)
    const serverText = () => server.rooms.get('pair')?.document.doc.getText('t').toString()
    await waitFor(() => a.doc.getText('t').toString() === serverText() && b.doc.getText('t').toString() === serverText(), 'convergence')
    expect(serverText()).toHaveLength(70)
  })

  test('shows awareness both ways, and a destroyed provider disappears for the others', async () => {
    server = await startServer()
    const ours = await join('presence')
    ours.awareness.setLocalState({ name: 'ours' })
    const p = provider('presence')
    p.awareness.setLocalState({ name: 'stock', cursor: 3 })
    await synced(p)
    await waitFor(() => p.awareness.getStates().get(ours.doc.clientID)?.name === 'ours', 'the provider to see our state')
    await waitFor(() => ours.awareness.getStates().get(p.doc.clientID)?.name === 'stock', 'us to see the provider\'s state')
    p.awareness.setLocalStateField('cursor', 9)
    await waitFor(() => ours.awareness.getStates().get(p.doc.clientID)?.cursor === 9, 'the cursor move')
    const id = p.doc.clientID
    p.destroy()
    await waitFor(() => !ours.awareness.getStates().has(id), 'the provider\'s state to go', 1000)
    expect(server.rooms.get('presence')?.presence.size).toBe(1)
  })

  test('stays connected for 35 s while idle and alone, with the default keepalive', { timeout: 60_000 }, async () => {
    server = await startServer() // keepaliveMs 15 s, pingIntervalMs 30 s: the defaults
    expect(server.config.keepaliveMs).toBe(15_000)
    const p = provider('idle', false)
    const statuses: string[] = []
    const closes: unknown[] = []
    p.on('status', ({ status }: { status: string }) => statuses.push(status))
    p.on('connection-close', (event: unknown) => closes.push(event))
    p.connect()
    await synced(p)
    const [conn] = server.connections
    let keepalives = 0
    ;(p.ws as unknown as WebSocket).on('message', (data: Buffer) => {
      if (Buffer.from(data).equals(Buffer.from(KEEPALIVE_FRAME))) keepalives++
    })
    await sleep(35_000)
    console.log(`idle y-websocket provider after 35 s: ${keepalives} keepalive frames, statuses ${statuses.join(' → ')}, ${closes.length} closes`)
    expect(closes).toEqual([])
    expect(statuses).toEqual(['connecting', 'connected'])
    expect(p.wsconnected).toBe(true)
    expect(p.synced).toBe(true)
    expect(keepalives).toBeGreaterThanOrEqual(2)
    expect([...server.connections]).toEqual([conn]) // the very same connection, never replaced
  })
})
