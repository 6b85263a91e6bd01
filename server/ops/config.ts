// The one table of options. Each option is a CLI flag and a CONCORD_* environment variable,
// parsed and validated here with a message that names the option and what it accepts.
// The CLI's --help and the README's configuration table are printed from this table.

/// Raised for a bad option value; the CLI prints it and exits with code 2.
export class ConfigError extends Error {
  override name = 'ConfigError'
}

type Parser<T> = (raw: string, name: string) => T

const int = (min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> => (raw, name) => {
  const n = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return n
}

const text: Parser<string> = (raw, name) => {
  if (raw.length === 0) throw new ConfigError(`${name}: must not be empty`)
  return raw
}

const optionalText: Parser<string | null> = (raw) => (raw === '' ? null : raw)

const bool: Parser<boolean> = (raw, name) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(raw)}`)
}

const storageUrl: Parser<string> = (raw, name) => {
  if (raw === 'memory' || /^sqlite:.+/.test(raw) || /^postgres(ql)?:\/\/.+/.test(raw)) return raw
  throw new ConfigError(
    `${name}: expected memory, sqlite:PATH or postgres://USER@HOST/DB, got ${JSON.stringify(raw)}`,
  )
}

const redisUrl: Parser<string | null> = (raw, name) => {
  if (raw === '') return null
  if (/^rediss?:\/\/.+/.test(raw)) return raw
  throw new ConfigError(`${name}: expected redis://HOST:PORT, got ${JSON.stringify(raw)}`)
}

const httpUrl: Parser<string | null> = (raw, name) => {
  if (raw === '') return null
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError(`${name}: expected an http:// or https:// URL, got ${JSON.stringify(raw)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name}: expected an http:// or https:// URL, got ${JSON.stringify(raw)}`)
  }
  return raw
}

const oneOf = <T extends string>(...values: T[]): Parser<T> => (raw, name) => {
  if ((values as string[]).includes(raw)) return raw as T
  throw new ConfigError(`${name}: expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`)
}

/// `*` (any origin) or a comma-separated list of origins such as `https://notes.example.com`.
const origins: Parser<string[] | null> = (raw, name) => {
  if (raw.trim() === '*') return null
  return raw.split(',').map((o) => o.trim()).filter((o) => o !== '').map((o) => {
    let url: URL
    try { url = new URL(o) } catch { throw new ConfigError(`${name}: ${JSON.stringify(o)} is not an origin like https://example.com`) }
    if (url.origin === 'null' || url.origin !== o.toLowerCase().replace(/\/$/, '')) {
      throw new ConfigError(`${name}: ${JSON.stringify(o)} is not an origin (scheme://host[:port], no path)`)
    }
    return url.origin
  })
}

/// An HS256 secret: RFC 7518 asks for at least as many bytes as the hash (32).
const secret: Parser<string | null> = (raw, name) => {
  if (raw === '') return null
  if (Buffer.byteLength(raw) < 32) throw new ConfigError(`${name}: must be at least 32 bytes long (try \`openssl rand -base64 32\`)`)
  return raw
}

/// One option: its flag, environment variable, default and parser.
export interface OptionSpec<T> {
  flag: string
  env: string
  default: T
  /// Shown in --help and the README.
  description: string
  /// The default as shown in docs, when it is not the literal value.
  shownDefault?: string
  parse: Parser<T>
}

const spec = <T>(flag: string, def: T, description: string, parse: Parser<T>, shownDefault?: string): OptionSpec<T> => ({
  flag,
  env: 'CONCORD_' + flag.toUpperCase().replace(/-/g, '_'),
  default: def,
  description,
  parse,
  shownDefault,
})

const MiB = 1024 * 1024

