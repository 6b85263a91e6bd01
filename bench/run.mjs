// `npm run bench`: Concord side by side with the y-websocket server, Hocuspocus and a raw
// `ws` relay on 127.0.0.1, servers and load generator in separate processes pinned to
// different cores; one server under load at a time. Prints a markdown table and writes it,
// with the JSON, to bench/results/.
//
//   node bench/run.mjs [--quick] [--servers concord,raw] [--scenarios typing,join]
//                      [--no-build] [--server-cpu 0] [--gen-cpu 1] [--<scenario>-<size> N]...
//                      [--profile DIR]   (servers run with --cpu-prof, profiles written to DIR)
//                      [--baseline DIR]  (also load the Concord built in DIR: an A/B in one run)
//                      [--variant 'NAME=SERVER KEY=VALUE…']  (SERVER again as NAME, with that
//                      environment: an allocator's tunables, another build's CONCORD_BENCH_DIST)
//   Large documents (opt-in): --scenarios storm,coldload (see README.md).
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { connect, createServer as createNetServer } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { renderReport } from './lib/report.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')

const SERVERS = {
  concord: { dialect: 'yws', label: 'Concord' },
  'y-websocket': { dialect: 'yws', label: 'y-websocket 0.1.1', peer: true },
  hocuspocus: { dialect: 'hocuspocus', label: 'Hocuspocus 4.7.0', peer: true },
  raw: { dialect: 'raw', label: 'raw ws relay' },
  // The floor of a join (servers/floor.mjs): one cached sync step 2 frame per room. Not in the
  // default set, except for the storm, whose ratios are to it.
  floor: { dialect: 'yws', label: 'floor (one cached frame)', optional: true },
  // Not in the default set: `--servers concord,concord-sqlite --scenarios typing` compares
  // the embedded store's cost with the memory store's.
  'concord-sqlite': { dialect: 'yws', label: 'Concord (SQLite)', optional: true },
  // Added by `--baseline DIR`: Concord built in another checkout, loaded in the same slices.
  'concord-baseline': { dialect: 'yws', label: 'Concord baseline', optional: true },
  // Not in the default set: Concord on jemalloc instead of glibc's malloc (Debian's
  // libjemalloc2, preloaded), to tell the allocator's retained memory from the server's in
  // the soak (see RESULTS.md).
  'concord-jemalloc': { dialect: 'yws', label: 'Concord (jemalloc)', optional: true, file: 'concord', env: { LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2' } },
}

const DEFAULTS = {
  typing: { rooms: 50, clients: 10, writers: 2, rate: 10, duration: 30, slices: 10, window: 0, warmup: 10 },
  fanout: { rooms: 4, clients: 100, writers: 2, window: 16, duration: 10, slices: 5, maxPerWriter: 60000, rate: 0, warmup: 3 },
  join: { clients: 100, edits: 20000, rounds: 3 },
  idle: { conns: 2000, rooms: 200, rounds: 3 },
  awareness: { rooms: 50, clients: 10, rate: 5, duration: 30, slices: 10, warmup: 10 },
  // Large documents: each server alone; not in the default run (see OPT_IN).
  storm: { clients: 150, mb: 20, shape: 'text', recent: 'both', timeout: 120, quiet: 0 },
  coldload: { mb: 20, log: 2000, stores: 'sqlite,postgres', timeout: 120 },
  // An hour of typing, joins and leaves on every server at once (see load.mjs `soak`).
  soak: { minutes: 60, rooms: 20, readers: 8, writers: 2, rate: 5, churn: 5, sample: 30, leave: 45 },
  // Concord and Hocuspocus, 1 instance and `instances` through Redis (see load.mjs `scaleout`).
  scaleout: { instances: 3, rooms: 20, clients: 9, writers: 2, rate: 10, duration: 20, warmup: 5, joiners: 150, edits: 20000 },
}
/// Sizes that take words, and which.
const CHOICES = {
  'storm-shape': ['text', 'map'],
  'storm-recent': ['0', '1', 'both'],
  'coldload-stores': ['sqlite', 'postgres', 'sqlite,postgres', 'postgres,sqlite'],
}
/// Scenarios a run without `--scenarios` leaves out: at their default sizes they take many
/// minutes (a 20 MB document built, seeded and sent to 150 joiners, per server and variant).
const OPT_IN = new Set(['storm', 'coldload', 'soak', 'scaleout'])
const QUICK = {
  typing: { rooms: 10, duration: 4, slices: 2, warmup: 2 },
  fanout: { rooms: 2, clients: 50, duration: 3, slices: 1, maxPerWriter: 20000, warmup: 0 },
  join: { clients: 50, edits: 5000, rounds: 1 },
  idle: { conns: 400, rooms: 40, rounds: 1 },
  awareness: { rooms: 10, duration: 4, slices: 2, warmup: 2 },
  storm: { clients: 30, mb: 2, timeout: 60 },
  coldload: { mb: 2, log: 200, timeout: 60 },
  soak: { minutes: 1, rooms: 5, sample: 10, leave: 35 },
  scaleout: { rooms: 5, duration: 4, warmup: 1, joiners: 30, edits: 2000 },
}

/// `--variant 'NAME=SERVER KEY=VALUE…'`: a server entry NAME that runs SERVER with those
/// environment variables added (values without spaces), labelled with them.
function addVariant(spec) {
  const [head, ...pairs] = spec.trim().split(/\s+/)
  const m = /^([\w-]+)=([\w-]+)$/.exec(head ?? '')
  if (!m || !(m[2] in SERVERS) || m[1] in SERVERS) throw new Error(`--variant ${spec}: expected 'NAME=SERVER KEY=VALUE…' with a new NAME and a known SERVER`)
  const env = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new Error(`--variant ${spec}: ${pair} is not KEY=VALUE`)
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  const base = SERVERS[m[2]]
  SERVERS[m[1]] = { ...base, label: `${base.label} (${pairs.join(' ')})`, optional: true, file: base.file ?? m[2], env: { ...base.env, ...env } }
}

function parseFlags(argv) {
  const flags = { quick: false, build: true, servers: Object.keys(SERVERS).filter((s) => !SERVERS[s].optional), serversGiven: false, scenarios: Object.keys(DEFAULTS).filter((s) => !OPT_IN.has(s)), serverCpu: '0', genCpu: '1', profile: null, baseline: null, sizes: {} }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg}: missing value`)
      return v
    }
    if (arg === '--quick') flags.quick = true
    else if (arg === '--no-build') flags.build = false
    else if (arg === '--servers') { flags.servers = value().split(','); flags.serversGiven = true }
    else if (arg === '--scenarios') flags.scenarios = value().split(',')
    else if (arg === '--server-cpu') flags.serverCpu = value()
    else if (arg === '--gen-cpu') flags.genCpu = value()
    else if (arg === '--profile') flags.profile = value()
    else if (arg === '--baseline') flags.baseline = resolve(value())
    else if (arg === '--variant') addVariant(value())
    else if (arg === '--help' || arg === '-h') {
      const sizes = Object.entries(DEFAULTS).flatMap(([s, p]) => Object.entries(p).map(([k, v]) => `  --${s}-${k} ${v}${CHOICES[`${s}-${k}`] ? `   (${CHOICES[`${s}-${k}`].slice(0, 3).join(' | ')})` : ''}`))
      process.stdout.write(`Usage: node bench/run.mjs [--quick] [--servers ${Object.keys(SERVERS).join(',')}]\n` +
        `  [--scenarios ${Object.keys(DEFAULTS).join(',')}] [--no-build] [--server-cpu 0] [--gen-cpu 1] [--profile DIR] [--baseline DIR]\n` +
        `  [--variant 'NAME=SERVER KEY=VALUE…'] (SERVER again as NAME, with those environment variables)\n` +
        `Default scenarios: ${Object.keys(DEFAULTS).filter((s) => !OPT_IN.has(s)).join(',')} (${[...OPT_IN].join(' and ')} only when named).\n` +
        `Default servers: ${Object.keys(SERVERS).filter((s) => !SERVERS[s].optional).join(',')}; the storm: concord,floor,y-websocket,hocuspocus; coldload: Concord only.\n` +
        `storm-recent both: runs 0 (no edit since the document was loaded) and 1 (one small edit after it).\n` +
        `coldload runs each store without and with a log of --coldload-log updates on the snapshot.\n` +
        `Sizes (defaults):\n${sizes.join('\n')}\n`)
      process.exit(0)
    } else {
      const m = /^--(\w+)-(\w+)$/.exec(arg)
      if (!m || !(m[1] in DEFAULTS) || !(m[2] in DEFAULTS[m[1]])) throw new Error(`unknown flag ${arg} (see --help)`)
      const choices = CHOICES[`${m[1]}-${m[2]}`]
      if (choices) {
        const v = value()
        if (!choices.includes(v)) throw new Error(`${arg}: one of ${choices.join(', ')}`)
        ;(flags.sizes[m[1]] ??= {})[m[2]] = v
        continue
      }
      const n = Number(value())
      if (!Number.isFinite(n) || n < 0) throw new Error(`${arg}: expected a number`)
      ;(flags.sizes[m[1]] ??= {})[m[2]] = n
    }
  }
  if (flags.baseline) {
    if (!existsSync(join(flags.baseline, 'dist', 'server', 'index.js'))) throw new Error(`--baseline ${flags.baseline}: no dist/server/index.js there (build it first)`)
    SERVERS['concord-baseline'].label = `Concord baseline (${basename(flags.baseline)})`
    if (!flags.servers.includes('concord-baseline')) flags.servers.splice(flags.servers.indexOf('concord') + 1, 0, 'concord-baseline')
  }
  if (flags.servers.includes('concord-baseline') && !flags.baseline) throw new Error('concord-baseline needs --baseline DIR')
  for (const s of flags.servers) if (!(s in SERVERS)) throw new Error(`unknown server ${s}`)
  // A missing preload only gets a loader warning, and the run would measure glibc's malloc.
  for (const s of flags.servers) {
    const preload = SERVERS[s].env?.LD_PRELOAD
    if (preload && !existsSync(preload)) throw new Error(`${s} needs ${preload} (Debian: apt-get install libjemalloc2)`)
  }
  for (const s of flags.scenarios) if (!(s in DEFAULTS)) throw new Error(`unknown scenario ${s}`)
  return flags
}

// Typing, fan-out and awareness run every server at once and load them in turn, in short
// slices (see load.mjs): the host's speed drifts by ±15% over minutes, which one long run per
// server measured as much as the servers.
const TIMED = new Set(['typing', 'fanout', 'awareness'])
/// Scenarios that load every server at once, each with its own load (the soak: an hour each
/// in turn would be four).
const TOGETHER = new Set([...TIMED, 'soak'])
/// The unmeasured relay the generator warms up on before the servers' warm-ups.
const WARM_UP = 'generator-warm-up'

/// The round with the median KB per connection (the first error, if any), all rounds' figures
/// alongside.
function medianRound(all) {
  if (all.length === 1) return all[0]
  const failed = all.find((r) => r.error)
  if (failed) return failed
  const sorted = [...all].sort((a, b) => a.kbPerConn - b.kbPerConn)
  return { ...sorted[Math.floor(sorted.length / 2)], kbPerConnRounds: all.map((r) => r.kbPerConn) }
}

function prepare(flags) {
  if (!['@hocuspocus/server', '@hocuspocus/extension-redis'].every((p) => existsSync(join(here, 'node_modules', p)))) {
    console.error('installing bench dependencies into bench/node_modules …')
    const r = spawnSync('npm', ['install', '--prefix', here, '--no-audit', '--no-fund'], { stdio: 'inherit' })
    if (r.status !== 0) throw new Error('npm install --prefix bench failed')
  }
  if (flags.build || !existsSync(join(root, 'dist', 'server', 'index.js'))) {
    console.error('building Concord (tsc) …')
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' })
    if (r.status !== 0) throw new Error('build failed')
  }
}

function startServer(name, cpu, profile, baseline, file = SERVERS[name]?.file ?? name, extraEnv = {}) {
  const prof = profile ? ['--cpu-prof', '--cpu-prof-dir', profile, '--cpu-prof-name', `${name}-${Date.now()}.cpuprofile`] : []
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', cpu, process.execPath, '--expose-gc', ...prof, join(here, 'servers', `${file}.mjs`)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...(name === 'concord-baseline' ? { CONCORD_BENCH_DIST: join(baseline, 'dist') } : {}), ...SERVERS[name]?.env, ...extraEnv },
    })
    const lines = createInterface({ input: child.stdout })
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 15000)
    lines.once('line', (line) => {
      clearTimeout(timer)
      lines.on('line', () => {}) // keep draining
      resolve({ child, port: JSON.parse(line).port })
    })
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)))
  })
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    child.kill('SIGTERM')
  })
}

function runLoad(cfg, cpu, nodeFlags = []) {
  return new Promise((resolve) => {
    const child = spawn('taskset', ['-c', cpu, process.execPath, ...nodeFlags, join(here, 'load.mjs'), JSON.stringify(cfg)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.on('exit', () => {
      const last = out.trim().split('\n').pop()
      try { resolve(JSON.parse(last)) } catch { resolve({ error: `no result (output: ${out.slice(0, 500)})` }) }
    })
  })
}

// ---- large documents ------------------------------------------------------------------
/// The generator of the large-document scenarios may hold a few large documents at once (a
/// 20 MB spreadsheet is over a GB as a Y.Doc): room beyond V8's default heap limit.
const BIG_HEAP = ['--max-old-space-size=8192']

/// One server alone, one load; the server stopped whatever happens. `{ error }` on failure.
async function alone(flags, name, cfg, extraEnv = {}) {
  let started
  try {
    started = await startServer(name, flags.serverCpu, flags.profile, flags.baseline, undefined, extraEnv)
    const result = await runLoad({ ...cfg, targets: [{ name, dialect: SERVERS[name].dialect, port: started.port, pid: started.child.pid }] }, flags.genCpu, BIG_HEAP)
    return result.error ? { error: result.error } : result[name]
  } catch (error) {
    return { error: String(error?.message ?? error) }
  } finally {
    if (started) await stopServer(started.child)
  }
}

/// A scenario's runs per server, summed up for the report's checks (converged, echoes, the
/// generator's peak).
function summary(runs) {
  const ok = runs.filter((r) => !r.error && !r.skipped)
  return {
    runs,
    converged: ok.every((r) => r.converged),
    echoes: ok.reduce((n, r) => n + (r.echoes ?? 0), 0),
    genCpuPct: Math.max(0, ...ok.map((r) => r.genCpuPct ?? 0)),
    ...(ok.length === 0 && runs.some((r) => r.error) ? { error: runs.find((r) => r.error).error } : {}),
    ...(ok.length === 0 && runs.some((r) => r.skipped) ? { skipped: runs.find((r) => r.skipped).skipped } : {}),
  }
}

/// Storm: every server alone, a fresh process per server and variant (no recent edit, one).
async function runStorm(flags, p, cacheDir) {
  const servers = flags.serversGiven ? flags.servers : ['concord', ...(flags.baseline ? ['concord-baseline'] : []), 'floor', 'y-websocket', 'hocuspocus']
  const variants = p.recent === 'both' ? [0, 1] : [Number(p.recent)]
  const byServer = Object.fromEntries(servers.map((name) => [name, []]))
  for (const recent of variants) {
    for (const name of servers) {
      process.stderr.write(`storm (${recent ? 'one recent edit' : 'no recent edit'}) × ${name} … `)
      const r = SERVERS[name].dialect === 'raw'
        ? { recent, skipped: 'a relay holds no document' }
        : { recent, ...(await alone(flags, name, { scenario: 'storm', params: { ...p, recent, cacheDir } })) }
      byServer[name].push(r)
      process.stderr.write(r.error ? `error: ${r.error.split('\n')[0]}\n` : r.skipped ? 'skipped\n' : `done (last joiner ${r.lastMs === null ? `> ${p.timeout} s, ${r.timedOut} timed out, ${r.dropped} dropped` : `${r.lastMs} ms`})\n`)
    }
  }
  return Object.fromEntries(Object.entries(byServer).map(([name, runs]) => [name, summary(runs)]))
}

/// What an interrupted run must still remove (databases, the documents' folder).
const cleanups = new Set()
process.once('SIGINT', async () => {
  for (const cleanup of cleanups) await Promise.resolve().then(cleanup).catch(() => {})
  process.exit(130)
})

const requireRoot = createRequire(join(root, 'package.json'))
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' }

/// Run one statement on the PostgreSQL server's `postgres` database (pg from the root's
/// dependencies).
async function pgAdmin(sql) {
  const pg = requireRoot('pg')
  const client = new pg.Client({ ...PG, database: 'postgres' })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/// A fresh store for one cold load, and how to remove it.
async function coldStore(store, dir) {
  const tag = randomBytes(6).toString('hex')
  if (store === 'sqlite') {
    const file = join(dir, `coldload-${tag}.db`)
    return { url: `sqlite:${file}`, drop: async () => { for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true }) } }
  }
  const db = `concord_bench_${tag}`
  await pgAdmin(`CREATE DATABASE ${db}`)
  const drop = () => pgAdmin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
  cleanups.add(drop)
  return { url: `postgres://${PG.user}@${PG.host}:${PG.port}/${db}`, drop: async () => { await drop(); cleanups.delete(drop) } }
}

/// Cold load: Concord only (and the baseline build), each store, without and with a log on
/// top of the snapshot. The store is filled before the server starts.
async function runColdload(flags, p, cacheDir) {
  const servers = flags.serversGiven ? flags.servers.filter((n) => n === 'concord' || n === 'concord-baseline') : ['concord', ...(flags.baseline ? ['concord-baseline'] : [])]
  if (servers.length === 0) return { concord: summary([{ skipped: 'coldload runs Concord only (add concord to --servers)' }]) }
  const stores = p.stores.split(',')
  const logs = p.log > 0 ? [0, p.log] : [0]
  const byServer = Object.fromEntries(servers.map((name) => [name, []]))
  const room = 'coldload-room'
  for (const store of stores) {
    for (const log of logs) {
      for (const name of servers) {
        process.stderr.write(`coldload (${store}, log ${log}) × ${name} … `)
        const dist = name === 'concord-baseline' ? join(flags.baseline, 'dist') : join(root, 'dist')
        let r
        let target = null
        try {
          target = await coldStore(store, cacheDir)
          const prep = await runLoad({ scenario: 'coldload-prep', params: { mb: p.mb, log, storage: target.url, room, dist, cacheDir } }, flags.genCpu, BIG_HEAP)
          if (prep.error) r = { error: `filling the store: ${prep.error}` }
          else {
            const { vector, hash, ...figures } = prep.prep
            const run = await alone(flags, name, { scenario: 'coldload', params: { room, expected: { vector, hash }, timeout: p.timeout } }, { CONCORD_BENCH_STORAGE: target.url })
            r = { ...figures, ...run }
          }
        } catch (error) {
          r = { error: String(error?.message ?? error) }
        } finally {
          await target?.drop().catch((error) => process.stderr.write(`(could not remove ${target.url}: ${error.message}) `))
        }
        r = { store, log, ...r }
        byServer[name].push(r)
        process.stderr.write(r.error ? `error: ${r.error.split('\n')[0]}\n` : `done (${r.coldMs} ms)\n`)
      }
    }
  }
  return Object.fromEntries(Object.entries(byServer).map(([name, runs]) => [name, summary(runs)]))
}

/// A private redis-server on a free port (no persistence); resolves to its URL and a stop.
async function startRedis() {
  const port = await new Promise((resolve, reject) => {
    const srv = createNetServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)) })
  })
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.end(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (up) return { url: `redis://127.0.0.1:${port}`, stop: () => stopServer(child) }
    await new Promise((r) => setTimeout(r, 25))
  }
  child.kill('SIGKILL')
  throw new Error('redis-server did not start')
}

