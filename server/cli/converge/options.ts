// `concord converge` options: one table gives each flag its default, parser and help line,
// so parsing, --help and the replay command cannot disagree.
import { parseShapes, SHAPES, type Shape } from './shapes.js'

/// Raised for bad arguments; the command prints it and exits with code 2.
export class UsageError extends Error {
  override name = 'UsageError'
}

/// Everything a run needs to know.
export interface ConvergeOptions {
  /// ws:// URL of the server; derived from the port when `spawn` is set.
  url: string | null
  /// Command that starts the server; `{port}` is replaced and PORT/CONCORD_PORT are set.
  spawn: string | null
  /// Port for the spawned server (0 picks a free one).
  port: number
  clients: number
  rooms: number
  seconds: number
  seed: string
  json: boolean
  quiet: boolean
  /// Connect straight to the server, without the fault-injecting proxy.
  direct: boolean
  /// Report echoes without failing the run (for servers known to echo).
  allowEcho: boolean
  /// Mean edits per second of a typing client.
  editRate: number
  /// Largest delay the proxy adds to a chunk, in ms (each direction).
  latency: number
  /// Proxy stalls per connection per minute, and the longest stall in ms.
  stalls: number
  stallMs: number
  /// Proxy connection resets per connection per minute.
  resets: number
  /// Clean client disconnects (edit offline, come back) per client per minute, and the
  /// longest time offline in ms.
  disconnects: number
  offlineMs: number
  /// Server restarts (SIGTERM) and SIGKILLs per run; only with `spawn`.
  restarts: number
  kills: number
  /// How long to wait for replicas to settle at the end, in seconds.
  settle: number
  /// Sent as `?token=…` with every WebSocket and HTTP request (servers with token auth).
  token: string | null
  /// Room names are `<prefix>-<n>`; by default unique per run, so a replay never reuses a
  /// persistent server's old documents.
  roomPrefix: string | null
  /// The kinds of shared content the clients edit and the checks compare (see `SHAPES`).
  types: Shape[]
}

type Kind = 'int' | 'number' | 'string' | 'bool' | 'shapes'

interface Flag {
  key: keyof ConvergeOptions
  flag: string
  kind: Kind
  arg?: string
  help: string
  min?: number
  max?: number
}

const flags: Flag[] = [
  { key: 'url', flag: 'url', kind: 'string', arg: 'URL', help: 'Server to test, ws://HOST:PORT[/PATH]; a room\'s URL is URL/ROOM, as with y-websocket.' },
  { key: 'spawn', flag: 'spawn', kind: 'string', arg: 'CMD', help: 'Start the server with this shell command; {port} and $PORT give its port. Enables restarts and kills.' },
  { key: 'port', flag: 'port', kind: 'int', arg: 'N', min: 0, max: 65535, help: 'Port for --spawn (0: a free one).' },
  { key: 'clients', flag: 'clients', kind: 'int', arg: 'N', min: 1, max: 10_000, help: 'Simulated clients, spread over the rooms.' },
  { key: 'rooms', flag: 'rooms', kind: 'int', arg: 'N', min: 1, max: 1000, help: 'Rooms (documents).' },
  { key: 'seconds', flag: 'seconds', kind: 'number', arg: 'S', min: 0, help: 'Length of the editing phase.' },
  { key: 'seed', flag: 'seed', kind: 'string', arg: 'SEED', help: 'Seed of edit scripts and fault schedules (default: random, printed).' },
  { key: 'json', flag: 'json', kind: 'bool', help: 'Write the report as JSON to stdout.' },
  { key: 'quiet', flag: 'quiet', kind: 'bool', help: 'No progress line.' },
  { key: 'editRate', flag: 'edit-rate', kind: 'number', arg: 'N', min: 0.01, help: 'Mean edits per second of a typing client (bursts are faster, pauses slower).' },
  { key: 'direct', flag: 'direct', kind: 'bool', help: 'Connect directly, without the fault-injecting proxy (no latency, stalls, resets).' },
  { key: 'latency', flag: 'latency', kind: 'int', arg: 'MS', min: 0, help: 'Proxy: largest random delay added to each chunk, per direction (order is kept).' },
  { key: 'stalls', flag: 'stalls', kind: 'number', arg: 'N', min: 0, help: 'Proxy: stalls per connection per minute.' },
  { key: 'stallMs', flag: 'stall-ms', kind: 'int', arg: 'MS', min: 1, help: 'Proxy: longest stall.' },
  { key: 'resets', flag: 'resets', kind: 'number', arg: 'N', min: 0, help: 'Proxy: connection resets per connection per minute.' },
  { key: 'disconnects', flag: 'disconnects', kind: 'number', arg: 'N', min: 0, help: 'Client disconnects per client per minute (it keeps editing offline).' },
  { key: 'offlineMs', flag: 'offline-ms', kind: 'int', arg: 'MS', min: 1, help: 'Longest time a client stays offline.' },
  { key: 'restarts', flag: 'restarts', kind: 'int', arg: 'N', min: 0, help: 'Server restarts (SIGTERM, then start again) per run; needs --spawn.' },
  { key: 'kills', flag: 'kills', kind: 'int', arg: 'N', min: 0, help: 'Server SIGKILLs (then start again) per run; needs --spawn.' },
  { key: 'settle', flag: 'settle', kind: 'number', arg: 'S', min: 1, help: 'How long to wait for the first sync, and for replicas to settle before judging.' },
  { key: 'allowEcho', flag: 'allow-echo', kind: 'bool', help: 'Report echoed updates but do not fail on them.' },
  { key: 'token', flag: 'token', kind: 'string', arg: 'T', help: 'Token for servers with auth, sent as ?token=T (it must grant write access to the rooms).' },
  { key: 'roomPrefix', flag: 'room-prefix', kind: 'string', arg: 'P', help: 'Room names are P-0, P-1, … (default: unique per run).' },
  { key: 'types', flag: 'types', kind: 'shapes', arg: 'LIST', help: `Shared types to edit and compare, comma-separated: ${SHAPES.join(', ')}; or all.` },
]

