// `concord rooms | export | import | delete | backup | restore` as a user runs them: a real
// process, against a store file directly or a running server's API, and a backup moved from
// SQLite into PostgreSQL and back.
import { execFile } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import * as Y from 'yjs'
import type { ConcordServer } from '../server/server.js'
import Database from 'better-sqlite3'
import { LeveldbPersistence } from 'y-leveldb'
import { postgresStorage } from '../server/storage/postgres.js'
import { sqliteStorage } from '../server/storage/sqlite.js'
import type { Storage } from '../server/storage/types.js'
import { SECRET } from './authHelpers.js'
import { buildCli } from './cliBuild.js'
import { startServer, TestClient, waitFor } from './helpers.js'
import { databaseForFile } from './pgDatabase.js'

let dir = ''
let runner = ''
const servers: ConcordServer[] = []
const clients: TestClient[] = []
const stores: Storage[] = []
const database = databaseForFile()

// The CLI compiled as `npm run build` would, run by node as `concord` runs it.
beforeAll(async () => {
  ;({ dir, runner } = await buildCli('documents-cli-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  for (const s of servers.splice(0)) await s.close()
  for (const s of stores.splice(0)) await s.close()
})

/// Run `concord …` without blocking this process (a server in it must answer).
function concord(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [runner, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000, encoding: 'buffer' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolvePromise({ code, stdout: stdout.toString('latin1'), stderr: stderr.toString('utf8') })
    })
  })
}

function richDoc(): Y.Doc {
  const doc = new Y.Doc()
  doc.getText('codemirror').insert(0, 'Grüße, world 😀')
  doc.getMap('meta').set('title', 'notes')
  const nested = new Y.Array<unknown>()
  nested.push([1, 2])
  doc.getMap('meta').set('list', nested)
  return doc
}

const contentOf = (update: Uint8Array) => {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return { text: doc.getText('codemirror').toString(), meta: doc.getMap('meta').toJSON() }
}

test('import, list, export and delete on a store file', async () => {
  const storage = `sqlite:${join(dir, 'direct.db')}`
  const updateFile = join(dir, 'doc.bin')
  writeFileSync(updateFile, Y.encodeStateAsUpdate(richDoc()))
  writeFileSync(join(dir, 'plain.txt'), 'just text\n')
  let run = await concord(['import', 'notes/a', updateFile, '--storage', storage])
  expect(run.stderr).toBe('')
  expect(run.stdout).toMatch(/imported notes\/a .* and checked/)
  expect((await concord(['import', 'plain', join(dir, 'plain.txt'), '--text', '--storage', storage])).code).toBe(0)
  run = await concord(['rooms', '--json', '--storage', storage])
  const listed = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; bytes: number })
  expect(listed.map((r) => r.name)).toEqual(['notes/a', 'plain'])
  expect(listed[0].bytes).toBeGreaterThan(20)
  run = await concord(['rooms', '--prefix', 'notes/', '--storage', storage])
  expect(run.stdout.split('\t')[0]).toBe('notes/a')

  const out = join(dir, 'out.bin')
  expect((await concord(['export', 'notes/a', '--out', out, '--storage', storage])).code).toBe(0)
  expect(contentOf(readFileSync(out))).toEqual(contentOf(Y.encodeStateAsUpdate(richDoc())))
  run = await concord(['export', 'plain', '--text', '--storage', storage])
  expect(run.stdout).toBe('just text\n')

  expect((await concord(['delete', 'plain', '--storage', storage])).stdout).toBe('deleted plain\n')
  run = await concord(['export', 'plain', '--storage', storage])
  expect(run.code).toBe(1)
  expect(run.stderr).toMatch(/no such room: plain/)

  // Mistakes: exit 2 for usage, 1 for what failed, with a message.
  expect(await concord(['import', 'x', join(dir, 'plain.txt'), '--storage', storage])).toMatchObject({ code: 1, stderr: expect.stringMatching(/not a binary Yjs update \(use --text/) })
  expect(await concord(['export', '--storage', storage])).toMatchObject({ code: 2, stderr: expect.stringMatching(/usage: concord export ROOM/) })
  expect(await concord(['rooms', '--colour', 'red'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown option --colour/) })
  expect(await concord(['import', '--from', 'dropbox', dir, '--storage', storage])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--from: expected y-leveldb or hocuspocus-sqlite/) })
  expect((await concord(['rooms', '--help'])).stdout).toMatch(/concord backup FILE/)
})

