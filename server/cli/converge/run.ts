// One run of `concord converge`: start (or reach) the server, connect the clients through
// the fault proxy, edit and inject faults for the given time, let everything settle, probe
// for echoes, fetch the stored documents, and judge.
import * as Y from 'yjs'
import { checkRoom, compareToTruth, docFrom, expectedDoc, type Problem, type RoomResult } from './checker.js'
import { SimClient } from './client.js'
import { replayCommand, type ConvergeOptions } from './options.js'
import { createProgress } from './progress.js'
import { startFaultProxy, type FaultProxy } from './proxy.js'
import { createRandom } from './random.js'
import type { ConvergeResult } from './report.js'
import { disconnectLoop, editLoop, serverFaults } from './faults.js'
import { sameHistory, type Shape } from './shapes.js'
import { startSupervisor, type Supervisor } from './supervisor.js'

/// Raised when a run cannot start: no server to talk to, or it never answered.
export class SetupError extends Error {
  override name = 'SetupError'
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)))

/// Where progress goes (stderr), or null for none.
export interface RunIO {
  progress: (NodeJS.WritableStream & { isTTY?: boolean }) | null
}

/// Run the tester with these options and return its findings.
export async function runConverge(o: ConvergeOptions, io: RunIO): Promise<ConvergeResult> {
  const started = Date.now()
  const rng = createRandom(o.seed)
  const clients: SimClient[] = []
  let supervisor: Supervisor | null = null
  let proxy: FaultProxy | null = null
  const faults = { stalls: 0, resets: 0, disconnects: 0, restarts: 0, kills: 0 }
  const progress = io.progress ? createProgress(io.progress) : null
  let ticker: NodeJS.Timeout | null = null
  try {
    if (o.spawn) supervisor = await startSupervisor(o.spawn, o.port)
    const url = supervisor ? `ws://127.0.0.1:${supervisor.port}` : (o.url as string)
    const target = new URL(url)
    const targetPort = Number(target.port || (target.protocol === 'wss:' ? 443 : 80))
    if (!o.direct) {
      proxy = await startFaultProxy({
        targetHost: target.hostname, targetPort, rng: rng.fork('proxy'), latency: o.latency,
        stallsPerMinute: o.stalls, stallMs: o.stallMs, resetsPerMinute: o.resets,
      })
      proxy.setFaults(false) // no faults until everyone has synced once
    }
    const base = proxy ? `ws://127.0.0.1:${proxy.port}${target.pathname.replace(/\/$/, '')}` : url
    const prefix = o.roomPrefix ?? `converge-${o.seed.replace(/[^\w-]/g, '_').slice(0, 40)}-${Date.now().toString(36)}`
    const rooms = Array.from({ length: o.rooms }, (_, i) => `${prefix}-${i}`)
    const query = o.token ? `?token=${encodeURIComponent(o.token)}` : ''
    const ids = new Set<number>()
    const idRng = rng.fork('client ids')
    for (let i = 0; i < o.clients; i++) {
      let id = idRng.int(1, 0x7fffffff)
      while (ids.has(id)) id = idRng.int(1, 0x7fffffff)
      ids.add(id)
      const room = rooms[i % rooms.length]
      clients.push(new SimClient({ name: `c${i}`, room, url: `${base}/${encodeURIComponent(room)}${query}`, clientID: id, rng: rng.fork(`client ${i}`), shapes: o.types }))
    }

    let phase = 'connecting'
    const totalMs = o.seconds * 1000
    let editStart = Date.now()
    const show = () => progress?.show({
      phase, elapsedMs: phase === 'connecting' ? 0 : Math.min(totalMs, Date.now() - editStart), totalMs,
      edits: clients.reduce((n, c) => n + c.stats.edits, 0),
      faults: faults.disconnects + faults.restarts + faults.kills + (proxy ? proxy.counts.stalls + proxy.counts.resets : 0),
      online: clients.filter((c) => c.connected).length, clients: clients.length,
    })
    ticker = setInterval(show, io.progress?.isTTY ? 250 : 1000)

    for (const c of clients) c.goOnline()
    if (!(await waitUntil(() => clients.every((c) => c.synced), o.settle * 1000))) {
      const n = clients.filter((c) => !c.synced).length
      const errors = [...new Set(clients.map((c) => c.lastError).filter((e) => e !== null))]
      const why = errors.length ? ` (${errors.slice(0, 3).join('; ')})` : ''
      throw new SetupError(`${n} of ${clients.length} clients could not sync with ${url} within ${o.settle} s${why}: is a y-websocket-protocol server listening there, and does it need --token?`)
    }

    // Editing phase: scripts, client disconnects, proxy faults, server restarts and kills.
    phase = 'editing'
    editStart = Date.now()
    const endAt = editStart + totalMs
    proxy?.setFaults(true)
    const work: Array<Promise<void>> = []
    clients.forEach((c, i) => {
      work.push(editLoop(c, rng.fork(`script ${i}`), o.editRate, endAt))
      work.push(disconnectLoop(c, rng.fork(`disconnects ${i}`), o, endAt, faults))
    })
    if (supervisor) work.push(serverFaults(supervisor, rng.fork('server'), o, editStart, faults))
    await Promise.all(work)

    // Settle: faults off, everyone back online, the server up, then wait for quiescence.
    phase = 'settling'
    proxy?.setFaults(false)
    if (supervisor) await supervisor.ensureRunning()
    for (const c of clients) c.goOnline()
    const settleStart = Date.now()
    const settled = await settle(clients, o, settleStart + o.settle * 1000, true)
    const settleMs = Date.now() - settleStart

    // Echo probe: in a quiet window every client appends a marker; any update carrying a
    // client's own marker back to it is an echo. A room where a client reconnected during
    // the window is inconclusive (its peers' sync replies may legitimately resend content).
    phase = 'probing'
    const connectsBefore = clients.map((c) => c.stats.connects)
    for (const c of clients) c.probe()
    await settle(clients, o, Date.now() + o.settle * 1000, false)
    for (const c of clients) c.endProbe()
    const disturbed = new Set(clients.filter((c, i) => c.stats.connects !== connectsBefore[i] || !c.connected).map((c) => c.options.room))

    phase = 'checking'
    show()
    const httpBase = `${target.protocol === 'wss:' ? 'https' : 'http'}://${target.host}`
    const notes: string[] = []
    const results: RoomResult[] = await Promise.all(rooms.map(async (room) => {
      const members = clients.filter((c) => c.options.room === room)
      const authored = members.flatMap((c) => c.authored)
      const journaled = members.flatMap((c) => c.journaled)
      const names = new Map(members.map((c) => [c.doc.clientID, c.name]))
      const stored = await fetchStored(httpBase, room, query, { authored, journaled, names, shapes: o.types }, notes)
      return checkRoom({
        room,
        replicas: members.map((c) => ({ name: c.name, doc: c.doc })),
        authored, journaled, names, stored,
        echoes: disturbed.has(room) ? null : members.flatMap((c) => c.echoes),
        allowEcho: o.allowEcho,
        shapes: o.types,
      })
    }))

    const problems: Problem[] = []
    const offline = clients.filter((c) => !c.connected)
    if (offline.length) problems.push({ kind: 'server', message: `${offline.length} client(s) could not reconnect by the end: ${offline.map((c) => c.name).join(', ')}` })
    if (supervisor?.counts.crashes) problems.push({ kind: 'server', message: `the server exited ${supervisor.counts.crashes} time(s) without being asked to` })
    const badFrames = clients.reduce((n, c) => n + c.stats.badFrames, 0)
    if (badFrames) notes.push(`${badFrames} received frame(s) were not y-websocket protocol messages and were ignored`)
    const denied = [...new Set(clients.flatMap((c) => c.stats.denied))]
    if (denied.length) notes.push(`the server denied permission: ${denied.join('; ')}`)
    if (disturbed.size) notes.push(`echo check inconclusive in ${disturbed.size} room(s): a client reconnected during the probe window`)
    const stale = rooms.flatMap((room) => staleAwareness(clients.filter((c) => c.options.room === room)))
    if (stale.length) notes.push(`awareness: ${stale.length} view(s) of a peer's presence are stale at the end (not a failure: a peer that reconnects re-announces its state at the clock the server's removal already used, so others ignore it until its state changes again), e.g. ${stale.slice(0, 3).join('; ')}`)
    const codes: Record<string, number> = {}
    for (const c of clients) for (const [code, n] of Object.entries(c.stats.closeCodes)) codes[code] = (codes[code] ?? 0) + n
    if (Object.keys(codes).length) notes.push(`connections closed with codes: ${Object.entries(codes).map(([k, n]) => `${k} ×${n}`).join(', ')}`)
    const failed = clients.reduce((n, c) => n + c.stats.failedAttempts, 0)
    if (failed) notes.push(`${failed} connection attempt(s) failed before opening (the server was down or refused) and were retried`)

    if (proxy) {
      faults.stalls = proxy.counts.stalls
      faults.resets = proxy.counts.resets
    }
    const ok = problems.length === 0 && results.every((r) => r.ok)
    const sum = (f: (c: SimClient) => number) => clients.reduce((n, c) => n + f(c), 0)
    return {
      ok,
      seed: o.seed,
      replay: replayCommand(o),
      target: url,
      spawned: o.spawn,
      clients: o.clients,
      rooms: o.rooms,
      types: o.types,
      editSeconds: o.seconds,
      durationMs: Date.now() - started,
      settleMs,
      settled,
      totals: {
        edits: sum((c) => c.stats.edits), undos: sum((c) => c.stats.undos), connects: sum((c) => c.stats.connects),
        framesIn: sum((c) => c.stats.framesIn), framesOut: sum((c) => c.stats.framesOut), updatesIn: sum((c) => c.stats.updatesIn),
      },
      faults,
      problems,
      notes,
      results,
      ...(supervisor && !ok ? { serverLog: supervisor.logTail() } : {}),
    }
  } finally {
    if (ticker) clearInterval(ticker)
    progress?.done()
    for (const c of clients) c.stop()
    await proxy?.close()
    await supervisor?.stop()
  }
}

