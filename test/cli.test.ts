// The `concord` command as a user runs it: the real process from bin/concord.js (dist/ built
// by `npm run build`, as CI does before testing), its options as flags and environment
// variables, /healthz, a clean exit on SIGTERM, and exit code 2 for a bad option value.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { optionTable } from '../server/ops/config.js'
import { CloseCode } from '../server/protocol/closeCodes.js'
import { waitFor } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = fileURLToPath(new URL('../bin/concord.js', import.meta.url))

beforeAll(() => {
  if (!existsSync(new URL('../dist/server/cli/main.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `npm run build` before these tests')
  }
})

/// Environment without any CONCORD_* variable of the caller's.
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CONCORD_')) env[k] = v
  return { ...env, ...extra }
}

/// A TCP port that was free a moment ago.
async function freePort(): Promise<number> {
  const probe = net.createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as net.AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

interface Running {
  child: ChildProcessWithoutNullStreams
  stdout: () => string
  exited: Promise<number | null>
}

const running: Running[] = []
afterEach(() => {
  for (const r of running.splice(0)) if (r.child.exitCode === null) r.child.kill('SIGKILL')
})

function start(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: cleanEnv(env) })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const r = { child, stdout: () => out, exited }
  running.push(r)
  return r
}

/// Lines of the JSON log with this message.
function logLines(r: Running, msg: RegExp): Array<Record<string, unknown>> {
  return r.stdout().split('\n').filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => msg.test(String(l.msg)))
}

async function health(base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://${base}/healthz`)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/// Whether a TCP connection to host:port is accepted.
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/// Start, check /healthz with one client connected, then SIGTERM: exit code 0, client told 1012.
/// The server is asked to listen on ::1 only, so reaching it there and not on 127.0.0.1
/// proves the host option took effect.
async function serveAndStop(r: Running, port: number): Promise<void> {
  await waitFor(() => logLines(r, /^listening on/).length > 0, 'the server to listen', 20_000)
  const [listening] = logLines(r, /^listening on/)
  expect(listening).toMatchObject({ host: '::1', port, storage: 'memory', msg: `listening on ws://[::1]:${port}` })
  expect(await reachable('127.0.0.1', port)).toBe(false)
  // The address a person opens is printed too.
  await waitFor(() => logLines(r, /^editor at/).length > 0, 'the editor address', 5000)
  expect(logLines(r, /^editor at/)[0].msg).toBe(`editor at http://[::1]:${port}/`)

  const ws = new WebSocket(`ws://[::1]:${port}/cli-room`)
  let closeCode = 0
  ws.on('close', (code) => { closeCode = code })
  await new Promise((resolve, reject) => { ws.once('message', resolve); ws.once('error', reject) })
  const { status, body } = await health(`[::1]:${port}`)
  expect(status).toBe(200)
  expect(body).toMatchObject({ status: 'ok', rooms: 1, connections: 1 })
  expect(typeof body.uptime).toBe('number')
  expect(body.uptime as number).toBeGreaterThanOrEqual(0)

  r.child.kill('SIGTERM')
  expect(await r.exited).toBe(0)
  await waitFor(() => closeCode !== 0, 'the client to be closed')
  expect(closeCode).toBe(CloseCode.ServiceRestart)
  expect(logLines(r, /^shutting down$/)).toMatchObject([{ signal: 'SIGTERM' }])
}

describe('concord', () => {
  test('--help lists every option with its flag and environment variable', () => {
    const run = spawnSync(process.execPath, [bin, '--help'], { cwd: root, env: cleanEnv(), encoding: 'utf8' })
    expect(run.status).toBe(0)
    expect(run.stdout).toMatch(/^Usage: concord \[options\]/)
    for (const s of Object.values(optionTable)) {
      expect(run.stdout).toContain(`--${s.flag}`)
      expect(run.stdout).toContain(s.env)
      expect(run.stdout).toContain(s.description)
    }
  })

  test('--host ::1, --port and --storage memory as flags; /healthz; SIGTERM exits 0', async () => {
    const port = await freePort()
    await serveAndStop(start(['--host', '::1', `--port=${port}`, '--storage', 'memory']), port)
  })

  test('the same options as CONCORD_HOST, CONCORD_PORT and CONCORD_STORAGE', async () => {
    const port = await freePort()
    await serveAndStop(start([], { CONCORD_HOST: '::1', CONCORD_PORT: String(port), CONCORD_STORAGE: 'memory' }), port)
  })

  test('flags win over their environment variables', async () => {
    const port = await freePort()
    const r = start(['--port', String(port), '--host=127.0.0.1'], { CONCORD_PORT: '1', CONCORD_HOST: '::1' })
    await waitFor(() => logLines(r, /^listening on/).length > 0, 'the server to listen', 20_000)
    expect((await health(`127.0.0.1:${port}`)).status).toBe(200)
    r.child.kill('SIGINT')
    expect(await r.exited).toBe(0)
  })

  test.each([
    [['--port', '70000'], {}, /--port: expected an integer from 0 to 65535, got "70000"/],
    [[], { CONCORD_PORT: 'abc' }, /CONCORD_PORT: expected an integer/],
    [['--storage', 'floppy:/a'], {}, /--storage: expected memory, sqlite:PATH or postgres/],
    [['--max-buffered-bytes', '12'], {}, /--max-buffered-bytes: expected an integer from 1024/],
    [['--no-such-option'], {}, /unknown option --no-such-option/],
  ] as Array<[string[], Record<string, string>, RegExp]>)('%j %j exits with 2 and names the option', (args, env, message) => {
    const run = spawnSync(process.execPath, [bin, ...args], { cwd: root, env: cleanEnv(env), encoding: 'utf8', timeout: 20_000 })
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/^concord: /)
    expect(run.stderr).toMatch(message)
    expect(run.stdout).toBe('')
  })
})
