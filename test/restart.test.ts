// Graceful restart of the real process over SQLite: clients are told 1012, the process exits
// 0, and after starting again the document is identical, byte for byte in content.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, expect, test } from 'vitest'
import * as Y from 'yjs'
import { AckClient, missingFrom } from './ackClient.js'
import { spawnServer, storedInSqlite as stored, type ServerProcess } from './serverProcess.js'
import { sleep, TestClient, waitFor } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'concord-restart-'))
const cleanups: Array<() => void> = []
afterAll(() => {
  for (const c of cleanups.splice(0)) c()
  rmSync(dir, { recursive: true, force: true })
})

function docOf(updates: Uint8Array[]): Y.Doc {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return doc
}

test('SIGTERM stores everything, closes clients with 1012, exits 0; after a restart the document is identical', async () => {
  const db = join(dir, 'data', 'concord.db') // the folder does not exist yet
  const flags = ['--storage', `sqlite:${db}`, '--compact-after-updates', '40']
  let server: ServerProcess = await spawnServer([...flags, '--port', '0'])
  cleanups.push(() => server.proc.kill('SIGKILL'))
  const clients = [0, 1, 2].map((i) => new AckClient(server.url, i < 2 ? 'notes' : 'other'))
  cleanups.push(() => clients.forEach((c) => c.destroy()))
  await waitFor(() => clients.every((c) => c.synced), 'clients to sync', 20_000)

  // Phase 1: type, let everything be acknowledged, stop gracefully.
  for (let i = 0; i < 150; i++) {
    clients[i % 3].type(`w${i} `)
    if (i % 5 === 0) await sleep(2)
  }
  await waitFor(() => clients.every((c) => c.allAcked), 'every edit to be acknowledged', 20_000)
  await waitFor(() => clients[0].text === clients[1].text, 'the two editors of one room to converge')
  server.proc.kill('SIGTERM')
  expect(await server.exited).toEqual({ code: 0, signal: null })
  await waitFor(() => clients.every((c) => c.closeCodes.includes(1012)), 'clients to hear 1012')
  expect(docOf(await stored(db, 'notes')).getText('t').toString()).toBe(clients[0].text)
  expect(docOf(await stored(db, 'other')).getText('t').toString()).toBe(clients[2].text)

  // Phase 2: start again on the same port; the clients reconnect by themselves.
  server = await spawnServer([...flags, '--port', String(server.port)])
  await waitFor(() => clients.every((c) => c.connections >= 2 && c.synced), 'clients to reconnect', 20_000)
  const fresh = await new TestClient(server.url, 'notes').connect()
  cleanups.push(() => fresh.destroy())
  expect(fresh.text).toBe(clients[0].text)
  expect(Y.encodeStateVector(fresh.doc)).toEqual(Y.encodeStateVector(clients[0].doc))

  // Phase 3: SIGTERM while typing: whatever was acknowledged is stored; the rest comes back
  // with the clients after the next start.
  const typing = setInterval(() => clients.forEach((c, i) => c.type(`t${i} `)), 3)
  await sleep(300)
  server.proc.kill('SIGTERM')
  expect((await server.exited).code).toBe(0)
  clearInterval(typing)
  for (const c of clients) expect(missingFrom(await stored(db, c.room), c.acked)).toEqual([])
  server = await spawnServer([...flags, '--port', String(server.port)])
  await waitFor(() => clients.every((c) => c.connections >= 3 && c.allAcked), 'clients to re-send', 20_000)
  await waitFor(() => clients[0].text === clients[1].text, 'convergence')
  server.proc.kill('SIGTERM')
  expect((await server.exited).code).toBe(0)
  expect(docOf(await stored(db, 'notes')).getText('t').toString()).toBe(clients[0].text)
  expect(docOf(await stored(db, 'other')).getText('t').toString()).toBe(clients[2].text)
}, 120_000)

test('a store that hangs cannot hold up shutdown beyond --shutdown-timeout-ms (exit 1)', async () => {
  const admin = new pg.Client('postgres://postgres@127.0.0.1:5432/postgres')
  await admin.connect()
  const name = `concord_test_shutdown_${process.pid}`
  await admin.query(`CREATE DATABASE ${name}`)
  const url = `postgres://postgres@127.0.0.1:5432/${name}`
  const locker = new pg.Client(url)
  let server: ServerProcess | undefined
  try {
    server = await spawnServer(['--storage', url, '--port', '0', '--shutdown-timeout-ms', '1500'])
    const c = new AckClient(server.url, 'stuck', false)
    cleanups.push(() => c.destroy())
    c.type('stored ')
    await waitFor(() => c.allAcked && c.ackCounts.length > 0, 'the first edit to be acknowledged', 20_000)
    // Hold the log table: every append (and the final flush) now waits.
    await locker.connect()
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE concord_updates IN ACCESS EXCLUSIVE MODE')
    c.type('stuck ')
    await sleep(200)
    server.proc.kill('SIGTERM')
    const { code } = await server.exited
    expect(code).toBe(1)
    expect(server.lines.some((l) => l.includes('shutdown timed out'))).toBe(true)
    expect(c.allAcked).toBe(false) // the stuck edit was never acknowledged
  } finally {
    server?.proc.kill('SIGKILL')
    await locker.query('ROLLBACK').catch(() => undefined)
    await locker.end().catch(() => undefined)
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}, 60_000)