// Views a client has of its peers' awareness that differ from the peer's own local state.
function staleAwareness(members: readonly SimClient[]): string[] {
  const stale: string[] = []
  for (const p of members) {
    const states = p.awareness.getStates()
    for (const q of members) {
      if (p === q) continue
      const seen = states.get(q.doc.clientID)
      if (JSON.stringify(seen ?? null) !== JSON.stringify(q.awareness.getLocalState())) {
        stale.push(`${p.name} sees ${seen ? 'an old state of' : 'no state for'} ${q.name}`)
      }
    }
  }
  return stale
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

// Every replica of every room has the same inserts and deletes, nothing pending.
function converged(clients: readonly SimClient[]): boolean {
  const byRoom = new Map<string, Y.Doc>()
  for (const c of clients) {
    const first = byRoom.get(c.options.room)
    if (!first) byRoom.set(c.options.room, c.doc)
    else if (!sameHistory(first, c.doc)) return false
  }
  return true
}

/// Wait for quiescence: every client connected and synced, and no sync traffic for a
/// while. With `early`, stop as soon as every room's replicas are equal: each author holds
/// its own edits, so equal replicas hold everything and nothing more can arrive.
async function settle(clients: readonly SimClient[], o: ConvergeOptions, deadline: number, early: boolean): Promise<boolean> {
  const quietMs = Math.max(500, 4 * (o.direct ? 0 : o.latency))
  let lastCheck = 0
  while (Date.now() < deadline) {
    if (clients.every((c) => c.connected && c.synced)) {
      const idle = Date.now() - Math.max(...clients.map((c) => c.lastSyncActivity))
      if (idle >= quietMs) return true
      if (early && idle >= 100 && Date.now() - lastCheck >= 100) {
        lastCheck = Date.now()
        if (converged(clients)) return true
      }
    }
    await sleep(25)
  }
  return false
}

/// The server's stored copy of a room (GET /api/rooms/<room>/update), or null when the
/// server does not expose it. Storage may lag the relay: retry until it matches the truth
/// or a few seconds pass.
async function fetchStored(httpBase: string, room: string, query: string, expected: Expected, notes: string[]): Promise<Uint8Array | null> {
  const url = `${httpBase}/api/rooms/${encodeURIComponent(room)}/update${query}`
  const deadline = Date.now() + 5000
  for (;;) {
    let res: Response
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(5000) })
    } catch (error) {
      notes.push(`stored document of ${room}: request failed (${(error as Error).message}); not checked`)
      return null
    }
    const type = res.headers.get('content-type') ?? ''
    if (res.status === 404) return null
    if (res.status !== 200 || type.startsWith('text/') || type.includes('json') || type.includes('html')) {
      if (res.status !== 200) notes.push(`stored document of ${room}: GET /api/rooms/…/update answered ${res.status}; not checked`)
      await res.body?.cancel()
      return null
    }
    const last = new Uint8Array(await res.arrayBuffer())
    if (storedMatches(last, expected) || Date.now() > deadline) return last
    await sleep(200)
  }
}

/// What a room's stored copy must hold: everything its clients authored and journaled.
interface Expected {
  authored: Uint8Array[]
  journaled: string[]
  names: Map<number, string>
  shapes: readonly Shape[]
}

function storedMatches(update: Uint8Array, e: Expected): boolean {
  let doc: Y.Doc
  try {
    doc = docFrom(update)
  } catch {
    return true // not a Yjs update: no use retrying; the checker reports it
  }
  const { truth } = expectedDoc(e.authored, [doc])
  try {
    return compareToTruth('stored', doc, truth, e.names, e.journaled, e.shapes).length === 0
  } finally {
    doc.destroy()
    truth.destroy()
  }
}