/// Defaults of every option (the seed is drawn per run).
export function defaultOptions(): ConvergeOptions {
  return {
    url: null, spawn: null, port: 0, clients: 8, rooms: 2, seconds: 30, seed: '', json: false, quiet: false,
    direct: false, allowEcho: false, editRate: 5, latency: 30, stalls: 2, stallMs: 1500, resets: 1,
    disconnects: 1, offlineMs: 3000, restarts: 1, kills: 1, settle: 20, token: null, roomPrefix: null,
    types: [...SHAPES],
  }
}

/// An option's value as written on the command line (lists comma-joined).
function shown(v: unknown): string {
  return Array.isArray(v) ? v.join(',') : String(v)
}

/// Whether a value is its option's default (lists compare element by element, in order:
/// the order of `--types` changes which shape a seeded step picks).
function isDefault(v: unknown, d: unknown): boolean {
  return Array.isArray(v) && Array.isArray(d) ? shown(v) === shown(d) : v === d
}

function parseValue(f: Flag, raw: string): string | number | boolean | Shape[] {
  const name = `--${f.flag}`
  if (f.kind === 'shapes') {
    try {
      return parseShapes(raw)
    } catch (error) {
      throw new UsageError(`${name}: ${(error as Error).message}`) // it names the bad entry
    }
  }
  if (f.kind === 'string') {
    if (raw === '') throw new UsageError(`${name}: must not be empty`)
    return raw
  }
  if (f.kind === 'bool') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true
    if (/^(0|false|no|off)$/i.test(raw)) return false
    throw new UsageError(`${name}: expected true or false, got ${JSON.stringify(raw)}`)
  }
  const n = Number(raw)
  const ok = raw.trim() !== '' && Number.isFinite(n) && (f.kind === 'number' || Number.isSafeInteger(n))
  const min = f.min ?? -Infinity
  const max = f.max ?? Infinity
  if (!ok || n < min || n > max) {
    const range = f.max === undefined ? `at least ${min}` : `from ${min} to ${max}`
    throw new UsageError(`${name}: expected ${f.kind === 'int' ? 'an integer' : 'a number'} ${range}, got ${JSON.stringify(raw)}`)
  }
  return n
}