/// Every option of the server, in --help order.
export const optionTable = {
  host: spec('host', '127.0.0.1', 'Interface to listen on (0.0.0.0 for all).', text),
  port: spec('port', 1234, 'TCP port (0 picks a free one).', int(0, 65535)),
  storage: spec('storage', 'sqlite:./data/concord.db', 'Where documents live: sqlite:PATH (embedded; folders are created), postgres://USER@HOST/DB (several instances), or memory (lost on restart; a room is stored as one snapshot when it unloads).', storageUrl),
  maxMessageBytes: spec('max-message-bytes', 32 * MiB, 'Largest accepted WebSocket message; larger closes with 1009.', int(1024), '33554432 (32 MiB)'),
  maxBufferedBytes: spec('max-buffered-bytes', 64 * MiB, 'Unsent bytes a connection may accumulate before it is closed as a slow consumer (1013).', int(1024), '67108864 (64 MiB)'),
  maxQueuedBytes: spec('max-queued-bytes', 4 * MiB, 'Bytes a client may send while its room is still loading; more closes with 1013.', int(1024), '4194304 (4 MiB)'),
  keepaliveMs: spec('keepalive-ms', 15_000, 'Send a keepalive frame to a connection that was sent nothing for this long.', int(100)),
  pingIntervalMs: spec('ping-interval-ms', 30_000, 'WebSocket ping interval; a peer that misses a pong is dropped.', int(100)),
  unloadAfterMs: spec('unload-after-ms', 30_000, 'Keep a room loaded this long after its last client left.', int(0)),
  sleepAfterMs: spec('sleep-after-ms', 30_000, "A room's document loads as the encoded updates storage holds (a Y.Doc takes 5-35 times their size) and is built when an edit or a returning client needs it; it goes back to that form after this long without a change. 0: a Y.Doc always. Not with --redis.", int(0)),
  commitDelayMs: spec('commit-delay-ms', 5, 'Gather updates this long before one storage commit (group commit: one fsync for many updates). Broadcasts never wait; write acknowledgements do. 0 commits every event-loop turn. Memory storage needs no commit.', int(0, 1000)),
  compactAfterUpdates: spec('compact-after-updates', 500, "Fold a room's update log into one snapshot once it holds this many updates (up to a quarter more, drawn per room, so rooms do not all compact at once).", int(1)),
  compactAfterBytes: spec('compact-after-bytes', 4 * MiB, "Fold a room's update log into one snapshot once it holds this many bytes (up to a quarter more, drawn per room).", int(1), '4194304 (4 MiB)'),
  versionAfterQuietMs: spec('version-after-quiet-ms', 60_000, 'Keep a version of a room once it has been quiet this long after changes (0: versions only on request).', int(0)),
  versionEveryMs: spec('version-every-ms', 600_000, 'While changes go on, keep a version of a room at least this often.', int(1000)),
  versionRetentionDays: spec('version-retention-days', 90, 'Drop automatic versions older than this many days (0: keep them whatever their age). Named versions stay until the room is deleted.', int(0)),
  maxVersions: spec('max-versions', 200, 'Keep at most this many automatic versions per room, dropping the oldest.', int(1)),
  initialContent: spec('initial-content', null as string | null, 'A UTF-8 text file every new (empty) room starts with, applied once even when joins or instances race. Use the same file on every instance.', optionalText, '(none)'),
  initialContentField: spec('initial-content-field', 'codemirror', 'The Y.Text that --initial-content fills (the editor uses codemirror).', text),
  shutdownTimeoutMs: spec('shutdown-timeout-ms', 10_000, 'On SIGTERM/SIGINT, give up flushing after this long and exit with code 1.', int(100)),
  logLevel: spec('log-level', 'info' as 'debug' | 'info' | 'warn' | 'error' | 'silent', 'Log level: debug, info, warn, error or silent.', oneOf('debug', 'info', 'warn', 'error', 'silent')),
  editor: spec('editor', true, 'Serve the collaborative editor at / (built into dist/editor).', bool),
  publicDir: spec('public-dir', null as string | null, 'Serve the editor from this folder instead of the built one.', optionalText, '(built editor)'),
  metrics: spec('metrics', true, 'Collect metrics and serve them at /metrics (Prometheus text format).', bool),
  api: spec('api', true, 'Serve the HTTP API for documents at /api/ (token-protected when auth is on).', bool),
  textName: spec('text-name', 'codemirror', 'Name of the shared Y.Text that GET /api/rooms/<room>/text returns.', text),
  readyTimeoutMs: spec('ready-timeout-ms', 2000, 'Time limit of each /readyz check (storage, Redis).', int(1, 60_000)),
  webhookUrl: spec('webhook-url', null as string | null, 'POST {"room"} here (debounced) when a document changed.', httpUrl, '(off)'),
  webhookSecret: spec('webhook-secret', null as string | null, 'HMAC-SHA256 key signing webhook bodies (X-Concord-Signature); required with --webhook-url.', optionalText, '(none)'),
  webhookDebounceMs: spec('webhook-debounce-ms', 2000, 'Wait this long after a room\'s last change before calling the webhook (at most 10× this while edits continue).', int(0, 3_600_000)),
  authSecret: spec('auth-secret', null as string | null, 'HS256 secret (32+ bytes): every connection must bring a JWT signed with it (?token= or subprotocol).', secret, '(none: no auth)'),
  authPublicKey: spec('auth-public-key', null as string | null, 'PEM public key file (RSA, EC or Ed25519): every connection must bring a JWT signed by its private key.', optionalText, '(none)'),
  allowedOrigins: spec('allowed-origins', null as string[] | null, 'Origins browsers may connect from, comma-separated, or * for any; others get 403.', origins, '*'),
  trustProxy: spec('trust-proxy', false, 'Take the client IP from the last X-Forwarded-For entry (only behind a reverse proxy).', bool),
  maxConnectionsPerIp: spec('max-connections-per-ip', 200, 'Open connections one IP address may hold; more get 429 (0: no limit).', int(0)),
  maxConnectionsPerRoom: spec('max-connections-per-room', 500, 'Open connections one room may hold; more get 429 (0: no limit).', int(0)),
  maxRooms: spec('max-rooms', 10_000, 'Rooms loaded at once; a connection to another room gets 503 (0: no limit).', int(0)),
  maxPendingUpgrades: spec('max-pending-upgrades', 1000, 'Upgrades waiting for authentication at once; more get 503.', int(1)),
  apiRequestsPerSecond: spec('api-requests-per-second', 50, 'Sustained HTTP API requests per second per IP address (token bucket); more get 429 with Retry-After (0: no limit).', int(0)),
  apiRequestBurst: spec('api-request-burst', 100, 'HTTP API requests an IP address may make at once above the sustained rate.', int(1)),
  maxHttpRequestsPerIp: spec('max-http-requests-per-ip', 16, 'Plain HTTP requests (API, health, metrics, editor files) one IP address may have in progress at once; more get 429 (0: no limit). WebSockets count under --max-connections-per-ip.', int(0)),
  requestTimeoutMs: spec('request-timeout-ms', 10_000, 'Time a client has to send a whole HTTP request, headers and body; a slower one gets 408 and its connection is closed.', int(100, 3_600_000)),
  messagesPerSecond: spec('messages-per-second', 100, 'Sustained messages per second per connection (token bucket); a faster client is slowed down, not dropped (0: no limit).', int(0)),
  messageBurst: spec('message-burst', 300, 'Messages a connection may send at once above the sustained rate; one frame holding more closes with 4429.', int(1)),
  readOnlyAwareness: spec('read-only-awareness', true, 'Whether read-only connections may share awareness (cursor, name) with the room.', bool),
  maxAwarenessClients: spec('max-awareness-clients', 64, 'Awareness client ids one connection may hold in its room (a browser tab has one); a message announcing more closes it with 4400. They are removed when it leaves.', int(1)),
  maxIncompleteBytes: spec('max-incomplete-bytes', 256 * MiB, 'Bytes held at once, over all connections, in WebSocket messages and HTTP request bodies still arriving; the connection that would pass it is closed with 1013 (a request gets 503).', int(1024), '268435456 (256 MiB)'),
  messageTimeoutMs: spec('message-timeout-ms', 60_000, 'A message must arrive whole within this long of its first byte; a connection still sending one is closed with 4408.', int(100)),
  maxPendingBytes: spec('max-pending-bytes', 1 * MiB, 'Bytes of updates with missing dependencies a room holds until what they build on arrives; an update that would pass it is refused and its sender closed with 1013 (it reconnects and syncs in order).', int(0), '1048576 (1 MiB)'),
  tlsCert: spec('tls-cert', null as string | null, 'PEM certificate chain file: serve https:// and wss:// (needs --tls-key).', optionalText, '(none)'),
  tlsKey: spec('tls-key', null as string | null, 'PEM private key file for --tls-cert.', optionalText, '(none)'),
  redis: spec('redis', null as string | null, 'Join a cluster through this Redis (redis://HOST:PORT): instances with the same Redis and prefix serve rooms together.', redisUrl, '(none)'),
  redisPrefix: spec('redis-prefix', 'concord:', 'Prefix of the Redis channels, so several clusters can share one Redis.', text),
  clusterSyncMs: spec('cluster-sync-ms', 5_000, 'How often instances compare each shared room to repair messages Redis dropped.', int(50)),
  clusterHeartbeatMs: spec('cluster-heartbeat-ms', 2_000, 'Instance heartbeat interval; an instance silent for 3 intervals is dead and its users\' cursors are removed.', int(50)),
  workers: spec('workers', 1, 'Run this many processes sharing the port, wired through --redis (needs shared storage).', int(1, 1024)),
} satisfies Record<string, OptionSpec<unknown>>

