// A fault-injecting TCP proxy between the simulated clients and the server. It works below
// the WebSocket layer, so it suits any server: it delays chunks (keeping their order),
// stalls connections in both directions, and cuts them.
import net from 'node:net'
import type { Random } from './random.js'

/// Fault settings of the proxy.
export interface ProxyOptions {
  targetHost: string
  targetPort: number
  rng: Random
  /// Largest random delay added to a chunk, in ms.
  latency: number
  /// Stalls per connection per minute, and the longest stall in ms.
  stallsPerMinute: number
  stallMs: number
  /// Resets per connection per minute.
  resetsPerMinute: number
}

/// A running proxy.
export interface FaultProxy {
  readonly port: number
  /// Faults injected so far, and connections accepted.
  readonly counts: { stalls: number; resets: number; connections: number }
  /// Turn stalls and resets on or off (latency stays); off also ends current stalls.
  setFaults(on: boolean): void
  close(): Promise<void>
}

// One direction of a proxied connection: chunks wait until their delivery time, in order.
interface Lane {
  from: net.Socket
  to: net.Socket
  queue: Array<{ at: number; chunk: Buffer }>
  lastAt: number
  timer: NodeJS.Timeout | null
  /// The sending side finished cleanly: end the receiving side once the queue is empty.
  ended: boolean
}

interface ProxiedConnection {
  startFaults(): void
  stopFaults(): void
  destroy(): void
}

/// Start a proxy on 127.0.0.1 (a free port) forwarding to the target.
export async function startFaultProxy(options: ProxyOptions): Promise<FaultProxy> {
  const counts = { stalls: 0, resets: 0, connections: 0 }
  const live = new Set<ProxiedConnection>()
  let faultsOn = true

  const server = net.createServer((client) => {
    counts.connections++
    const conn = proxy(client, options, options.rng.fork(`connection ${counts.connections}`), counts, () => live.delete(conn))
    live.add(conn)
    if (faultsOn) conn.startFaults()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })

  return {
    port: (server.address() as net.AddressInfo).port,
    counts,
    setFaults(on) {
      if (on === faultsOn) return
      faultsOn = on
      for (const c of live) on ? c.startFaults() : c.stopFaults()
    },
    close() {
      for (const c of [...live]) c.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

function proxy(
  client: net.Socket, options: ProxyOptions, rng: Random, counts: FaultProxy['counts'], forget: () => void,
): ProxiedConnection {
  const upstream = net.connect(options.targetPort, options.targetHost)
  client.setNoDelay(true)
  upstream.setNoDelay(true)
  let stalledUntil = 0
  let stallTimer: NodeJS.Timeout | null = null
  let resetTimer: NodeJS.Timeout | null = null
  let destroyed = false

  const pump = (l: Lane): void => {
    if (l.timer) clearTimeout(l.timer)
    l.timer = null
    const now = Date.now()
    while (l.queue.length && l.queue[0].at <= now && stalledUntil <= now) {
      const { chunk } = l.queue.shift()!
      if (l.to.destroyed) continue
      if (!l.to.write(chunk)) {
        l.from.pause()
        l.to.once('drain', () => l.from.resume())
      }
    }
    if (l.queue.length) {
      l.timer = setTimeout(() => pump(l), Math.max(1, Math.max(l.queue[0].at, stalledUntil) - now))
    } else if (l.ended && !l.to.destroyed) {
      l.to.end()
    }
  }

  const lane = (from: net.Socket, to: net.Socket): Lane => {
    const l: Lane = { from, to, queue: [], lastAt: 0, timer: null, ended: false }
    from.on('data', (chunk: Buffer) => {
      // Delivery times never decrease, so the byte stream keeps its order.
      const at = Math.max(l.lastAt, Date.now() + (options.latency > 0 ? rng.int(0, options.latency) : 0))
      l.lastAt = at
      l.queue.push({ at, chunk })
      if (!l.timer) l.timer = setTimeout(() => pump(l), Math.max(0, at - Date.now()))
    })
    from.on('end', () => {
      l.ended = true
      if (!l.timer) pump(l)
    })
    return l
  }
  const lanes = [lane(client, upstream), lane(upstream, client)]

  function scheduleStall(): void {
    const wait = rng.waitMs(options.stallsPerMinute)
    if (!Number.isFinite(wait)) return
    stallTimer = setTimeout(() => {
      counts.stalls++
      stalledUntil = Date.now() + rng.int(Math.ceil(options.stallMs / 10), options.stallMs)
      for (const l of lanes) pump(l) // re-arms each lane's timer for the end of the stall
      scheduleStall()
    }, wait)
  }
  function scheduleReset(): void {
    const wait = rng.waitMs(options.resetsPerMinute)
    if (!Number.isFinite(wait)) return
    resetTimer = setTimeout(() => {
      counts.resets++
      destroy()
    }, wait)
  }
  function stopFaults(): void {
    if (stallTimer) clearTimeout(stallTimer)
    if (resetTimer) clearTimeout(resetTimer)
    stallTimer = resetTimer = null
    stalledUntil = 0
    for (const l of lanes) if (l.queue.length) pump(l)
  }
  function destroy(): void {
    if (destroyed) return
    destroyed = true
    stopFaults()
    for (const l of lanes) if (l.timer) clearTimeout(l.timer)
    forget()
    // Cut both sides without a WebSocket closing handshake: each peer sees an abnormal
    // close (1006), as with a dropped network. (Not resetAndDestroy: on Node 20 it can leave
    // the process spinning at exit.)
    client.destroy()
    upstream.destroy()
  }
  for (const s of [client, upstream]) {
    s.on('error', destroy)
    s.on('close', () => {
      // One side closed: the other side still gets what is queued for it, then ends.
      const toOther = lanes.find((l) => l.from === s)!
      toOther.ended = true
      if (!toOther.timer) pump(toOther)
      if (client.destroyed && upstream.destroyed) destroy()
    })
  }
  return { startFaults: () => { scheduleStall(); scheduleReset() }, stopFaults, destroy }
}