/// Scale-out: Concord (PostgreSQL shared by its instances) and Hocuspocus (its Redis
/// extension, no persistence), each with 1 instance and with `instances` through a private
/// Redis; every instance on the server CPU.
async function runScaleout(flags, p) {
  const kinds = (flags.serversGiven ? flags.servers : ['concord', 'hocuspocus']).filter((n) => n === 'concord' || n === 'hocuspocus')
  const byServer = Object.fromEntries(kinds.map((name) => [name, []]))
  const redis = await startRedis()
  try {
    for (const name of kinds) {
      for (const n of [1, p.instances]) {
        process.stderr.write(`scaleout × ${name}, ${n} instance${n > 1 ? 's' : ''} … `)
        const started = []
        let store = null
        let r
        try {
          if (name === 'concord') store = await coldStore('postgres', null)
          const env = { ...(store ? { CONCORD_BENCH_STORAGE: store.url } : {}), ...(n > 1 ? { BENCH_REDIS: redis.url, BENCH_REDIS_PREFIX: `bench-${randomBytes(4).toString('hex')}:` } : {}) }
          for (let i = 0; i < n; i++) started.push(await startServer(name, flags.serverCpu, flags.profile, flags.baseline, undefined, env))
          const result = await runLoad({ scenario: 'scaleout', targets: [{ name, dialect: SERVERS[name].dialect, port: started[0].port, pid: started[0].child.pid, ports: started.map((s) => s.port), pids: started.map((s) => s.child.pid) }], params: p }, flags.genCpu)
          r = result.error ? { error: result.error } : result[name]
        } catch (error) {
          r = { error: String(error?.message ?? error) }
        } finally {
          for (const s of started) await stopServer(s.child)
          await store?.drop().catch(() => undefined)
        }
        byServer[name].push(r)
        process.stderr.write(r.error ? `error: ${r.error.split('\n')[0]}\n` : `done (${r.deliveredPerSec}/s, join ${r.joinMs} ms)\n`)
      }
    }
  } finally {
    await redis.stop()
  }
  return Object.fromEntries(Object.entries(byServer).map(([name, runs]) => [name, { runs, converged: runs.every((r) => r.converged), echoes: runs.reduce((s, r) => s + (r.echoes ?? 0), 0) }]))
}

