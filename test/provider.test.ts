// The editor's provider in Node against the real server: sync, saved state, reconnect after a
// restart, backoff, permanent close codes, presence across reconnects.
import { createServer as createNetServer } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { ConcordProvider, type ProviderOptions, type ProviderState } from '../editor/connection/provider.js'
import { isPermanentClose, retryDelay, roomUrl } from '../editor/connection/socket.js'
import type { ConcordServer } from '../server/server.js'
import { memoryStorage } from '../server/storage/memory.js'
import type { AppendEntry, Storage } from '../server/storage/types.js'
import { sleep, startServer, storedText, TestClient, waitFor } from './helpers.js'

const servers: ConcordServer[] = []
const providers: ConcordProvider[] = []
const clients: TestClient[] = []
const raw: WebSocketServer[] = []

afterEach(async () => {
  for (const p of providers.splice(0)) {
    p.destroy()
    p.doc.destroy()
  }
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
  for (const w of raw.splice(0)) await new Promise((r) => w.close(r))
})

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<ConcordServer> {
  const server = await startServer(options)
  servers.push(server)
  return server
}

async function stop(server: ConcordServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1)
  await server.close()
}

function provider(url: string, room: string, options: ProviderOptions = {}): ConcordProvider {
  const p = new ConcordProvider(url, room, new Y.Doc(), {
    WebSocket, minRetryMs: 50, maxRetryMs: 400, ...options,
  })
  providers.push(p)
  return p
}

const text = (p: ConcordProvider) => p.doc.getText('t').toString()
const ready = (p: ConcordProvider) => p.state.status === 'connected' && p.state.synced

/// A store whose appends can be held back, to see what "saved" waits for.
function gatedStore(): { store: Storage; hold(): void; release(): void } {
  const inner = memoryStorage()
  let held = false
  let waiting: Array<() => void> = []
  return {
    store: {
      ...inner,
      appendNow: undefined, // every append goes through `append`, where it can be held
      async append(entries: readonly AppendEntry[]) {
        if (held) await new Promise<void>((resolve) => waiting.push(resolve))
        await inner.append(entries)
      },
      ping: () => inner.ping(),
      close: () => inner.close(),
    },
    hold() { held = true },
    release() {
      held = false
      for (const resolve of waiting.splice(0)) resolve()
    },
  }
}


describe('pure rules', () => {
  test('retry delays double up to the cap, with jitter in the upper half', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => retryDelay(n, 100, 1000, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000])
    expect([0, 1, 2, 3, 4, 5].map((n) => retryDelay(n, 100, 1000, () => 0))).toEqual([50, 100, 200, 400, 500, 500])
    expect(retryDelay(1000, 100, 1000, () => 0.5)).toBe(750) // no overflow for long outages
  })

  test('4400–4499 and 1009 are permanent; restarts and overload are not', () => {
    for (const code of [4400, 4401, 4403, 4429, 4499, 1009]) expect(isPermanentClose(code), String(code)).toBe(true)
    for (const code of [1000, 1001, 1006, 1011, 1012, 1013, 4000, 4500]) expect(isPermanentClose(code), String(code)).toBe(false)
  })

  test('the room is the percent-encoded path, and acknowledgements are asked for', () => {
    expect(roomUrl('ws://h:1/', 'notes/a b?', { token: 't' })).toBe('ws://h:1/notes%2Fa%20b%3F?token=t&ack=1')
  })
})

