// `concord token` as a user runs it: a real process prints a token, and a live server with
// the same secret (or public key) lets exactly the granted rooms in, with the granted access.
import { spawnSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest'
import type { ConcordServer } from '../server/server.js'
import { attempt } from './authHelpers.js'
import { buildCli } from './cliBuild.js'
import { startServer, TestClient, waitFor } from './helpers.js'

const SECRET = 'cli-secret-cli-secret-cli-secret-cli-secret'
let dir = ''
let runner = ''
let server: ConcordServer | undefined
const clients: TestClient[] = []

// The CLI compiled as `npm run build` would, run by node as `concord` runs it.
beforeAll(async () => {
  ;({ dir, runner } = await buildCli('token-cli-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await server?.close()
  server = undefined
})

function concord(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, [runner, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 30_000,
  })
  return { code: run.status, stdout: run.stdout, stderr: run.stderr }
}

test('a read token for notes/* opens notes rooms read-only and nothing else', async () => {
  const out = concord(['token', '--room', 'notes/*', '--access', 'read', '--ttl', '1h', '--user', 'ada'], { CONCORD_AUTH_SECRET: SECRET })
  expect(out.stderr).toBe('')
  expect(out.code).toBe(0)
  const token = out.stdout.trim()
  expect(out.stdout).toBe(`${token}\n`)
  const claims = decodeJwt(token)
  expect(claims).toMatchObject({ rooms: ['notes/*'], access: 'read', sub: 'ada' })
  expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600)

  server = await startServer({ authSecret: SECRET })
  const writer = await new TestClient(server.url, 'notes/today', `?token=${concord(['token', '--room', 'notes/today', '--access', 'write', '--auth-secret', SECRET]).stdout.trim()}`).connect()
  const reader = await new TestClient(server.url, 'notes/today', `?token=${token}`).connect()
  clients.push(writer, reader)
  reader.doc.getText('t').insert(0, 'ignored')
  writer.doc.getText('t').insert(0, 'kept')
  await waitFor(() => reader.text.includes('kept') && reader.count('auth') === 1, 'the reader to follow and be told')
  expect(server.rooms.get('notes/today')?.document.doc.getText('t').toString()).toBe('kept')
  for (const room of ['notes/a/b', 'other']) {
    const r = await attempt(`${server.url}/${room}?token=${token}`)
    expect(r.open ? 'open' : r.status).toBe(403)
  }
})

test('--private-key signs for a server started with --auth-public-key', async () => {
  const pair = generateKeyPairSync('ed25519')
  const privateFile = join(dir, 'private.pem')
  const publicFile = join(dir, 'public.pem')
  writeFileSync(privateFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }))
  writeFileSync(publicFile, pair.publicKey.export({ type: 'spki', format: 'pem' }))
  const out = concord(['token', '--room', 'shared', '--access', 'write', '--private-key', privateFile])
  expect(out.code).toBe(0)
  server = await startServer({ authPublicKey: publicFile })
  const c = await new TestClient(server.url, 'shared', `?token=${out.stdout.trim()}`).connect()
  clients.push(c)
  c.doc.getText('t').insert(0, 'signed')
  await waitFor(() => server?.rooms.get('shared')?.document.doc.getText('t').toString() === 'signed', 'the edit to land')
})

test('a token outlives its --ttl by nothing', async () => {
  const token = concord(['token', '--room', 'r', '--ttl', '1s', '--auth-secret', SECRET]).stdout.trim()
  server = await startServer({ authSecret: SECRET })
  await new Promise((r) => setTimeout(r, 2100))
  const r = await attempt(`${server.url}/r?token=${token}`)
  expect(r.open ? 'open' : [r.status, r.body.error]).toEqual([401, 'token expired'])
})

test('mistakes get a clear message and exit code 2', () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['token', '--room', 'r'], {}, /no key: pass --auth-secret/],
    [['token', '--room', 'r', '--ttl', 'soon'], { CONCORD_AUTH_SECRET: SECRET }, /--ttl: expected a duration/],
    [['token', '--room', 'r', '--access', 'owner'], { CONCORD_AUTH_SECRET: SECRET }, /--access: expected read, write or admin/],
    [['token', '--access', 'read'], { CONCORD_AUTH_SECRET: SECRET }, /--room: at least one/],
    [['token', '--room', 'r', '--auth-secret', 'short'], {}, /at least 32 bytes/],
    [['token', '--room', 'r', '--private-key', '/nonexistent/key.pem'], {}, /ENOENT|no such file/],
  ]
  for (const [args, env, message] of cases) {
    const out = concord(args, env)
    expect({ args, code: out.code, stdout: out.stdout }).toEqual({ args, code: 2, stdout: '' })
    expect(out.stderr).toMatch(message)
  }
  const help = concord(['token', '--help'])
  expect(help.code).toBe(0)
  expect(help.stdout).toMatch(/--room PATTERN/)
})