test('a backup of SQLite restores into PostgreSQL and back, rooms and versions alike', async () => {
  const sqlitePath = join(dir, 'from.db')
  const source = sqliteStorage(sqlitePath)
  stores.push(source)
  const names = ['alpha', 'beta/γ', 'big']
  const docs = new Map<string, Y.Doc>()
  for (const name of names) {
    const doc = richDoc()
    doc.getText('codemirror').insert(0, `${name}: `)
    if (name === 'big') doc.getText('codemirror').insert(0, 'x'.repeat(200_000))
    docs.set(name, doc)
    await source.append([{ room: name, update: Y.encodeStateAsUpdate(doc), author: 'ada' }])
    await source.addVersion(name, { update: Y.encodeStateAsUpdate(doc), label: 'v1', authors: [], onlyIfChanged: false })
    doc.getText('codemirror').insert(0, 'later ')
    await source.append([{ room: name, update: Y.encodeStateAsUpdate(doc), author: 'bo' }])
  }
  const backup = join(dir, 'all.concord')
  let run = await concord(['backup', backup, '--storage', `sqlite:${sqlitePath}`])
  expect(run.stdout).toBe(`3 rooms written to ${backup}\n`)
  run = await concord(['restore', backup, '--storage', database.url])
  expect(run.stderr).toBe('')
  expect(run.stdout).toBe(`3 rooms restored from ${backup}\n`)
  const again = join(dir, 'again.concord')
  expect((await concord(['backup', again, '--storage', database.url])).code).toBe(0)
  const back = join(dir, 'back.db')
  expect((await concord(['restore', again, '--storage', `sqlite:${back}`])).code).toBe(0)

  const pg = await postgresStorage(database.url)
  const returned = sqliteStorage(back)
  stores.push(pg, returned)
  for (const target of [pg, returned]) {
    for (const name of names) {
      const loaded = await target.load(name)
      expect(contentOf(Y.mergeUpdates(loaded))).toEqual({ text: docs.get(name)!.getText('codemirror').toString(), meta: docs.get(name)!.getMap('meta').toJSON() })
      const [version] = await target.versions(name)
      expect(version).toMatchObject({ label: 'v1', authors: ['ada'] })
      const sourceVersion = (await source.versions(name))[0]
      expect(version.createdAt).toBe(sourceVersion.createdAt)
      expect(Buffer.compare((await target.version(name, version.id))!.update, (await source.version(name, sourceVersion.id))!.update)).toBe(0)
    }
    const facts = (await target.list({ order: 'name', limit: 10 })).rooms
    const sourceFacts = (await source.list({ order: 'name', limit: 10 })).rooms
    expect(facts.map((r) => [r.name, r.createdAt, r.updatedAt])).toEqual(sourceFacts.map((r) => [r.name, r.createdAt, r.updatedAt]))
  }
  expect(await concord(['restore', join(dir, 'plain.txt'), '--storage', `sqlite:${back}`])).toMatchObject({ code: 1 })
  expect(await concord(['restore', backup, '--url', 'http://127.0.0.1:1'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/store only/) })
})

test('through a running server: import reaches connected clients; delete needs an admin token', async () => {
  const server = await startServer({ storage: `sqlite:${join(dir, 'served.db')}`, authSecret: SECRET })
  servers.push(server)
  const http = server.url.replace('ws:', 'http:')
  const env = { CONCORD_AUTH_SECRET: SECRET }
  const token = async (access: string) => (await concord(['token', '--room', '**', '--access', access, '--user', 'ops'], env)).stdout.trim()
  const writer = await token('write')
  const admin = await token('admin')
  const c = await new TestClient(server.url, 'live', `?token=${writer}`).connect()
  clients.push(c)
  const file = join(dir, 'live.txt')
  writeFileSync(file, 'from the command line')
  let run = await concord(['import', 'live', file, '--text', '--url', http, '--token', writer])
  expect(run.stderr).toBe('')
  await waitFor(() => c.doc.getText('codemirror').toString() === 'from the command line', 'the client to receive the import')
  run = await concord(['rooms', '--url', http], { CONCORD_TOKEN: writer })
  expect(run.stdout.split('\t')[0]).toBe('live')
  run = await concord(['delete', 'live', '--url', http, '--token', writer])
  expect(run.code).toBe(1)
  expect(run.stderr).toMatch(/403 admin access needed/)
  run = await concord(['delete', 'live', '--url', http, '--token', admin])
  expect(run.stdout).toBe('deleted live\n')
  expect(await c.closed()).toBe(4410)
})

test('import --from y-leveldb and --from hocuspocus-sqlite bring every document over, checked', async () => {
  // A y-websocket server's persistence, written with y-leveldb itself.
  const leveldb = join(dir, 'yleveldb')
  const persistence = new LeveldbPersistence(leveldb)
  const sources = new Map<string, Y.Doc>()
  for (const name of ['plans', 'team/notes ü']) {
    const doc = richDoc()
    doc.getText('codemirror').insert(0, `${name}: `)
    sources.set(name, doc)
    doc.on('update', (u: Uint8Array) => void persistence.storeUpdate(name, u))
    for (let i = 0; i < 5; i++) doc.getText('codemirror').insert(0, `${i}`)
    await persistence.storeUpdate(name, Y.encodeStateAsUpdate(doc))
  }
  await new Promise((r) => setTimeout(r, 50))
  await persistence.destroy()
  // Hocuspocus' SQLite extension table, as the extension creates it.
  const hocuspocus = join(dir, 'hocuspocus.sqlite')
  const db = new Database(hocuspocus)
  db.exec('CREATE TABLE IF NOT EXISTS "documents" ("name" varchar(255) NOT NULL, "data" blob NOT NULL, UNIQUE(name))')
  const fromHocuspocus = richDoc()
  fromHocuspocus.getText('codemirror').insert(0, 'hocuspocus: ')
  db.prepare('INSERT INTO documents (name, data) VALUES (?, ?)').run('hp-doc', Buffer.from(Y.encodeStateAsUpdate(fromHocuspocus)))
  db.close()

  const storage = `sqlite:${join(dir, 'migrated.db')}`
  let run = await concord(['import', '--from', 'y-leveldb', leveldb, '--storage', storage])
  expect(run.stderr).toBe('')
  expect(run.stdout).toMatch(/2 rooms imported from y-leveldb and checked/)
  run = await concord(['import', '--from', 'hocuspocus-sqlite', hocuspocus, '--storage', storage])
  expect(run.stdout).toMatch(/1 rooms imported from hocuspocus-sqlite and checked/)
  const target = sqliteStorage(join(dir, 'migrated.db'))
  stores.push(target)
  for (const [name, doc] of [...sources, ['hp-doc', fromHocuspocus] as const]) {
    expect(contentOf(Y.mergeUpdates(await target.load(name)))).toEqual({ text: doc.getText('codemirror').toString(), meta: doc.getMap('meta').toJSON() })
  }
  expect(await concord(['import', '--from', 'y-leveldb', join(dir, 'missing'), '--storage', storage])).toMatchObject({ code: 1 })
})
