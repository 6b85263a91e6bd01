import { afterEach, expect, test } from 'vitest'
import { startServer, TestClient, waitFor } from './helpers.js'
import type { ConcordServer } from '../server/server.js'

let server: ConcordServer
const clients: TestClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
})

test('two clients converge and the writer hears no echo', async () => {
  server = await startServer()
  const a = await new TestClient(server.url, 'smoke').connect()
  const b = await new TestClient(server.url, 'smoke').connect()
  clients.push(a, b)
  a.doc.getText('t').insert(0, 'hello')
  await waitFor(() => b.text === 'hello', 'b to see the edit')
  expect(a.count('update')).toBe(0)
})
