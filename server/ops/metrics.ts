// Prometheus metrics. Each server has its own registry, so several servers in one process
// (tests, embedders) never collide; process-wide figures (CPU, memory, GC, event-loop lag)
// live in one registry shared by the process, since there is one of each per process.
//
// Hot paths (every frame in and out, every applied update) only bump numbers in typed
// arrays; prom-client reads them when /metrics is scraped. No allocation per message.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client'

/// Message kinds counted in and out, by a frame's first message (y-websocket frames hold one).
export const messageKinds = [
  'sync_step1', 'sync_step2', 'update', 'awareness', 'auth', 'query_awareness', 'ack', 'other',
] as const

/// A message kind label.
export type MessageKind = (typeof messageKinds)[number]

const KIND_OTHER = messageKinds.length - 1

/// Index into `messageKinds` of a frame's first message, read from its first bytes only.
export function kindOf(frame: Uint8Array): number {
  switch (frame[0]) {
    case 0: {
      const sub = frame[1]
      return sub === 0 ? 0 : sub === 1 ? 1 : sub === 2 ? 2 : KIND_OTHER
    }
    case 1: return 3
    case 2: return 4
    case 3: return 5
    case 100: return 6
    default: return KIND_OTHER
  }
}

/// Frame counts and bytes by kind, in and out. Shared by every connection of a server.
export class Traffic {
  readonly messagesIn = new Float64Array(messageKinds.length)
  readonly bytesIn = new Float64Array(messageKinds.length)
  readonly messagesOut = new Float64Array(messageKinds.length)
  readonly bytesOut = new Float64Array(messageKinds.length)

  /// Count a frame received from a client.
  received(frame: Uint8Array): void {
    const k = kindOf(frame)
    this.messagesIn[k]++
    this.bytesIn[k] += frame.length
  }

  /// Count a frame sent to a client.
  sent(frame: Uint8Array): void {
    const k = kindOf(frame)
    this.messagesOut[k]++
    this.bytesOut[k] += frame.length
  }
}

/// Upper bounds (seconds) of the update-apply histogram: applying one update takes µs.
const APPLY_BUCKETS = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5]
/// Upper bounds (seconds) for storage and load timings.
const IO_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/// A histogram recorded into fixed arrays (no allocation per observation), exported in
/// the Prometheus histogram format through prom-client's registry.
class FastHistogram {
  readonly type = 'histogram' as const
  readonly aggregator = 'sum' as const
  private readonly counts: Float64Array
  private sum = 0
  private count = 0

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length)
  }

  observe(seconds: number): void {
    this.sum += seconds
    this.count++
    const bounds = this.bounds
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= bounds[i]) {
        this.counts[i]++
        return
      }
    }
  }

  async get() {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = []
    let cumulative = 0
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]
      values.push({ metricName: `${this.name}_bucket`, labels: { le: this.bounds[i] }, value: cumulative })
    }
    values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: this.count })
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum })
    values.push({ metricName: `${this.name}_count`, labels: {}, value: this.count })
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  reset(): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }
}

/// Live figures the metrics read at scrape time.
export interface MetricSources {
  connections(): number
  roomsLoaded(): number
  /// Loaded rooms whose document is held encoded (see `EncodedDoc`).
  roomsAsleep(): number
}

/// Why a room left memory.
export type UnloadReason = 'idle' | 'failed' | 'deleted'

/// Where an auth refusal happened.
export type RefusalChannel = 'websocket' | 'http'

/// The metrics of one server.
export interface Metrics {
  readonly registry: Registry
  /// Frame counters, handed to every connection.
  readonly traffic: Traffic
  /// A connection was accepted.
  opened(): void
  /// A connection closed with this WebSocket close code.
  closed(code: number): void
  /// Seconds Yjs took to integrate one update, or one batch of held-back plain updates.
  applied(seconds: number): void
  /// Seconds one storage append (one batch) took.
  appended(seconds: number): void
  /// Seconds one compaction took.
  compacted(seconds: number): void
  /// Seconds a room took to load (storage read and restore).
  loaded(seconds: number): void
  /// A room was dropped from memory.
  unloaded(reason: UnloadReason): void
  /// A request was refused for want of a valid token or access (401/403).
  refused(channel: RefusalChannel, status: number): void
  /// The Prometheus text exposition: this server's metrics, then the process's.
  render(): Promise<string>
  /// Prometheus text content type.
  readonly contentType: string
}