/// Parse `concord converge` arguments (`--name value` or `--name=value`). Throws
/// `UsageError` with a message naming the bad flag.
export function parseOptions(argv: readonly string[], randomSeed: () => string): ConvergeOptions {
  const options = defaultOptions() as unknown as Record<string, unknown>
  const given = new Set<string>()
  const byFlag = new Map(flags.map((f) => [f.flag, f]))
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(argv[i])
    if (!m) throw new UsageError(`unexpected argument ${JSON.stringify(argv[i])} (see concord converge --help)`)
    const f = byFlag.get(m[1])
    if (!f) throw new UsageError(`unknown option --${m[1]} (see concord converge --help)`)
    let raw = m[2]
    if (raw === undefined) {
      const next = argv[i + 1]
      if (f.kind === 'bool' && (next === undefined || next.startsWith('--'))) raw = 'true'
      else if (next === undefined) throw new UsageError(`--${f.flag}: missing value`)
      else raw = argv[++i]
    }
    options[f.key] = parseValue(f, raw)
    given.add(f.key)
  }
  const o = options as unknown as ConvergeOptions
  if (!o.url && !o.spawn) throw new UsageError('give the server to test: --url ws://HOST:PORT, or --spawn "<command>"')
  if (o.url && o.spawn) throw new UsageError('--url and --spawn exclude each other (with --spawn the URL is ws://127.0.0.1:<port>)')
  if (o.url && !/^wss?:\/\/[^/?#]+(\/[^?#]*)?$/.test(o.url)) throw new UsageError(`--url: expected ws://HOST:PORT or ws://HOST:PORT/PATH (wss:// too), got ${JSON.stringify(o.url)}`)
  if (o.url?.startsWith('wss:') && !o.direct) throw new UsageError('--url wss://…: the fault proxy speaks plain TCP to ws:// only; add --direct')
  if (!o.spawn) {
    if (given.has('restarts') && o.restarts > 0) throw new UsageError('--restarts needs --spawn (the tool can only restart a server it started)')
    if (given.has('kills') && o.kills > 0) throw new UsageError('--kills needs --spawn (the tool can only kill a server it started)')
    o.restarts = 0
    o.kills = 0
  }
  if (o.rooms > o.clients) throw new UsageError(`--rooms ${o.rooms} is more than --clients ${o.clients}: every room needs a client`)
  if (!o.seed) o.seed = randomSeed()
  if (o.url) o.url = o.url.replace(/\/$/, '')
  return o
}

/// The shortest command that replays this run: the seed plus every option that differs
/// from its default.
export function replayCommand(o: ConvergeOptions): string {
  const defaults = defaultOptions() as unknown as Record<string, unknown>
  const values = o as unknown as Record<string, unknown>
  const parts = ['npx concord converge']
  for (const f of flags) {
    if (f.key === 'json' || f.key === 'quiet' || f.key === 'roomPrefix') continue
    const v = values[f.key]
    if (f.key !== 'seed' && isDefault(v, defaults[f.key])) continue
    if (f.key !== 'seed' && !o.spawn && (f.key === 'restarts' || f.key === 'kills' || f.key === 'port')) continue
    if (f.key === 'token') parts.push('--token "$TOKEN"') // never print a secret
    else if (f.kind === 'bool') parts.push(`--${f.flag}`)
    else parts.push(`--${f.flag} ${shellQuote(shown(v))}`)
  }
  return parts.join(' ')
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

/// The --help text.
export function helpText(): string {
  const d = defaultOptions() as unknown as Record<string, unknown>
  const lines = flags.map((f) => {
    const left = `  --${f.flag}${f.arg ? ' ' + f.arg : ''}`
    const def = d[f.key]
    const all = isDefault(def, SHAPES)
    const dflt = all ? ' (default all)' : def === null || def === '' || def === false ? '' : ` (default ${shown(def)})`
    return `${left.padEnd(24)} ${f.help}${dflt}`
  })
  return `Usage: concord converge (--url ws://HOST:PORT | --spawn "<command>") [options]

Runs seeded random editing sessions over many clients: inserts and deletes of text with
multi-byte characters and emoji; formatted text with embeds, XML fragments as rich-text
editors write them, maps, arrays, nested types and subdocuments (--types chooses); undo and
redo, bursts and pauses, awareness. Injects faults (latency, stalls and resets in a proxy;
disconnects with offline edits; with --spawn, server restarts and SIGKILLs), waits for
quiescence and checks that every replica converged (every chosen type, and the same items
and deletions), that nothing typed is missing or doubled, that no update came back to its
sender, and that the stored document (GET /api/rooms/<room>/update, when the server has it)
equals the replicas. Works against any server speaking the y-websocket protocol.

Exit status: 0 converged, 1 divergence (or echo), 2 bad arguments or the server never came up.

Options:
${lines.join('\n')}
`
}