describe('against the server', () => {
  test('syncs both ways with a stock-protocol peer', async () => {
    const server = await serve()
    const p = provider(server.url, 'sync')
    const peer = await new TestClient(server.url, 'sync').connect()
    clients.push(peer)
    await waitFor(() => ready(p), 'provider synced')
    p.doc.getText('t').insert(0, 'from provider ')
    await waitFor(() => peer.text === 'from provider ', 'peer to see the edit')
    peer.doc.getText('t').insert(peer.text.length, 'and from peer')
    await waitFor(() => text(p) === 'from provider and from peer', 'provider to see the edit')
    expect(server.rooms.get('sync')?.document.doc.getText('t').toString()).toBe('from provider and from peer')
  })

  test('saved only once the store holds every edit', async () => {
    const gate = gatedStore()
    const server = await serve({ store: gate.store })
    const p = provider(server.url, 'saved')
    await waitFor(() => ready(p) && p.state.saved, 'provider synced and saved')
    const seen: boolean[] = []
    p.subscribe((s: ProviderState) => seen.push(s.saved))
    gate.hold()
    p.doc.getText('t').insert(0, 'kept')
    expect(p.state.saved).toBe(false)
    await waitFor(() => server.rooms.get('saved')?.document.doc.getText('t').toString() === 'kept', 'server to apply the edit')
    await sleep(200)
    expect(p.state.saved).toBe(false) // applied, relayed, but not stored yet
    expect(await storedText(gate.store, 'saved')).toBe('')
    gate.release()
    await waitFor(() => p.state.saved, 'saved after the store wrote')
    expect(await storedText(gate.store, 'saved')).toBe('kept')
    expect(seen).toEqual([false, true])
  })

  test('reconnects by itself after a server restart; offline edits merge both ways and are stored', async () => {
    const store = memoryStorage()
    const first = await serve({ store })
    const port = Number(new URL(first.url).port)
    const p = provider(first.url, 'restart')
    await waitFor(() => ready(p), 'first sync')
    p.doc.getText('t').insert(0, 'before.')
    await waitFor(() => p.state.saved, 'first edit saved')
    await stop(first)
    await waitFor(() => p.state.status !== 'connected', 'provider to notice')
    p.doc.getText('t').insert(text(p).length, ' offline.')
    expect(p.state.saved).toBe(false)

    const second = await serve({ store, port })
    // Someone else writes to the restarted server before the provider is back.
    const other = await new TestClient(second.url, 'restart').connect()
    clients.push(other)
    other.doc.getText('t').insert(0, 'other: ')
    await waitFor(() => ready(p) && p.state.saved, 'provider back, synced and saved', 15_000)
    await waitFor(() => text(p) === 'other: before. offline.' && other.text === text(p), 'both sides merged')
    expect(p.state.attempt).toBe(0)
    expect(await storedText(store, 'restart')).toBe('other: before. offline.')
  })

  test('backs off exponentially with jitter while the server is away, and connects once it is back', async () => {
    const port = await freePort()
    const url = `ws://127.0.0.1:${port}`
    const p = provider(url, 'backoff', { minRetryMs: 40, maxRetryMs: 320 })
    const delays: number[] = []
    p.subscribe((s) => {
      if (s.retryInMs !== null && delays.length < s.attempt) delays.push(s.retryInMs)
    })
    await waitFor(() => delays.length >= 8, 'eight retries', 20_000)
    delays.forEach((delay, n) => {
      const nominal = Math.min(320, 40 * 2 ** n)
      expect(delay, `retry ${n}`).toBeGreaterThanOrEqual(nominal / 2)
      expect(delay, `retry ${n}`).toBeLessThanOrEqual(nominal)
    })
    // Jitter: capped delays are not all the same.
    expect(new Set(delays.slice(4)).size).toBeGreaterThan(1)
    expect(p.state.status).not.toBe('connected')

    await serve({ port })
    await waitFor(() => ready(p), 'connected once the server is up', 10_000)
    expect(p.state.attempt).toBe(0)
    expect(p.state.retryInMs).toBeNull()
  })

  test('stops retrying on a permanent close code, keeps retrying on 1013', async () => {
    const permanent = await closingServer(4403, 'forbidden: no access to this room')
    const p = provider(permanent.url, 'denied', { minRetryMs: 20 })
    await waitFor(() => p.state.stopped !== null, 'provider to stop')
    await sleep(500)
    expect(permanent.connections()).toBe(1)
    expect(p.state.stopped).toEqual({ code: 4403, reason: 'forbidden: no access to this room' })
    expect(p.state.status).toBe('offline')
    expect(p.state.retryInMs).toBeNull()

    const transient = await closingServer(1013, 'try again later')
    const q = provider(transient.url, 'busy', { minRetryMs: 20, maxRetryMs: 40 })
    await waitFor(() => transient.connections() >= 4, 'several attempts')
    expect(q.state.stopped).toBeNull()
  })

  test('stops when the server refuses a change as too large (1009) rather than resend it for ever', async () => {
    const server = await serve({ maxMessageBytes: 2048 })
    const p = provider(server.url, 'big')
    await waitFor(() => ready(p), 'synced')
    p.doc.getText('t').insert(0, 'x'.repeat(10_000))
    await waitFor(() => p.state.stopped !== null, 'provider to stop')
    expect(p.state.stopped?.code).toBe(1009)
    await sleep(300)
    expect(server.connections.size).toBe(0)
  })

  test('peers see each other again after a restart, and a leaver disappears at once', async () => {
    const store = memoryStorage()
    const first = await serve({ store })
    const port = Number(new URL(first.url).port)
    const a = provider(first.url, 'presence')
    const b = provider(first.url, 'presence')
    a.awareness.setLocalStateField('user', { name: 'A' })
    b.awareness.setLocalStateField('user', { name: 'B' })
    await waitFor(() => a.state.peers === 1 && b.state.peers === 1, 'each sees the other')
    await stop(first)
    await waitFor(() => a.state.peers === 0 && b.state.peers === 0, 'peers dropped while offline')
    await serve({ store, port })
    await waitFor(() => a.state.peers === 1 && b.state.peers === 1, 'each sees the other after the restart', 15_000)
    expect(a.awareness.getStates().get(b.doc.clientID)?.user).toEqual({ name: 'B' })
    expect(b.awareness.getStates().get(a.doc.clientID)?.user).toEqual({ name: 'A' })

    providers.splice(providers.indexOf(b), 1)
    b.destroy()
    b.doc.destroy()
    await waitFor(() => a.state.peers === 0, 'leaver gone', 2000)
  })

  test('a connection that goes silent is dropped and replaced (network loss the socket did not notice)', async () => {
    const mute = await rawServer(() => undefined) // accepts, then never says a word
    const p = provider(mute.url, 'silent', { silenceTimeoutMs: 300, minRetryMs: 20, maxRetryMs: 40 })
    await waitFor(() => mute.connections() >= 3, 'reconnects after silence', 10_000)
    expect(p.state.stopped).toBeNull()
  })

  test('a server that sends garbage is given up on, with a reason', async () => {
    const garbage = await rawServer((ws) => ws.send(Uint8Array.of(0, 9, 9)))
    const p = provider(garbage.url, 'garbage', { minRetryMs: 20 })
    await waitFor(() => p.state.stopped !== null, 'provider to stop')
    expect(p.state.stopped).toEqual({ code: 4400, reason: 'malformed frame from server' })
    await sleep(200)
    expect(garbage.connections()).toBe(1)
  })

  test('disconnect stops, connect resumes with edits made in between', async () => {
    const server = await serve()
    const p = provider(server.url, 'manual')
    await waitFor(() => ready(p), 'synced')
    p.disconnect()
    expect(p.state.status).toBe('offline')
    p.doc.getText('t').insert(0, 'while disconnected')
    await sleep(300)
    expect(p.state.status).toBe('offline')
    expect(server.rooms.get('manual')?.document.doc.getText('t').toString()).toBe('')
    p.connect()
    await waitFor(() => ready(p) && p.state.saved, 'back and saved')
    expect(server.rooms.get('manual')?.document.doc.getText('t').toString()).toBe('while disconnected')
  })
})

/// A free TCP port on 127.0.0.1 with nothing listening on it.
async function freePort(): Promise<number> {
  const probe = createNetServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/// A plain `ws` server (not Concord) that does `onConnection` to each client, counting them.
async function rawServer(onConnection: (ws: WebSocket) => void): Promise<{ url: string; connections(): number }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  raw.push(wss)
  await new Promise<void>((resolve) => wss.once('listening', resolve))
  let count = 0
  wss.on('connection', (ws) => {
    count++
    onConnection(ws)
  })
  const { port } = wss.address() as { port: number }
  return { url: `ws://127.0.0.1:${port}`, connections: () => count }
}

/// A plain `ws` server that closes every connection with `code`.
const closingServer = (code: number, reason: string) => rawServer((ws) => ws.close(code, reason))
