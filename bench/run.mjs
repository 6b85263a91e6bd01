// `npm run bench`: Concord side by side with the y-websocket server, Hocuspocus and a raw
// `ws` relay on 127.0.0.1, servers and load generator in separate processes pinned to
// different cores; one server under load at a time. Prints a markdown table and writes it,
// with the JSON, to bench/results/.
//
//   node bench/run.mjs [--quick] [--servers concord,raw] [--scenarios typing,join]
//                      [--no-build] [--server-cpu 0] [--gen-cpu 1] [--<scenario>-<size> N]...
//                      [--profile DIR]   (servers run with --cpu-prof, profiles written to DIR)
//                      [--baseline DIR]  (also load the Concord built in DIR: an A/B in one run)
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
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
  // Not in the default set: `--servers concord,concord-sqlite --scenarios typing` compares
  // the embedded store's cost with the memory store's.
  'concord-sqlite': { dialect: 'yws', label: 'Concord (SQLite)', optional: true },
  // Added by `--baseline DIR`: Concord built in another checkout, loaded in the same slices.
  'concord-baseline': { dialect: 'yws', label: 'Concord baseline', optional: true },
}

const DEFAULTS = {
  typing: { rooms: 50, clients: 10, writers: 2, rate: 10, duration: 30, slices: 10, window: 0, warmup: 10 },
  fanout: { rooms: 4, clients: 100, writers: 2, window: 16, duration: 10, slices: 5, maxPerWriter: 60000, rate: 0, warmup: 3 },
  join: { clients: 100, edits: 20000, rounds: 3 },
  idle: { conns: 2000, rooms: 200, rounds: 3 },
  awareness: { rooms: 50, clients: 10, rate: 5, duration: 30, slices: 10, warmup: 10 },
}
const QUICK = {
  typing: { rooms: 10, duration: 4, slices: 2, warmup: 2 },
  fanout: { rooms: 2, clients: 50, duration: 3, slices: 1, maxPerWriter: 20000, warmup: 0 },
  join: { clients: 50, edits: 5000, rounds: 1 },
  idle: { conns: 400, rooms: 40, rounds: 1 },
  awareness: { rooms: 10, duration: 4, slices: 2, warmup: 2 },
}

function parseFlags(argv) {
  const flags = { quick: false, build: true, servers: Object.keys(SERVERS).filter((s) => !SERVERS[s].optional), scenarios: Object.keys(DEFAULTS), serverCpu: '0', genCpu: '1', profile: null, baseline: null, sizes: {} }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg}: missing value`)
      return v
    }
    if (arg === '--quick') flags.quick = true
    else if (arg === '--no-build') flags.build = false
    else if (arg === '--servers') flags.servers = value().split(',')
    else if (arg === '--scenarios') flags.scenarios = value().split(',')
    else if (arg === '--server-cpu') flags.serverCpu = value()
    else if (arg === '--gen-cpu') flags.genCpu = value()
    else if (arg === '--profile') flags.profile = value()
    else if (arg === '--baseline') flags.baseline = resolve(value())
    else if (arg === '--help' || arg === '-h') {
      const sizes = Object.entries(DEFAULTS).flatMap(([s, p]) => Object.entries(p).map(([k, v]) => `  --${s}-${k} ${v}`))
      process.stdout.write(`Usage: node bench/run.mjs [--quick] [--servers ${Object.keys(SERVERS).join(',')}]\n` +
        `  [--scenarios ${Object.keys(DEFAULTS).join(',')}] [--no-build] [--server-cpu 0] [--gen-cpu 1] [--profile DIR] [--baseline DIR]\nSizes (defaults):\n${sizes.join('\n')}\n`)
      process.exit(0)
    } else {
      const m = /^--(\w+)-(\w+)$/.exec(arg)
      if (!m || !(m[1] in DEFAULTS) || !(m[2] in DEFAULTS[m[1]])) throw new Error(`unknown flag ${arg} (see --help)`)
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
  for (const s of flags.scenarios) if (!(s in DEFAULTS)) throw new Error(`unknown scenario ${s}`)
  return flags
}

// Typing, fan-out and awareness run every server at once and load them in turn, in short
// slices (see load.mjs): the host's speed drifts by ±15% over minutes, which one long run per
// server measured as much as the servers.
const TIMED = new Set(['typing', 'fanout', 'awareness'])
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
  if (!existsSync(join(here, 'node_modules', '@hocuspocus', 'server'))) {
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

function startServer(name, cpu, profile, baseline, file = name) {
  const prof = profile ? ['--cpu-prof', '--cpu-prof-dir', profile, '--cpu-prof-name', `${name}-${Date.now()}.cpuprofile`] : []
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', cpu, process.execPath, '--expose-gc', ...prof, join(here, 'servers', `${file}.mjs`)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: name === 'concord-baseline' ? { ...process.env, CONCORD_BENCH_DIST: join(baseline, 'dist') } : process.env,
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

function runLoad(cfg, cpu) {
  return new Promise((resolve) => {
    const child = spawn('taskset', ['-c', cpu, process.execPath, join(here, 'load.mjs'), JSON.stringify(cfg)], {
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

async function main() {
  const flags = parseFlags(process.argv.slice(2))
  prepare(flags)
  const results = {}
  const params = {}
  for (const scenario of flags.scenarios) {
    params[scenario] = { ...DEFAULTS[scenario], ...(flags.quick ? QUICK[scenario] : {}), ...flags.sizes[scenario] }
    // A timed scenario loads every server in one generator; join and idle take one at a time
    // (a burst and a memory reading: nothing else may run beside them).
    // Idle repeats, servers interleaved, and keeps each server's median round: where the
    // allocator's pages land moves one reading of RSS per connection by ±15%.
    const rounds = scenario === 'idle' ? params[scenario].rounds : 1
    const groups = TIMED.has(scenario) ? [flags.servers] : Array.from({ length: rounds }, () => flags.servers.map((name) => [name])).flat()
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
        for (const name of group) started.push({ name, ...(await startServer(name, flags.serverCpu, flags.profile, flags.baseline)) })
        const targets = started.map(({ name, child, port }) => ({ name, dialect: SERVERS[name]?.dialect ?? 'raw', port, pid: child.pid, warmOnly: name === WARM_UP }))
        result = await runLoad({ scenario, targets, params: params[scenario] }, flags.genCpu)
      } finally {
        for (const { child } of started) await stopServer(child)
      }
      for (const name of group) byServer[name].push(result.error ? { error: result.error } : result[name])
      process.stderr.write(result.error ? `error: ${result.error.split('\n')[0]}\n` : 'done\n')
    }
    results[scenario] = Object.fromEntries(Object.entries(byServer).map(([name, all]) => [name, medianRound(all)]))
  }
  const machine = `${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, server on CPU ${flags.serverCpu}, generator on CPU ${flags.genCpu}`
  const command = `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim()
  const report = renderReport({ results, params, servers: SERVERS, machine, command, date: new Date().toISOString() })
  process.stdout.write(report + '\n')
  const dir = join(here, 'results')
  mkdirSync(dir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const json = JSON.stringify({ date: new Date().toISOString(), machine, command, params, results }, null, 2)
  writeFileSync(join(dir, `bench-${stamp}.json`), json)
  writeFileSync(join(dir, `bench-${stamp}.md`), report + '\n')
  writeFileSync(join(dir, 'latest.json'), json)
  writeFileSync(join(dir, 'latest.md'), report + '\n')
  process.stderr.write(`written to bench/results/bench-${stamp}.{md,json}\n`)
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
