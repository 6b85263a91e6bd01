// The `concord` command with bad configuration: every option's bad value, given as a flag
// and as a CONCORD_* variable, gives a message naming the option and what it accepts, and
// exit code 2, before anything listens. Spawns `node bin/concord.js` after `npm run build`.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { beforeAll, expect, test } from 'vitest'
import { optionTable, type OptionName } from '../server/ops/config.js'

/// A bad value for each option, what the message must say about accepted values, and any
/// other flags the case needs.
const bad: Partial<Record<OptionName, [string, RegExp, string[]?]>> = {
  host: ['', /must not be empty/],
  port: ['70000', /expected an integer from 0 to 65535, got "70000"/],
  storage: ['mysql://x', /expected memory, sqlite:PATH or postgres:\/\/USER@HOST\/DB, got "mysql:\/\/x"/],
  maxMessageBytes: ['12', /expected an integer from 1024/],
  maxBufferedBytes: ['lots', /expected an integer from 1024/],
  maxQueuedBytes: ['-5', /expected an integer from 1024/],
  keepaliveMs: ['1.5', /expected an integer from 100/],
  pingIntervalMs: ['0', /expected an integer from 100/],
  unloadAfterMs: ['soon', /expected an integer from 0/],
  sleepAfterMs: ['later', /expected an integer from 0/],
  versionAfterQuietMs: ['-1', /expected an integer from 0/],
  versionEveryMs: ['999', /expected an integer from 1000/],
  versionRetentionDays: ['forever', /expected an integer from 0/],
  maxVersions: ['0', /expected an integer from 1/],
  logLevel: ['loud', /expected one of debug, info, warn, error, silent, got "loud"/],
  editor: ['maybe', /expected true or false, got "maybe"/],
  metrics: ['perhaps', /expected true or false, got "perhaps"/],
  api: ['2', /expected true or false, got "2"/],
  textName: ['', /must not be empty/],
  readyTimeoutMs: ['0', /expected an integer from 1 to 60000/],
  webhookUrl: ['ftp://example.test/hook', /expected an http:\/\/ or https:\/\/ URL/],
  webhookDebounceMs: ['later', /expected an integer from 0 to 3600000/],
  authSecret: ['too-short', /must be at least 32 bytes long/],
  authPublicKey: ['/nonexistent/key.pem', /cannot use "\/nonexistent\/key.pem": ENOENT/],
  allowedOrigins: ['https://a.test/path', /is not an origin \(scheme:\/\/host\[:port\], no path\)/],
  trustProxy: ['sometimes', /expected true or false/],
  maxConnectionsPerIp: ['-1', /expected an integer from 0/],
  maxConnectionsPerRoom: ['many', /expected an integer from 0/],
  maxRooms: ['1e3', /expected an integer from 0/],
  maxPendingUpgrades: ['0', /expected an integer from 1/],
  apiRequestsPerSecond: ['-5', /expected an integer from 0/],
  apiRequestBurst: ['0', /expected an integer from 1/],
  maxHttpRequestsPerIp: ['lots', /expected an integer from 0/],
  requestTimeoutMs: ['50', /expected an integer from 100 to 3600000/],
  messagesPerSecond: ['fast', /expected an integer from 0/],
  messageBurst: ['0', /expected an integer from 1/],
  readOnlyAwareness: ['never', /expected true or false, got "never"/],
  maxAwarenessClients: ['0', /expected an integer from 1/],
  maxIncompleteBytes: ['1k', /expected an integer from 1024/],
  messageTimeoutMs: ['10', /expected an integer from 100/],
  maxPendingBytes: ['-1', /expected an integer from 0/],
  tlsCert: ['/nonexistent/cert.pem', /cannot use "\/nonexistent\/cert.pem": ENOENT/, ['--tls-key', 'package.json']],
  commitDelayMs: ['1001', /expected an integer from 0 to 1000/],
  compactAfterUpdates: ['0', /expected an integer from 1/],
  compactAfterBytes: ['4MB', /expected an integer from 1/],
  initialContent: ['/nonexistent/seed.txt', /cannot use "\/nonexistent\/seed.txt": ENOENT/],
  initialContentField: ['', /must not be empty/],
  shutdownTimeoutMs: ['10', /expected an integer from 100/],
  tlsKey: ['/nonexistent/key.pem', /cannot use "\/nonexistent\/key.pem": ENOENT/, ['--tls-cert', 'package.json']],
  redis: ['localhost:6379', /expected redis:\/\/HOST:PORT, got "localhost:6379"/],
  redisPrefix: ['', /must not be empty/],
  clusterSyncMs: ['10', /expected an integer from 50/],
  clusterHeartbeatMs: ['often', /expected an integer from 50/],
  workers: ['0', /expected an integer from 1 to 1024/],
}
/// Options where every string is a valid value.
const anyValue: OptionName[] = ['publicDir', 'webhookSecret']