async function main() {
  const flags = parseFlags(process.argv.slice(2))
  prepare(flags)
  const results = {}
  const params = {}
  // Built documents, the cold loads' SQLite files: removed at the end.
  const cacheDir = flags.scenarios.some((s) => OPT_IN.has(s)) ? mkdtempSync(join(tmpdir(), 'concord-bench-docs-')) : null
  if (cacheDir) cleanups.add(() => rmSync(cacheDir, { recursive: true, force: true }))
  try {
    await scenariosOf(flags, results, params, cacheDir)
  } finally {
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true })
  }
  report(flags, results, params)
}

async function scenariosOf(flags, results, params, cacheDir) {
  for (const scenario of flags.scenarios) {
    params[scenario] = { ...DEFAULTS[scenario], ...(flags.quick ? QUICK[scenario] : {}), ...flags.sizes[scenario] }
    if (scenario === 'storm') { results.storm = await runStorm(flags, params.storm, cacheDir); continue }
    if (scenario === 'coldload') { results.coldload = await runColdload(flags, params.coldload, cacheDir); continue }
    if (scenario === 'scaleout') { results.scaleout = await runScaleout(flags, params.scaleout); continue }
    // A timed scenario loads every server in one generator; join and idle take one at a time
    // (a burst and a memory reading: nothing else may run beside them).
    // Idle repeats, servers interleaved, and keeps each server's median round: where the
    // allocator's pages land moves one reading of RSS per connection by ±15%.
    const rounds = scenario === 'idle' ? params[scenario].rounds : 1
    const groups = TOGETHER.has(scenario) ? [flags.servers] : Array.from({ length: rounds }, () => flags.servers.map((name) => [name])).flat()
    const byServer = Object.fromEntries(flags.servers.map((name) => [name, []]))
    for (const group of groups) {
      process.stderr.write(`${scenario} × ${group.join(', ')} … `)
      const started = []
      let result
      try {
        // The generator warms up on a relay of its own first: in A/A runs of one build twice,
        // the server whose warm-up came first measured p95 1.7× and p99 1.3× the other's, and
        // 15 MB more peak RSS, and Concord always came first.
        if (TIMED.has(scenario) && params[scenario].warmup > 0) started.push({ name: WARM_UP, ...(await startServer(WARM_UP, flags.serverCpu, null, null, 'raw')) })
        // The soak reads each server's memory after a full GC (see servers/common.mjs).
        const heapDir = scenario === 'soak' ? mkdtempSync(join(cacheDir, 'heap-')) : undefined
        const env = heapDir ? { BENCH_HEAP_DIR: heapDir } : {}
        for (const name of group) started.push({ name, ...(await startServer(name, flags.serverCpu, flags.profile, flags.baseline, undefined, env)) })
        const targets = started.map(({ name, child, port }) => ({ name, dialect: SERVERS[name]?.dialect ?? 'raw', port, pid: child.pid, warmOnly: name === WARM_UP }))
        result = await runLoad({ scenario, targets, params: params[scenario], heapDir }, flags.genCpu)
      } finally {
        for (const { child } of started) await stopServer(child)
      }
      for (const name of group) byServer[name].push(result.error ? { error: result.error } : result[name])
      process.stderr.write(result.error ? `error: ${result.error.split('\n')[0]}\n` : 'done\n')
    }
    results[scenario] = Object.fromEntries(Object.entries(byServer).map(([name, all]) => [name, medianRound(all)]))
  }
}

function report(flags, results, params) {
  const machine = `${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, server on CPU ${flags.serverCpu}, generator on CPU ${flags.genCpu}`
  const command = `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim()
  const text = renderReport({ results, params, servers: SERVERS, machine, command, date: new Date().toISOString() })
  process.stdout.write(text + '\n')
  const dir = join(here, 'results')
  mkdirSync(dir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const json = JSON.stringify({ date: new Date().toISOString(), machine, command, params, results }, null, 2)
  writeFileSync(join(dir, `bench-${stamp}.json`), json)
  writeFileSync(join(dir, `bench-${stamp}.md`), text + '\n')
  writeFileSync(join(dir, 'latest.json'), json)
  writeFileSync(join(dir, 'latest.md'), text + '\n')
  process.stderr.write(`written to bench/results/bench-${stamp}.{md,json}\n`)
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
