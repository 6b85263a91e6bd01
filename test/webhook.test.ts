// The change webhook against a real HTTP receiver on 127.0.0.1: debounced, signed, retried.
import { createHmac } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, test } from 'vitest'
import type { ConcordServer } from '../server/server.js'
import { sleep, startServer, TestClient, waitFor } from './helpers.js'

interface Delivery { at: number; headers: http.IncomingHttpHeaders; raw: string; body: { event: string; room: string; delivery: string } }

/// A receiver that records every POST and answers with the next queued status (then 204).
async function receiver(statuses: number[] = []) {
  const got: Delivery[] = []
  const server = http.createServer((req, res) => {
    let raw = ''
    req.on('data', (d: Buffer) => { raw += d.toString() })
    req.on('end', () => {
      got.push({ at: Date.now(), headers: req.headers, raw, body: JSON.parse(raw) as Delivery['body'] })
      res.writeHead(statuses.shift() ?? 204)
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` }
}

const cleanup: Array<() => Promise<void> | void> = []
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const f of cleanup.splice(0)) await f()
})

async function concord(url: string, debounceMs = 150): Promise<ConcordServer> {
  const server = await startServer({ webhookUrl: url, webhookSecret: 's3cret', webhookDebounceMs: debounceMs })
  cleanup.unshift(() => server.close())
  return server
}

test('a burst of edits is one signed call per room', async () => {
  const hook = await receiver()
  const server = await concord(hook.url)
  const a = await new TestClient(server.url, 'hooked').connect()
  const b = await new TestClient(server.url, 'other/room').connect()
  clients.push(a, b)
  for (let i = 0; i < 10; i++) a.doc.getText('t').insert(i, 'x')
  b.doc.getText('t').insert(0, 'y')
  await waitFor(() => hook.got.length >= 2, 'two deliveries', 10_000)
  await sleep(600) // several debounce periods: nothing more may arrive
  expect(hook.got.map((d) => d.body.room).sort()).toEqual(['hooked', 'other/room'])
  for (const d of hook.got) {
    expect(d.body.event).toBe('document.changed')
    expect(d.headers['content-type']).toBe('application/json')
    expect(d.headers['x-concord-signature']).toBe('sha256=' + createHmac('sha256', 's3cret').update(d.raw).digest('hex'))
    expect(d.headers['x-concord-delivery']).toBe(d.body.delivery)
  }
  // The receiver can read the change it was told about.
  const text = await fetch(`${server.url.replace('ws:', 'http:')}/api/rooms/hooked/update`)
  expect(text.status).toBe(200)
})

test('a failed delivery is retried with growing delays, same delivery id', async () => {
  const hook = await receiver([503, 500])
  const server = await concord(hook.url, 20)
  const a = await new TestClient(server.url, 'flaky').connect()
  clients.push(a)
  a.doc.getText('t').insert(0, 'x')
  await waitFor(() => hook.got.length === 3, 'three attempts', 15_000)
  const [first, second, third] = hook.got
  expect(new Set(hook.got.map((d) => d.body.delivery)).size).toBe(1)
  expect(second.at - first.at).toBeGreaterThanOrEqual(950)
  expect(third.at - second.at).toBeGreaterThanOrEqual(1950)
  await sleep(300)
  expect(hook.got).toHaveLength(3) // the 204 ended it
})

test('a room edited without pause is still reported; shutdown delivers what is pending', async () => {
  const hook = await receiver()
  const server = await concord(hook.url, 150) // reported at least every 1.5 s
  const a = await new TestClient(server.url, 'busy').connect()
  clients.push(a)
  const started = Date.now()
  while (hook.got.length === 0) {
    if (Date.now() - started > 10_000) throw new Error('no delivery while edits continued')
    a.doc.getText('t').insert(0, 'x')
    await sleep(40)
  }
  const count = hook.got.length
  a.doc.getText('t').insert(0, 'last')
  await waitFor(() => server.rooms.get('busy')?.document.doc.getText('t').toString().startsWith('last') === true, 'the last edit')
  await server.close() // well within the 150 ms debounce: delivered by the shutdown
  cleanup.shift()
  await waitFor(() => hook.got.length > count, 'the pending delivery at shutdown', 10_000)
  expect(hook.got.at(-1)!.body.room).toBe('busy')
})
