// Crash safety of the real process over SQLite: clients type continuously with
// acknowledgements on while the server is killed with SIGKILL at random moments. After each
// kill every acknowledged update is in the file; after each restart the clients re-send
// what was not, and in the end the stored documents equal the clients'.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import * as Y from 'yjs'
import { sqliteStorage } from '../server/storage/sqlite.js'
import { AckClient, missingFrom } from './ackClient.js'
import { spawnServer, type ServerProcess } from './serverProcess.js'
import { sleep, waitFor } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'concord-crash-'))
const cleanups: Array<() => void> = []
afterAll(() => {
  for (const c of cleanups.splice(0)) c()
  rmSync(dir, { recursive: true, force: true })
})

async function stored(db: string, room: string): Promise<Uint8Array[]> {
  const s = sqliteStorage(db)
  try {
    return await s.load(room)
  } finally {
    await s.close()
  }
}

function textOf(updates: Uint8Array[]): string {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return doc.getText('t').toString()
}

test('SIGKILL at random moments never loses an acknowledged update', async () => {
  const db = join(dir, 'crash.db')
  // A low compaction threshold, so kills also land during compactions.
  const flags = ['--storage', `sqlite:${db}`, '--compact-after-updates', '25']
  let server: ServerProcess = await spawnServer([...flags, '--port', '0'])
  cleanups.push(() => server.proc.kill('SIGKILL'))
  const rooms = ['alpha', 'alpha', 'beta', 'beta']
  const clients = rooms.map((room) => new AckClient(server.url, room))
  cleanups.push(() => clients.forEach((c) => c.destroy()))
  await waitFor(() => clients.every((c) => c.synced), 'clients to sync', 20_000)

  let n = 0
  const typing = setInterval(() => {
    for (const c of clients) c.type(`<${n++}>`)
  }, 2)
  cleanups.push(() => clearInterval(typing))

  const delays: number[] = []
  let checked = 0
  for (let round = 1; round <= 4; round++) {
    const delay = 200 + Math.floor(Math.random() * 1000)
    delays.push(delay)
    const ackedBefore = clients.map((c) => c.acked.length)
    await sleep(delay)
    server.proc.kill('SIGKILL')
    const { signal } = await server.exited
    expect(signal).toBe('SIGKILL')
    // The server is dead: nothing more can be acknowledged; the file must hold all of it.
    for (const c of clients) {
      const missing = missingFrom(await stored(db, c.room), c.acked)
      expect(missing, `round ${round}, delays ${delays.join(',')}`).toEqual([])
      checked += c.acked.length
    }
    // Typing went on and was acknowledged before the kill.
    expect(clients.some((c, i) => c.acked.length > ackedBefore[i])).toBe(true)
    server = await spawnServer([...flags, '--port', String(server.port)])
    await waitFor(() => clients.every((c) => c.connections > round && c.synced), 'clients to reconnect', 30_000)
  }
  clearInterval(typing)

  // Quiet now: everything the clients hold gets stored and acknowledged.
  await waitFor(() => clients.every((c) => c.allAcked), 'every edit to be acknowledged', 30_000)
  await waitFor(() => clients[0].text === clients[1].text && clients[2].text === clients[3].text, 'convergence', 30_000)
  server.proc.kill('SIGKILL')
  await server.exited
  expect(textOf(await stored(db, 'alpha'))).toBe(clients[0].text)
  expect(textOf(await stored(db, 'beta'))).toBe(clients[2].text)
  for (let i = 0; i < n; i++) expect(clients[i % 4].text).toContain(`<${i}>`)
  expect(checked).toBeGreaterThan(100)
}, 180_000)
