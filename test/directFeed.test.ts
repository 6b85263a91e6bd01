// The direct feed must find ws as it expects (else Concord silently falls back to ws's own,
// slower, reading), and a connection fed directly must still get every message.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, test } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { feedDirectly } from '../server/net/directFeed.js'

let wss: WebSocketServer | null = null
afterEach(async () => {
  for (const client of wss?.clients ?? []) client.terminate()
  await new Promise((resolve) => wss?.close(resolve) ?? resolve(undefined))
  wss = null
})

test('a server-side ws socket is fed directly and still receives every message in order', async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, allowSynchronousEvents: true })
  await once(wss, 'listening')
  const fed: boolean[] = []
  const received: string[] = []
  wss.on('connection', (ws) => {
    fed.push(feedDirectly(ws))
    ws.on('message', (data: Buffer) => received.push(data.toString()))
  })
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`)
  await once(client, 'open')
  for (let i = 0; i < 100; i++) client.send(Buffer.from(`m${i}`))
  client.send(Buffer.alloc(200_000, 1)) // spans many reads
  await new Promise<void>((resolve) => { const t = setInterval(() => { if (received.length === 101) { clearInterval(t); resolve() } }, 5) })
  expect(fed).toEqual([true])
  expect(received.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`))
  expect(received[100].length).toBe(200_000)
  client.close()
})
