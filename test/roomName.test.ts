// Room names: the URL path, percent-decoded, query ignored; a bad name is refused with HTTP 400
// before any WebSocket exists (checked with real upgrade requests).
import http from 'node:http'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { MAX_ROOM_NAME_BYTES, parseRoomName, queryOf } from '../server/protocol/roomName.js'
import type { ConcordServer } from '../server/server.js'
import { startServer, TestClient, waitFor } from './helpers.js'

describe('parseRoomName', () => {
  test.each([
    ['/notes', 'notes'],
    ['/notes/today', 'notes/today'],
    ['/notes%2Ftoday', 'notes/today'],
    ['/caf%C3%A9%20au%20lait', 'café au lait'],
    ['/room?token=abc&ack=1', 'room'],
    ['/room#fragment', 'room'],
    ['//leading/slashes', 'leading/slashes'],
    ['/' + 'é'.repeat(MAX_ROOM_NAME_BYTES / 2), 'é'.repeat(MAX_ROOM_NAME_BYTES / 2)],
  ])('%s → %s', (url, room) => {
    expect(parseRoomName(url)).toEqual({ ok: true, room })
  })

  test.each([
    ['/', /empty/],
    ['/?room=x', /empty/],
    ['/%', /percent-encoding/],
    ['/%E0%A4%A', /percent-encoding/],
    ['/' + 'a'.repeat(MAX_ROOM_NAME_BYTES + 1), /longer than 512 bytes/],
    ['/' + 'é'.repeat(MAX_ROOM_NAME_BYTES / 2) + 'a', /longer than 512 bytes/],
    ['/a%00b', /control characters/],
    ['/tab%09', /control characters/],
    ['/line%0Abreak', /control characters/],
    ['/del%7F', /control characters/],
    ['/c1%C2%85', /control characters/],
  ])('%s is refused', (url, reason) => {
    const result = parseRoomName(url)
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.reason).toMatch(reason)
  })

  test('queryOf reads our own options and ignores the path', () => {
    expect(queryOf('/a/b?ack=1&token=x%20y').get('token')).toBe('x y')
    expect(queryOf('/a/b').toString()).toBe('')
  })
})

/// Send a WebSocket upgrade request for `path`; resolves with the HTTP status and body.
function upgrade(server: ConcordServer, path: string): Promise<{ status: number; body: string }> {
  const { port } = server.http.address() as { port: number }
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': Buffer.from('0123456789abcdef').toString('base64'),
      },
    })
    req.on('upgrade', (res, socket) => {
      socket.destroy()
      resolve({ status: res.statusCode ?? 0, body: '' })
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('upgrades', () => {
  let server: ConcordServer
  beforeAll(async () => { server = await startServer() })
  afterAll(async () => { await server.close() })

  test.each([
    ['/', 'room name is empty'],
    ['/?token=abc', 'room name is empty'],
    ['/' + 'a'.repeat(MAX_ROOM_NAME_BYTES + 1), 'room name is longer than 512 bytes'],
    ['/bad%00name', 'room name contains control characters'],
    ['/bell%07', 'room name contains control characters'],
    ['/%E0%A4%A', 'room name is not valid percent-encoding'],
  ])('%s gets HTTP 400 before the upgrade', async (path, reason) => {
    const { status, body } = await upgrade(server, path)
    expect(status).toBe(400)
    expect(JSON.parse(body)).toEqual({ error: reason })
    expect(server.connections.size).toBe(0)
  })

  test('a name of exactly 512 bytes is accepted', async () => {
    expect((await upgrade(server, '/' + 'b'.repeat(MAX_ROOM_NAME_BYTES))).status).toBe(101)
  })

  test('percent-encoded and plain paths, with or without a query, name the same room', async () => {
    const a = new TestClient(server.url, 'notes/today')
    const clients = [a]
    try {
      await a.connect()
      // TestClient percent-encodes the room ("notes%2Ftoday"); these use other spellings.
      const plain = new TestClient(`${server.url}/notes`, 'today')
      const withQuery = new TestClient(`${server.url}/notes`, 'today', '?ack=1&token=zzz')
      clients.push(plain, withQuery)
      await plain.connect()
      await withQuery.connect()
      a.doc.getText('t').insert(0, 'one room')
      await waitFor(() => plain.text === 'one room' && withQuery.text === 'one room', 'all spellings to share a room')
      expect([...server.rooms.loaded()].map((r) => r.name)).toContain('notes/today')
      expect(server.rooms.get('notes/today')?.peers.size).toBe(3)
    } finally {
      for (const c of clients) c.destroy()
    }
  })

  test('a non-ASCII name is decoded once', async () => {
    const c = new TestClient(server.url, 'café ☕')
    try {
      await c.connect()
      expect(server.rooms.get('café ☕')).toBeDefined()
    } finally {
      c.destroy()
    }
  })
})