let processRegistry: Registry | null = null

/// The process-wide registry of Node's default metrics (created on first use, once).
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/// Create the metrics of one server; `sources` are read at scrape time.
export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry()
  const registers = [registry]
  const traffic = new Traffic()

  // Counters fed from the traffic arrays: rebuilt from the running totals on each scrape.
  const fromArray = (name: string, help: string, values: Float64Array) =>
    new Counter({
      name, help, registers, labelNames: ['type'],
      collect() {
        this.reset()
        for (let k = 0; k < messageKinds.length; k++) this.inc({ type: messageKinds[k] }, values[k])
      },
    })
  fromArray('concord_messages_received_total', 'Frames received from clients, by the type of their first message.', traffic.messagesIn)
  fromArray('concord_received_bytes_total', 'Bytes received from clients, by message type.', traffic.bytesIn)
  fromArray('concord_messages_sent_total', 'Frames sent to clients (one per receiver), by message type.', traffic.messagesOut)
  fromArray('concord_sent_bytes_total', 'Bytes sent to clients, by message type.', traffic.bytesOut)

  new Gauge({
    name: 'concord_connections', help: 'Open WebSocket connections.', registers,
    collect() { this.set(sources.connections()) },
  })
  new Gauge({
    name: 'concord_rooms_loaded', help: 'Rooms held in memory (loaded or loading).', registers,
    collect() { this.set(sources.roomsLoaded()) },
  })
  new Gauge({
    name: 'concord_rooms_asleep', help: 'Loaded rooms holding their document as encoded updates instead of a Y.Doc (--sleep-after-ms).', registers,
    collect() { this.set(sources.roomsAsleep()) },
  })
  const opened = new Counter({ name: 'concord_connections_opened_total', help: 'WebSocket connections accepted.', registers })
  const closes = new Counter({
    name: 'concord_connections_closed_total', help: 'WebSocket connections closed, by close code.', registers, labelNames: ['code'],
  })
  const unloads = new Counter({
    name: 'concord_room_unloads_total', help: 'Rooms dropped from memory: idle (no peers for a while) or failed (storage error).',
    registers, labelNames: ['reason'],
  })
  for (const reason of ['idle', 'failed']) unloads.inc({ reason }, 0)
  const refusals = new Counter({
    name: 'concord_auth_refusals_total', help: 'Requests refused for a missing or bad token (401) or insufficient access (403).',
    registers, labelNames: ['channel', 'status'],
  })
  const apply = new FastHistogram('concord_update_apply_seconds', 'Time Yjs took to integrate one update, or one batch of held-back plain edits, into a room document.', APPLY_BUCKETS)
  registry.registerMetric(apply as unknown as Metric)
  // Observed on every keystroke with the memory store: no label hashing per observation.
  const append = new FastHistogram('concord_storage_append_seconds', 'Time of one storage append (one batch of updates, one transaction).', IO_BUCKETS)
  registry.registerMetric(append as unknown as Metric)
  const compaction = new Histogram({
    name: 'concord_storage_compaction_seconds', help: 'Time of one compaction of a room log into a snapshot.',
    registers, buckets: IO_BUCKETS,
  })
  const load = new Histogram({
    name: 'concord_room_load_seconds', help: 'Time to load a room: storage read and document restore.',
    registers, buckets: IO_BUCKETS,
  })

  return {
    registry,
    traffic,
    opened: () => opened.inc(),
    closed: (code) => closes.inc({ code: String(code) }),
    applied: (seconds) => apply.observe(seconds),
    appended: (seconds) => append.observe(seconds),
    compacted: (seconds) => compaction.observe(seconds),
    loaded: (seconds) => load.observe(seconds),
    unloaded: (reason) => unloads.inc({ reason }),
    refused: (channel, status) => refusals.inc({ channel, status: String(status) }),
    async render() {
      return (await registry.metrics()) + '\n' + (await processMetrics().metrics())
    },
    contentType: registry.contentType,
  }
}