interface Run { code: number | null; stdout: string; stderr: string }

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/concord.js', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

// Rebuilding here would race with other test files running dist/: CI builds before testing.
beforeAll(() => {
  if (!existsSync('dist/server/cli/main.js')) throw new Error('dist/ is missing: run `npm run build` before these tests')
})

test('every option has a bad-value case (or accepts any string)', () => {
  for (const name of Object.keys(optionTable) as OptionName[]) {
    expect(bad[name] !== undefined || anyValue.includes(name), `a bad value for ${name}`).toBe(true)
  }
})

test('every bad value, as a flag and as an environment variable: clear message, exit code 2', async () => {
  const cases: Array<{ args: string[]; env: Record<string, string>; names: string; accepts: RegExp }> = []
  for (const [name, [value, accepts, extra = []]] of Object.entries(bad) as Array<[OptionName, [string, RegExp, string[]?]]>) {
    const s = optionTable[name]
    // Values checked when the server starts (files) are reported by flag name.
    const late = /cannot use/.test(accepts.source)
    cases.push({ args: [`--${s.flag}`, value, ...extra], env: {}, names: `--${s.flag}`, accepts })
    cases.push({ args: [`--${s.flag}=${value}`, ...extra], env: {}, names: `--${s.flag}`, accepts })
    cases.push({ args: extra, env: { [s.env]: value }, names: late ? `--${s.flag}` : s.env, accepts })
  }
  // A few at a time: the machine is shared.
  for (let i = 0; i < cases.length; i += 4) {
    const batch = cases.slice(i, i + 4)
    const results = await Promise.all(batch.map((c) => run([...c.args, '--port', '0'], c.env)))
    batch.forEach((c, j) => {
      const r = results[j]
      const what = `${c.args.join(' ')} ${JSON.stringify(c.env)}`
      expect(r.code, what).toBe(2)
      expect(r.stderr, what).toContain(`concord: ${c.names}: `)
      expect(r.stderr, what).toMatch(c.accepts)
      expect(r.stdout, what).toBe('') // nothing started, nothing logged
    })
  }
}, 180_000)

test('unknown options, stray arguments, missing values and a webhook without a secret: exit code 2', async () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--prot', '80'], {}, /unknown option --prot \(see --help\)/],
    [['serve'], {}, /unexpected argument "serve" \(see --help\)/],
    [['--port'], {}, /--port: missing value/],
    [['--webhook-url', 'http://127.0.0.1:9/hook'], {}, /--webhook-secret \(CONCORD_WEBHOOK_SECRET\) is required with --webhook-url/],
    [[], { CONCORD_WEBHOOK_URL: 'http://127.0.0.1:9/hook' }, /--webhook-secret .* is required/],
    // A flag wins over the environment, and is still validated.
    [['--port', 'x'], { CONCORD_PORT: '0' }, /--port: expected an integer/],
    [['--tls-cert', 'package.json'], {}, /--tls-cert and --tls-key go together/],
  ]
  const results = await Promise.all(cases.map(([args, env]) => run(args, env)))
  cases.forEach(([args, env, message], i) => {
    expect(results[i].code, args.join(' ') + JSON.stringify(env)).toBe(2)
    expect(results[i].stderr).toMatch(message)
  })
}, 120_000)

test('--help prints every option; a good configuration starts and stops with code 0', async () => {
  const help = await run(['--help'])
  expect(help.code).toBe(0)
  for (const s of Object.values(optionTable)) {
    expect(help.stdout).toContain(`--${s.flag}`)
    expect(help.stdout).toContain(s.env)
  }

  const child = spawn(process.execPath, ['bin/concord.js', '--port', '0', '--editor', 'false'], {
    env: { PATH: process.env.PATH ?? '', CONCORD_LOG_LEVEL: 'info', CONCORD_TEXT_NAME: 'body' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const deadline = Date.now() + 30_000
  while (!/listening on ws:\/\/127\.0\.0\.1:\d+/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${out}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const url = /listening on ws:\/\/(127\.0\.0\.1:\d+)/.exec(out)![1]
  expect((await fetch(`http://${url}/readyz`)).status).toBe(200)
  const code = new Promise((resolve) => child.on('close', resolve))
  child.kill('SIGTERM')
  expect(await code).toBe(0)
}, 60_000)