/// Names of the options.
export type OptionName = keyof typeof optionTable

/// Resolved configuration: one value per option.
export type Config = { [K in OptionName]: (typeof optionTable)[K]['default'] }

/// The defaults of every option.
export function defaultConfig(): Config {
  const out: Record<string, unknown> = {}
  for (const [key, s] of Object.entries(optionTable)) out[key] = s.default
  return out as Config
}

/// Resolve options: defaults, then environment, then CLI flags (`--name value` or
/// `--name=value`). Throws `ConfigError` for unknown flags or bad values.
export function resolveConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  const config: Record<string, unknown> = { ...defaultConfig() }
  const byFlag = new Map<string, [string, OptionSpec<unknown>]>()
  for (const [key, s] of Object.entries(optionTable) as Array<[string, OptionSpec<unknown>]>) {
    byFlag.set(s.flag, [key, s])
    const raw = env[s.env]
    if (raw !== undefined) config[key] = s.parse(raw, s.env)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg)
    if (!m) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see --help)`)
    const entry = byFlag.get(m[1])
    if (!entry) throw new ConfigError(`unknown option --${m[1]} (see --help)`)
    const [key, s] = entry
    let raw = m[2]
    if (raw === undefined) {
      const next = argv[i + 1]
      if (s.parse === (bool as Parser<unknown>) && (next === undefined || next.startsWith('--'))) raw = 'true'
      else if (next === undefined) throw new ConfigError(`--${s.flag}: missing value`)
      else raw = argv[++i]
    }
    config[key] = s.parse(raw, `--${s.flag}`)
  }
  if (config.webhookUrl !== null && config.webhookSecret === null) {
    throw new ConfigError('--webhook-secret (CONCORD_WEBHOOK_SECRET) is required with --webhook-url: webhook bodies are signed')
  }
  return config as Config
}

/// The options as a table: for --help (plain) and the README (markdown).
export function formatOptions(markdown: boolean): string {
  const rows = (Object.values(optionTable) as Array<OptionSpec<unknown>>).map((s) => ({
    flag: `--${s.flag}`,
    env: s.env,
    def: s.shownDefault ?? String(s.default),
    description: s.description,
  }))
  if (markdown) {
    return ['| flag | environment | default | meaning |', '|---|---|---|---|']
      .concat(rows.map((r) => `| \`${r.flag}\` | \`${r.env}\` | \`${r.def}\` | ${r.description} |`))
      .join('\n')
  }
  return rows.map((r) => `  ${r.flag.padEnd(22)} ${r.env.padEnd(30)} default ${r.def}\n      ${r.description}`).join('\n')
}
