// The load generator: one process, pinned to its own core by run.mjs, drives one scenario
// against the servers it is given and prints one JSON line of figures per server. Timed
// scenarios (typing, fan-out, awareness) take every server at once, all listening, and
// load one at a time in short slices, the servers in turn, so that the host's drift over
// minutes falls on every server alike. Writers' keystrokes are generated before the clock
// starts; only one receiver per room holds a full Y.Doc (for the convergence check); every
// receiver counts deliveries, latencies and echoes. Join, idle, storm and cold load take one
// server (storm and cold load: large documents, lib/bigdoc.mjs); `coldload-prep` takes none and
// fills a Concord store before its server starts.
import * as Y from 'yjs'
import { LeanSocket, frameBinary } from './lib/wsclient.mjs'
import { Cursor, awarenessMsg, awarenessUpdate, dialect, readMessages, syncStep1, syncUpdate } from './lib/wire.mjs'
import { typedUpdates } from './lib/typing.mjs'
import { Histogram, cpuSeconds, cpuTimes, memoryKB } from './lib/measure.mjs'
import { MiB, coldloadDocument, stormDocument, updateHasContent, updateHasVector } from './lib/bigdoc.mjs'
import { Worker } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import { join as joinPath } from 'node:path'
import { readFileSync, rmSync } from 'node:fs'

const cfg = JSON.parse(process.argv[2])
const EMPTY_SV = Y.encodeStateVector(new Y.Doc())
/// An update message with no structs and no deletions: changes nothing anywhere.
const NO_CHANGE = syncUpdate(Uint8Array.of(0, 0))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---- servers under load -------------------------------------------------------------
/// One server and what its clients counted: deliveries, latencies, echoes; send times by
/// writer or awareness client id (time of clock k at index k); writers by Yjs client id.
/// `ports`, `pids`: the instances of a cluster (the scale-out scenario); `port`, `pid` are the first.
function target({ name, dialect: d, port, pid, warmOnly = false, ports = [port], pids = [pid] }) {
  return {
    name, D: dialect(d), port, pid, warmOnly, ports, pids,
    hist: new Histogram(),
    sliceHist: new Histogram(),
    delivered: 0,
    echoFrames: 0,
    echoUpdates: 0,
    lastDelivery: 0,
    closedUnexpectedly: 0,
    sentAt: new Map(),
    writersById: new Map(),
  }
}

/// Count a delivery's latency, in the whole run's histogram and the current slice's.
function latency(T, ms) {
  T.hist.add(ms)
  T.sliceHist.add(ms)
}

// Updates repeat byte for byte across the receivers of a room: parse each once.
const metaCache = new Map()
function metaOf(payload) {
  const small = payload.length <= 4096
  const key = small ? payload.toString('latin1') : null
  if (small) {
    const hit = metaCache.get(key)
    if (hit) return hit
  }
  const { from, to } = Y.parseUpdateMeta(payload)
  const meta = []
  for (const [client, clock] of from) meta.push(client, clock, to.get(client))
  if (small) {
    if (metaCache.size > 20000) metaCache.clear()
    metaCache.set(key, meta)
  }
  return meta
}

function onUpdate(client, payload, now) {
  const T = client.target
  const meta = metaOf(payload)
  let echo = false
  for (let i = 0; i < meta.length; i += 3) {
    const c = meta[i], from = meta[i + 1], to = meta[i + 2]
    if (c === client.writerId) {
      echo = true
      T.echoUpdates += to - from
      continue
    }
    const times = T.sentAt.get(c)
    if (!times) continue
    for (let k = from; k < to; k++) {
      const t = times[k]
      if (t > 0) { latency(T, now - t); T.delivered++ }
    }
    if (client.probe) {
      const w = T.writersById.get(c)
      if (w && to > w.acked) { w.acked = to; w.pump() }
    }
  }
  if (echo) T.echoFrames++
  T.lastDelivery = now
  if (client.doc) Y.applyUpdate(client.doc, payload)
}

function onAwareness(client, payload, now) {
  const T = client.target
  const c = new Cursor(payload)
  const count = c.uint()
  let echo = false
  for (let i = 0; i < count; i++) {
    const id = c.uint()
    const clock = c.uint()
    c.bytes()
    if (id === client.awId) {
      echo = true
      T.echoUpdates++
      continue
    }
    const t = T.sentAt.get(id)?.[clock]
    if (t > 0) {
      latency(T, now - t)
      T.delivered++
      T.lastDelivery = now
    }
    if (client.lastSeen && (client.lastSeen.get(id) ?? -1) < clock) client.lastSeen.set(id, clock)
  }
  if (echo) T.echoFrames++
}

// ---- clients -------------------------------------------------------------------------
class Client {
  /// `onStep2(client, payload, now)` sees the sync step 2 (storm, cold load); `onUpdate(client,
  /// payload, now)` replaces the counting of updates (a watcher's).
  /// `instance`: which of a cluster's instances it connects to (see `target`).
  constructor(target, room, { writerId = -1, awId = -1, doc = null, probe = false, keepStep2 = false, onStep2 = null, onUpdate = null, onPong = null, instance = 0 } = {}) {
    Object.assign(this, { target, room, writerId, awId, doc, probe, keepStep2, onStep2, onUpdateHook: onUpdate })
    const D = target.D
    this.synced = false
    this.step2At = 0
    this.step2Copy = null
    this.lastSeen = null
    this.now = 0
    this.ready = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject })
    this.sock = new LeanSocket(target.ports[instance % target.ports.length], D.path(room), {
      onOpen: () => {
        for (const m of D.hello(room)) this.sock.write(frameBinary(m))
        if (D.needsSync) this.sock.write(frameBinary(D.wrap(room, syncStep1(doc ? Y.encodeStateVector(doc) : EMPTY_SV))))
        else this.markSynced(performance.now(), null)
      },
      onFrame: (frame, now) => {
        this.now = now
        readMessages(frame, D.unwrapOffset(frame), this)
      },
      onClose: (error) => {
        if (!this.closing) target.closedUnexpectedly++
        this.reject(error ?? new Error('closed'))
      },
      onPong,
    })
  }
  markSynced(now, payload) {
    if (this.synced) return
    this.synced = true
    this.step2At = now
    // A view: a read buffer is never reused, and the frame of a large state is joined from its
    // reads into a buffer of its own.
    if (this.keepStep2 && payload) this.step2Copy = payload
    this.resolve(this)
  }
  step2(payload) {
    if (this.doc) Y.applyUpdate(this.doc, payload)
    if (!this.synced) this.onStep2?.(this, payload, this.now)
    this.markSynced(this.now, payload)
  }
  update(payload) {
    if (this.onUpdateHook) this.onUpdateHook(this, payload, this.now)
    else onUpdate(this, payload, this.now)
  }
  awareness(payload) { onAwareness(this, payload, this.now) }
  send(msg) { this.sock.write(frameBinary(this.target.D.wrap(this.room, msg))) }
  close() { this.closing = true; this.sock.close() }
}

/// Connect clients in batches (a burst of thousands would overflow the listen backlog).
async function connectAll(target, specs, batch = 100) {
  const out = []
  for (let i = 0; i < specs.length; i += batch) {
    const group = specs.slice(i, i + batch).map(([room, o]) => new Client(target, room, o))
    await Promise.all(group.map((c) => withTimeout(c.ready, 30000, 'join')))
    out.push(...group)
  }
  return out
}

function withTimeout(promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms) }),
  ]).finally(() => clearTimeout(timer))
}

/// Wait until `done()` or until `target` delivered nothing for `stallMs`.
async function settle(target, done, stallMs = 2000, maxMs = 20000) {
  const start = performance.now()
  let last = target.delivered
  let lastChange = start
  while (!done() && performance.now() - start < maxMs) {
    await sleep(20)
    if (target.delivered !== last) { last = target.delivered; lastChange = performance.now() }
    else if (performance.now() - lastChange > stallMs) break
  }
}

class Writer {
  constructor(client, updates, window) {
    const T = client.target
    this.client = client
    this.updates = updates
    this.frames = updates.map((u) => frameBinary(T.D.wrap(client.room, syncUpdate(u))))
    this.times = new Float64Array(updates.length)
    T.sentAt.set(client.writerId, this.times)
    T.writersById.set(client.writerId, this)
    this.sent = 0
    this.acked = 0
    this.window = window
    this.stopped = true
  }
  sendOne() {
    if (this.sent >= this.frames.length) return false
    this.times[this.sent] = performance.now()
    this.client.sock.write(this.frames[this.sent++])
    return true
  }
  pump() {
    while (!this.stopped && this.sent < this.acked + this.window) if (!this.sendOne()) break
  }
}

/// Start `tick` for each item at `rate` per second, each at a random phase; returns the stop.
function ticking(items, rate, tick) {
  const timers = []
  for (const item of items) {
    timers.push(setTimeout(() => {
      tick(item)
      timers.push(setInterval(() => tick(item), 1000 / rate))
    }, Math.random() * (1000 / rate)))
  }
  return () => { for (const t of timers) { clearTimeout(t); clearInterval(t) } }
}

// ---- measuring in slices -------------------------------------------------------------
/// A server's load can be switched on and off (`start()`, `stop()`), tells when everything
/// sent so far was delivered (`done()`), and keeps its idle clients' connections (`keepalive()`).
/// Runs every load for `warmup` seconds unmeasured, one after another (V8 compiles every
/// server's hot code meanwhile: a one-time cost that a short run would otherwise charge to
/// its updates); then `slices` rounds in which every load runs `duration / slices` seconds in
/// turn, each round starting one server later. A slice is measured until its deliveries are
/// in: server CPU (from /proc), deliveries, the time they took, the generator's CPU.
async function sliced(loads, { warmup = 0, duration, slices = 1 }) {
  // A real provider sends something every 15 s (its awareness renewal), and Hocuspocus drops
  // a connection silent for 60 s: the clients of a server waiting for its turn send an empty
  // update that often (no server relays or stores one that changes nothing).
  let active = null
  const keepalive = setInterval(() => { for (const load of loads) if (load !== active) load.keepalive() }, 15000)
  try {
    await slicedRounds(loads, warmup, duration, slices, (load) => { active = load })
  } finally {
    clearInterval(keepalive)
  }
}

async function slicedRounds(loads, warmup, duration, slices, activate) {
  for (const load of loads) {
    if (warmup <= 0) break
    activate(load)
    load.start()
    await sleep(warmup * 1000)
    load.stop()
    await settle(load.target, load.done)
  }
  // The generator's own warm-up (a relay run first, never measured) is done: the rest is the
  // servers'.
  loads = loads.filter((load) => !load.target.warmOnly)
  const sliceMs = (duration * 1000) / slices
  // After the warm-ups the first server has sat idle the longest (the others' warm-ups), the
  // last not at all; its first slice then paid for that (A/A runs of two identical builds:
  // the first one's first slice 15-20% above the second's). One unmeasured round gives every
  // server the same idle time before its first measured slice as before any other.
  if (warmup > 0) {
    for (const load of loads) {
      activate(load)
      load.start()
      await sleep(sliceMs)
      load.stop()
      await settle(load.target, load.done)
    }
  }
  for (const load of loads) {
    load.target.hist = new Histogram()
    load.slices = []
  }
  for (let round = 0; round < slices; round++) {
    for (let k = 0; k < loads.length; k++) {
      const load = loads[(round + k) % loads.length]
      const T = load.target
      activate(load)
      T.sliceHist.clear()
      const p0 = { cpu: cpuTimes(T.pid), gen: process.cpuUsage(), t: performance.now(), delivered: T.delivered }
      load.start()
      await sleep(sliceMs)
      load.stop()
      await settle(T, load.done)
      const gen = process.cpuUsage(p0.gen)
      const cpu = cpuTimes(T.pid)
      load.slices.push({
        seconds: ((T.lastDelivery > p0.t ? T.lastDelivery : performance.now()) - p0.t) / 1000,
        wall: (performance.now() - p0.t) / 1000,
        delivered: T.delivered - p0.delivered,
        cpu: cpu.user + cpu.system - p0.cpu.user - p0.cpu.system,
        system: cpu.system - p0.cpu.system,
        genCpu: (gen.user + gen.system) / 1e6,
        p99: T.sliceHist.percentile(0.99),
      })
    }
  }
}

/// The figures of a load's slices together; `perSlice` keeps each slice's µs per update,
/// `p99PerSlice` each slice's p99 latency (ms).
function sliceFigures(slices) {
  const sum = (f) => slices.reduce((n, s) => n + f(s), 0)
  const delivered = sum((s) => s.delivered)
  const cpu = sum((s) => s.cpu)
  const r2 = (v) => Math.round(v * 100) / 100
  return {
    seconds: r2(sum((s) => s.seconds)),
    delivered,
    updatesPerSec: Math.round(delivered / sum((s) => s.seconds)),
    serverCpuSec: r2(cpu),
    serverSystemSec: r2(sum((s) => s.system)),
    usPerUpdate: delivered ? r2((cpu * 1e6) / delivered) : null,
    genCpuPct: Math.round((sum((s) => s.genCpu) / sum((s) => s.wall)) * 1000) / 10,
    slices: slices.length,
    perSlice: slices.map((s) => (s.delivered ? r2((s.cpu * 1e6) / s.delivered) : null)),
    p99PerSlice: slices.map((s) => s.p99),
  }
}

function roomText(updates) {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  const s = doc.getText('t').toString()
  doc.destroy()
  return s
}

// ---- scenarios -----------------------------------------------------------------------
/// Typing (open loop at `rate`) and fan-out (closed loop: `window` unseen keystrokes).
async function editLoad(T, { rooms, clients, writers, rate, duration, window, maxPerWriter, warmup = 0, slices = 1 }) {
  const closedLoop = window > 0
  const perWriter = closedLoop ? maxPerWriter : Math.ceil(rate * (duration + warmup + duration / slices)) + 2 * slices + 2
  const specs = []
  for (let r = 0; r < rooms; r++) {
    for (let i = 0; i < clients; i++) {
      const writer = i < writers
      specs.push([`room-${r}`, {
        writerId: writer ? 1 + r * writers + i : -1,
        doc: i === writers ? new Y.Doc() : null,
        probe: i === writers,
      }])
    }
  }
  const all = await connectAll(T, specs)
  const ws = all.filter((c) => c.writerId > 0).map((c) => new Writer(c, typedUpdates(Y, c.writerId, perWriter), window))
  await sleep(500)
  const before = T.delivered
  const sent = () => ws.reduce((n, w) => n + w.sent, 0)
  let stop = () => {}
  return switchable(T, all, clients, before, sent, {
    start() {
      if (closedLoop) for (const w of ws) { w.stopped = false; w.pump() }
      else stop = ticking(ws, rate, (w) => w.sendOne())
    },
    stop() {
      stop()
      for (const w of ws) w.stopped = true
    },
    converged: () => all.every((c) => {
      if (!c.doc) return true
      const updates = ws.filter((w) => w.client.room === c.room).flatMap((w) => w.updates.slice(0, w.sent))
      return c.doc.getText('t').toString() === roomText(updates)
    }),
    figures: () => ({ exhaustedWriters: ws.filter((w) => w.sent >= w.frames.length).length }),
  })
}

async function awarenessLoad(T, { rooms, clients, rate, duration, warmup = 0, slices = 1 }) {
  const specs = []
  for (let r = 0; r < rooms; r++) for (let i = 0; i < clients; i++) specs.push([`room-${r}`, { awId: 100000 + r * clients + i }])
  const all = await connectAll(T, specs)
  const perClient = Math.ceil(rate * (duration + warmup + duration / slices)) + 2 * slices + 3
  for (const c of all) { c.clock = 0; T.sentAt.set(c.awId, new Float64Array(perClient)) }
  for (let r = 0; r < rooms; r++) all[r * clients].lastSeen = new Map()
  await sleep(500)
  const before = T.delivered
  const sent = () => all.reduce((n, c) => n + c.clock, 0)
  const move = (c) => {
    if (c.clock + 1 >= perClient) return
    const clock = ++c.clock
    const pos = (clock * 7) % 1000
    const json = `{"user":{"name":"user ${c.awId}","color":"#30bced"},"cursor":{"anchor":${pos},"head":${pos + 1}}}`
    T.sentAt.get(c.awId)[clock] = performance.now()
    c.send(awarenessMsg(awarenessUpdate(c.awId, clock, json)))
  }
  let stop = () => {}
  return switchable(T, all, clients, before, sent, {
    start() { stop = ticking(all, rate, move) },
    stop() { stop() },
    converged: () => all.every((c) => !c.lastSeen || all.every((o) => o.room !== c.room || o === c || c.lastSeen.get(o.awId) === o.clock)),
  })
}

/// A server's load (see `sliced`) from its clients, the deliveries counted before it began,
/// a count of what was sent so far, and the scenario's own parts.
function switchable(T, all, clients, before, sent, { start, stop, converged, figures = () => ({}) }) {
  return {
    target: T,
    start,
    stop,
    done: () => T.delivered - before >= sent() * (clients - 1),
    keepalive: () => { for (const c of all) c.send(NO_CHANGE) },
    finish() {
      const expected = sent() * (clients - 1)
      const result = { expected, lost: expected - (T.delivered - before), converged: converged(), ...figures(), sentUpdates: sent() }
      for (const c of all) c.close()
      return result
    },
  }
}

/// A timed scenario over every target: loads prepared, run in slices, then checked.
function timed(prepare) {
  return async (targets, params) => {
    const loads = []
    for (const T of targets) loads.push(await prepare(T, params))
    await sliced(loads, params)
    return loads.map((load) => (load.target.warmOnly ? load.finish() : { ...sliceFigures(load.slices), ...load.finish() }))
  }
}

/// A document of `edits` single-character edits at random positions (one in ten a deletion).
function joinDocument(edits) {
  let seed = 42
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
  const doc = new Y.Doc()
  doc.clientID = 7
  const text = doc.getText('t')
  for (let i = 0; i < edits; i++) {
    if (i % 10 === 9 && text.length > 0) text.delete(Math.floor(rand() * text.length), 1)
    else text.insert(Math.floor(rand() * (text.length + 1)), String.fromCharCode(97 + Math.floor(rand() * 26)))
  }
  return doc
}

async function join([T], { clients, edits, rounds }) {
  if (!T.D.needsSync) return [{ skipped: 'a relay holds no document' }]
  const source = joinDocument(edits)
  const state = Y.encodeStateAsUpdate(source)
  const expectedText = source.getText('t').toString()
  const clock = Y.decodeStateVector(Y.encodeStateVector(source)).get(7)
  const room = 'join-room'
  const [seeder] = await connectAll(T, [[room, { writerId: 7 }]])
  seeder.send(syncUpdate(state))
  let seeded = false
  for (let i = 0; i < 50 && !seeded; i++) {
    await sleep(100)
    const [check] = await connectAll(T, [[room, { doc: new Y.Doc() }]])
    seeded = check.doc.getText('t').toString() === expectedText
    check.close()
  }
  if (!seeded) throw new Error('the join document never arrived at the server')
  await sleep(500)
  const results = []
  let converged = true
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now()
    const cpu0 = cpuSeconds(T.pid)
    const gen0 = process.cpuUsage()
    const joiners = Array.from({ length: clients }, () => new Client(T, room, { keepStep2: true }))
    await withTimeout(Promise.all(joiners.map((c) => c.ready)), 60000, 'join')
    const cpu = cpuSeconds(T.pid) - cpu0
    const gen = process.cpuUsage(gen0)
    const last = Math.max(...joiners.map((c) => c.step2At))
    const wall = (performance.now() - t0) / 1000
    results.push({ ms: Math.round((last - t0) * 10) / 10, cpuMs: Math.round(cpu * 1000), genCpuPct: Math.round(((gen.user + gen.system) / 1e6 / wall) * 1000) / 10 })
    // Checked after the clock stopped: every joiner got the whole document.
    for (let i = 0; i < joiners.length; i++) {
      const payload = joiners[i].step2Copy
      if (i < 5) {
        const doc = new Y.Doc()
        Y.applyUpdate(doc, payload)
        if (doc.getText('t').toString() !== expectedText) converged = false
        doc.destroy()
      } else if (Y.parseUpdateMeta(payload).to.get(7) !== clock) converged = false
    }
    for (const c of joiners) c.close()
    await sleep(700)
  }
  seeder.close()
  const ms = results.map((r) => r.ms).sort((a, b) => a - b)
  const cpuMs = results.map((r) => r.cpuMs).sort((a, b) => a - b)
  return [{
    joinMs: ms[Math.floor(ms.length / 2)],
    joinCpuMs: cpuMs[Math.floor(cpuMs.length / 2)],
    stateKB: Math.round(state.length / 102.4) / 10,
    genCpuPct: Math.max(...results.map((r) => r.genCpuPct)),
    rounds: results,
    converged,
  }]
}

async function idle([T], { conns, rooms }) {
  const gcRss = async () => {
    process.kill(T.pid, 'SIGUSR2')
    await sleep(1000)
    return memoryKB(T.pid).rss
  }
  await sleep(500)
  const base = await gcRss()
  const spec = (i) => [`idle-${i % rooms}`, { awId: 200000 + i }]
  const hello = (c) => c.send(awarenessMsg(awarenessUpdate(c.awId, 1, `{"user":{"name":"user ${c.awId}","color":"#30bced"}}`)))
  const first = await connectAll(T, Array.from({ length: rooms }, (_, i) => spec(i)))
  first.forEach(hello)
  await sleep(1500)
  const perRoomAndConn = await gcRss()
  const rest = await connectAll(T, Array.from({ length: conns - rooms }, (_, i) => spec(rooms + i)))
  rest.forEach(hello)
  await sleep(1500)
  const full = await gcRss()
  const kbPerConn = (full - perRoomAndConn) / (conns - rooms)
  const kbPerRoom = (perRoomAndConn - base) / rooms - kbPerConn
  const open = [...first, ...rest].filter((c) => c.sock.open).length
  for (const c of [...first, ...rest]) c.close()
  return [{
    baseMB: Math.round(base / 102.4) / 10,
    fullMB: Math.round(full / 102.4) / 10,
    kbPerConn: Math.round(kbPerConn * 10) / 10,
    kbPerRoom: Math.round(kbPerRoom * 10) / 10,
    open,
    converged: open === conns,
  }]
}

// ---- large documents: storm and cold load ------------------------------------------
const mb1 = (kb) => Math.round(kb / 102.4) / 10
const round1 = (v) => Math.round(v * 10) / 10

/// The server's RSS (KB) after a full garbage collection (SIGUSR2: see servers/common.mjs).
async function gcRss(pid) {
  process.kill(pid, 'SIGUSR2')
  await sleep(1000)
  return memoryKB(pid).rss
}

/// Samples the server's VmRSS every `intervalMs` in a worker thread; `stop()` resolves to
/// { peakKB, samples }.
async function rssSampler(pid, intervalMs = 50) {
  const worker = new Worker(new URL('./lib/rssSampler.mjs', import.meta.url), { workerData: { pid, intervalMs } })
  await new Promise((resolve, reject) => { worker.once('online', resolve); worker.once('error', reject) })
  return {
    stop: () => new Promise((resolve) => {
      worker.once('message', resolve)
      worker.postMessage('stop')
    }),
  }
}

/// One joiner: its sync step 2's payload, or null if it did not come within `ms`.
async function joinOnce(T, room, ms) {
  let payload = null
  const c = new Client(T, room, { onStep2: (_c, p) => { payload = p } })
  try {
    await withTimeout(c.ready, ms, 'join')
    return payload
  } catch {
    return null
  } finally {
    c.close()
  }
}

/// Median of numbers where Infinity stands for a joiner that never synced; null if that is
/// where the median falls.
function median(values) {
  if (values.length === 0) return null
  const v = [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
  return Number.isFinite(v) ? v : null
}

/// `clients` join at once a room holding a large document (see lib/bigdoc.mjs); with
/// `recent`, one small edit arrives after the document was loaded (and after the joins that
/// checked it), so no encoding of the document made before can be reused.
async function storm([T], { clients, mb, shape, recent, timeout, quiet = 0, cacheDir }) {
  if (!T.D.needsSync) return [{ skipped: 'a relay holds no document', recent }]
  const tBuild = performance.now()
  const { meta, parts } = stormDocument({ mb, shape, cacheDir })
  const buildMs = Math.round(performance.now() - tBuild)
  const vector = recent ? meta.recentVector : meta.vector
  const hash = recent ? meta.recentHash : meta.hash
  const room = 'storm-room'
  await sleep(300)
  const baseKB = await gcRss(T.pid)
  // The seeder sends the document; the watcher, in the room from the start, sees the recent
  // edit relayed (a join would make the server encode the document again). Both stay until
  // the end: a server without persistence drops a room with nobody in it.
  let sawRecent = () => {}
  const recentSeen = new Promise((resolve) => { sawRecent = resolve })
  let watching = false
  const [seeder, watcher] = await connectAll(T, [[room, {}], [room, {
    onUpdate: (_c, payload) => { if (watching && Y.parseUpdateMeta(payload).to.has(999)) sawRecent() },
  }]])
  // Hocuspocus closes a connection that sent nothing for 60 s (a real provider renews its
  // awareness every 15 s): every client of the scenario sends an empty update that often.
  const live = [seeder, watcher]
  const keepalive = setInterval(() => { for (const c of live) if (c.sock.open) c.send(NO_CHANGE) }, 15000)
  try {
    return await stormOn(T, { clients, shape, recent, timeout, quiet, meta, parts, vector, hash, room, baseKB, seeder, watcher, live, watch: (on) => { watching = on }, recentSeen, buildMs })
  } finally {
    clearInterval(keepalive)
  }
}

async function stormOn(T, { clients, shape, recent, timeout, quiet, meta, parts, vector, hash, room, baseKB, seeder, watcher, live, watch, recentSeen, buildMs }) {
  const timeoutMs = timeout * 1000
  // Seeding and its checks get at least two minutes whatever the storm's timeout.
  const seedTimeoutMs = Math.max(timeoutMs, 120000)
  const seedStart = performance.now()
  for (const chunk of parts.chunks) seeder.send(syncUpdate(chunk))
  let seeded = false
  let checks = 0
  while (!seeded && performance.now() - seedStart < seedTimeoutMs) {
    await sleep(500)
    const payload = await joinOnce(T, room, seedTimeoutMs)
    checks++
    seeded = payload !== null && updateHasVector(payload, meta.vector)
  }
  if (!seeded) throw new Error(`the storm's document never arrived at the server (${checks} checks in ${seedTimeoutMs / 1000} s)`)
  const seedMs = Math.round(performance.now() - seedStart)
  // A document that was there before the storm (`--storm-quiet S`): nothing happens in the room
  // for S seconds (the seeder and watcher stay).
  await sleep(quiet * 1000)
  if (recent) {
    watch(true)
    seeder.send(syncUpdate(parts.recent[0]))
    await withTimeout(recentSeen, seedTimeoutMs, 'the recent edit')
  }
  await sleep(500)
  const loadedKB = await gcRss(T.pid)

  // The storm: every joiner at once; each one's step 2 timed on arrival and compared, bytes
  // to bytes, with the distinct ones seen so far (most servers send every joiner the same
  // bytes: the generator then keeps one copy, not one per joiner).
  const distinct = []
  const at = new Array(clients).fill(Infinity)
  const got = new Array(clients).fill(-1)
  let dropped = 0
  const sampler = await rssSampler(T.pid, 50)
  const cpu0 = cpuSeconds(T.pid)
  const gen0 = process.cpuUsage()
  const t0 = performance.now()
  const joiners = Array.from({ length: clients }, (_, i) => new Client(T, room, {
    onStep2: (_c, payload, now) => {
      at[i] = now - t0
      let k = distinct.findIndex((d) => d.length === payload.length && d.equals(payload))
      if (k < 0) k = distinct.push(payload) - 1
      got[i] = k
    },
  }))
  live.push(...joiners)
  let pending = clients
  let allDone = () => {}
  const finished = new Promise((resolve) => { allDone = resolve })
  const settled = () => { if (--pending === 0) allDone() }
  for (const c of joiners) c.ready.then(settled, () => { dropped++; settled() })
  let timer
  await Promise.race([finished, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) })])
  clearTimeout(timer)
  const wall = (performance.now() - t0) / 1000
  const cpuMs = Math.round((cpuSeconds(T.pid) - cpu0) * 1000)
  const gen = process.cpuUsage(gen0)
  const { peakKB, samples } = await sampler.stop()
  const hwmKB = memoryKB(T.pid).peak
  const completed = at.filter(Number.isFinite).length
  const droppedCount = dropped
  const timedOut = clients - completed - droppedCount
  for (const c of joiners) c.close()
  watcher.close()
  seeder.close()

  // Checked after the clock stopped: every distinct copy carries the whole state vector; the
  // copies of the first five joiners to sync are also read whole and compared.
  const firstFive = at.map((ms, i) => [ms, i]).filter(([ms]) => Number.isFinite(ms)).sort((a, b) => a[0] - b[0]).slice(0, 5).map(([, i]) => got[i])
  const vectorOk = distinct.map((p) => updateHasVector(p, vector))
  const contentOk = new Map([...new Set(firstFive)].map((k) => [k, updateHasContent(distinct[k], shape, hash)]))
  const whole = got.filter((k) => k >= 0).every((k) => vectorOk[k] && contentOk.get(k) !== false)
  const finite = at.filter(Number.isFinite)
  return [{
    recent,
    shape,
    clients,
    docMB: Math.round((meta.encodedBytes / MiB) * 100) / 100,
    buildMs,
    seedMs,
    completed,
    dropped: droppedCount,
    timedOut,
    lastMs: completed === clients ? round1(Math.max(...finite)) : null,
    lastCompletedMs: finite.length ? round1(Math.max(...finite)) : null,
    p50Ms: median(at) === null ? null : round1(median(at)),
    serverCpuMs: cpuMs,
    baseRssMB: mb1(baseKB),
    loadedRssMB: mb1(loadedKB),
    stormPeakRssMB: mb1(peakKB),
    rssSamples: samples,
    hwmMB: mb1(hwmKB),
    memoryFactor: Math.round(((loadedKB - baseKB) * 1024 / meta.encodedBytes) * 100) / 100,
    distinctPayloads: distinct.length,
    contentChecked: contentOk.size,
    whole,
    converged: whole && completed === clients,
    genCpuPct: Math.round(((gen.user + gen.system) / 1e6 / wall) * 1000) / 10,
  }]
}

/// The store of a cold load, opened with Concord's own storage modules from `dist`.
async function openStore(dist, url) {
  const mod = (name) => import(pathToFileURL(joinPath(dist, 'server', 'storage', name)).href)
  if (url.startsWith('sqlite:')) return (await mod('sqlite.js')).sqliteStorage(url.slice('sqlite:'.length))
  return (await mod('postgres.js')).postgresStorage(url)
}

/// As Concord's `mergeToSnapshot` (server/storage/merge.ts), with the bench's Yjs (two copies
/// of Yjs in one process break its constructor checks).
function mergeToSnapshot(updates) {
  if (updates.length === 1) return updates[0]
  const doc = new Y.Doc({ gc: true })
  try {
    doc.transact(() => { for (const u of updates) Y.applyUpdate(doc, u) })
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}

/// Before a cold load's server starts: the document as the store's snapshot (appended, then
/// compacted), `log` small updates appended on top, then the store's own read of the room,
/// timed on a fresh connection (the floor of a cold load: the bytes must at least be read).
async function coldloadPrep({ mb, log, storage, room, dist, cacheDir }) {
  const t0 = performance.now()
  const { meta, parts } = coldloadDocument({ mb, log, cacheDir })
  const buildMs = Math.round(performance.now() - t0)
  const store = await openStore(dist, storage)
  await store.append([{ room, update: parts.state[0] }])
  const compaction = await store.compact(room, mergeToSnapshot)
  for (let i = 0; i < parts.log.length; i += 100) await store.append(parts.log.slice(i, i + 100).map((update) => ({ room, update })))
  await store.close()
  const again = await openStore(dist, storage)
  const t1 = performance.now()
  const rows = await again.load(room)
  const storeReadMs = round1(performance.now() - t1)
  await again.close()
  return {
    vector: meta.vector,
    hash: meta.hash,
    docMB: Math.round((meta.encodedBytes / MiB) * 100) / 100,
    logKB: Math.round(meta.logBytes / 102.4) / 10,
    logUpdates: parts.log.length,
    rows: rows.length,
    compacted: compaction.compacted,
    storeReadMs,
    buildMs,
  }
}

/// The first joiner of a room stored but not loaded (the server just started): the time to
/// its whole sync step 2, the server's CPU meanwhile; then a second joiner's (the room now
/// loaded).
async function coldload([T], { room, expected, timeout }) {
  await sleep(300)
  const idleKB = memoryKB(T.pid).rss
  const gen0 = process.cpuUsage()
  const t0 = performance.now()
  const joinOne = async () => {
    let payload = null
    let at = 0
    const cpu0 = cpuSeconds(T.pid)
    const t0 = performance.now()
    const c = new Client(T, room, { onStep2: (_c, p, now) => { payload = p; at = now } })
    await withTimeout(c.ready, timeout * 1000, 'cold join')
    return { c, payload, ms: round1(at - t0), cpuMs: Math.round((cpuSeconds(T.pid) - cpu0) * 1000) }
  }
  const cold = await joinOne()
  const warm = await joinOne()
  const loadedKB = memoryKB(T.pid).rss
  const gen = process.cpuUsage(gen0)
  const wall = (performance.now() - t0) / 1000
  cold.c.close()
  warm.c.close()
  const whole = updateHasVector(cold.payload, expected.vector) && updateHasContent(cold.payload, 'text', expected.hash) && updateHasVector(warm.payload, expected.vector)
  return [{
    coldMs: cold.ms,
    coldCpuMs: cold.cpuMs,
    warmMs: warm.ms,
    idleRssMB: mb1(idleKB),
    loadedRssMB: mb1(loadedKB),
    whole,
    converged: whole,
    genCpuPct: Math.round(((gen.user + gen.system) / 1e6 / wall) * 1000) / 10,
  }]
}

// ---- scale-out -----------------------------------------------------------------------
/// The typing load and a join burst over a cluster's instances (or one): each room's clients
/// are spread over the instances (client i on instance i mod n), its writers on the first.
/// Deliveries to receivers on the writers' instance count as local, the others as remote
/// (through Redis). Then `joiners` fresh clients, spread the same way, join at once a room
/// holding a document of `edits` random-position edits written on the first instance.
async function scaleout([T], { rooms, clients, writers, rate, duration, warmup, joiners, edits }) {
  const n = T.ports.length
  // Remote receivers count into a target of their own (same writers' clocks, own histogram).
  const R = { ...T, hist: new Histogram(), sliceHist: new Histogram(), delivered: 0, echoFrames: 0, echoUpdates: 0, closedUnexpectedly: 0 }
  const perWriter = Math.ceil(rate * (duration + warmup + 5)) + 10
  const specs = []
  for (let r = 0; r < rooms; r++) {
    for (let i = 0; i < clients; i++) {
      const instance = i < writers ? 0 : i % n
      specs.push([`scale-${r}`, { writerId: i < writers ? 1 + r * writers + i : -1, doc: i >= writers && i < writers + n ? new Y.Doc() : null, probe: i === writers, instance }])
    }
  }
  const all = []
  for (let i = 0; i < specs.length; i += 100) {
    const group = specs.slice(i, i + 100).map(([room, o]) => new Client(o.instance === 0 ? T : R, room, o))
    await Promise.all(group.map((c) => withTimeout(c.ready, 30000, 'join')))
    all.push(...group)
  }
  const ws = all.filter((c) => c.writerId > 0).map((c) => new Writer(c, typedUpdates(Y, c.writerId, perWriter), 0))
  await sleep(1000) // every instance has loaded every room
  const stop = ticking(ws, rate, (w) => w.sendOne())
  await sleep(warmup * 1000)
  T.hist = new Histogram()
  R.hist = new Histogram()
  const d0 = T.delivered + R.delivered
  const cpu0 = T.pids.reduce((s, pid) => s + cpuSeconds(pid), 0)
  const t0 = performance.now()
  await sleep(duration * 1000)
  const wall = (performance.now() - t0) / 1000
  const delivered = T.delivered + R.delivered - d0
  const cpu = T.pids.reduce((s, pid) => s + cpuSeconds(pid), 0) - cpu0
  stop()
  await settle(T, () => false, 1500, 15000)
  const converged = all.every((c) => {
    if (!c.doc) return true
    const updates = ws.filter((w) => w.client.room === c.room).flatMap((w) => w.updates.slice(0, w.sent))
    return c.doc.getText('t').toString() === roomText(updates)
  })
  for (const c of all) c.close()
  // The typing window's latencies (and what arrived while settling), not the burst's.
  const local = T.hist.summary()
  const remote = R.hist.summary()

  // The join burst.
  const source = joinDocument(edits)
  const expectedText = source.getText('t').toString()
  const room = 'scale-join'
  const [seeder] = await connectAll(T, [[room, { instance: 0 }]])
  seeder.send(syncUpdate(Y.encodeStateAsUpdate(source)))
  // Seeded once a joiner on the last instance has it (the document crossed Redis).
  let seeded = false
  for (let i = 0; i < 100 && !seeded; i++) {
    await sleep(100)
    const [check] = await connectAll(T, [[room, { doc: new Y.Doc(), instance: n - 1 }]])
    seeded = check.doc.getText('t').toString() === expectedText
    check.close()
  }
  let joinMs = null
  let joinsWhole = false
  if (seeded) {
    await sleep(500)
    const jt0 = performance.now()
    const burst = Array.from({ length: joiners }, (_, i) => new Client(T, room, { keepStep2: true, instance: i % n }))
    await withTimeout(Promise.all(burst.map((c) => c.ready)), 60000, 'join burst')
    joinMs = round1(Math.max(...burst.map((c) => c.step2At)) - jt0)
    joinsWhole = burst.every((c, i) => i >= 3 || updateText(c.step2Copy) === expectedText)
    for (const c of burst) c.close()
  }
  seeder.close()
  return [{
    instances: n,
    deliveredPerSec: Math.round(delivered / wall),
    serverCpuS: round1(cpu),
    usPerUpdate: delivered ? Math.round((cpu * 1e6 / delivered) * 100) / 100 : null,
    localP50Ms: local.p50, localP99Ms: local.p99,
    remoteP50Ms: n > 1 ? remote.p50 : null, remoteP99Ms: n > 1 ? remote.p99 : null,
    echoes: T.echoFrames + R.echoFrames,
    converged: converged && seeded && joinsWhole,
    joinMs,
    seeded,
  }]
}

/// The text of a document holding `update`.
function updateText(update) {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  const text = doc.getText('t').toString()
  doc.destroy()
  return text
}

// ---- soak ----------------------------------------------------------------------------
/// `minutes` of a realistic mix on one server alone: `rooms` rooms, each with `writers` typing
/// `rate` keystrokes a second and `readers` readers; every `churn` seconds one reader of each
/// room leaves and a fresh one joins (a whole sync of a growing document). Every `sample`
/// seconds: the server's RSS, then its memory after a full GC (live heap, RSS, external,
/// array buffers: what holds data, apart from what the allocators keep), the round trips of
/// WebSocket pings sent every 100 ms on a connection of its own (answered from the server's
/// event loop: its lag seen from outside), and the window's deliveries, delivery p99 and
/// joins. Reported with the trends: least-squares slopes over the second half, in MB per hour,
/// beside the documents' encoded size at the end (every server must hold them). Memory after a
/// full GC is also read before the first client connects and `leave` seconds after the last
/// one left (time for the rooms to unload): what a server holds then beyond what it held empty
/// it keeps by design (a memory store's documents and versions) or leaks.
async function soak(targets, params) {
  // Set-up (connecting, making and framing a writer's keystrokes) blocks this process for
  // seconds per server: every server is set up before any clock starts, or one's first window
  // measured the generator making another's keystrokes (a 15 s ping, joins timed out).
  const ready = barrier(targets.length)
  const typed = new Map() // writer id -> its keystrokes, alike on every server
  return Promise.all(targets.map((T) => soakOne(T, params, { heapDir: cfg.heapDir, ready, typed })))
}

/// A function each of `n` callers awaits; it resolves once all `n` have called it.
function barrier(n) {
  let open
  const all = new Promise((resolve) => { open = resolve })
  return () => {
    if (--n === 0) open()
    return all
  }
}

/// A server's memory right after a full GC, which it writes to `<pid>.json` in `dir` on
/// SIGUSR2 (servers/common.mjs); null without a `dir` or if it does not answer in 2 s.
async function memoryAfterGc(T, dir) {
  if (!dir) return null
  const file = joinPath(dir, `${T.pid}.json`)
  rmSync(file, { force: true })
  process.kill(T.pid, 'SIGUSR2')
  for (let i = 0; i < 40; i++) {
    await sleep(50)
    try {
      return JSON.parse(readFileSync(file, 'utf8'))
    } catch {} // not written yet, or only in part
  }
  return null
}

/// `memoryAfterGc`'s figures in MB (nulls where the server did not answer).
function memoryMB(m) {
  const of = (bytes) => (m ? mb1(bytes / 1024) : null)
  return { liveHeapMB: of(m?.heapUsed), rssAfterGcMB: of(m?.rss), heapTotalMB: of(m?.heapTotal), externalMB: of(m?.external), arrayBuffersMB: of(m?.arrayBuffers) }
}

async function soakOne(T, { minutes, rooms, readers, writers, rate, churn, sample, leave = 45 }, { heapDir, ready, typed }) {
  const seconds = minutes * 60
  const empty = await memoryAfterGc(T, heapDir)
  const perWriter = Math.ceil(rate * (seconds + 30)) + 10
  const specs = []
  for (let r = 0; r < rooms; r++) {
    for (let i = 0; i < writers + readers; i++) {
      specs.push([`soak-${r}`, { writerId: i < writers ? 1 + r * writers + i : -1, doc: i === writers ? new Y.Doc() : null, probe: i === writers }])
    }
  }
  const all = await connectAll(T, specs)
  const keystrokes = (id) => typed.get(id) ?? typed.set(id, typedUpdates(Y, id, perWriter)).get(id)
  const ws = all.filter((c) => c.writerId > 0).map((c) => new Writer(c, keystrokes(c.writerId), 0))
  const rtts = []
  const pinger = await connectAll(T, [['soak-ping', { onPong: (now) => { if (pinger[0].pingAt) rtts.push(now - pinger[0].pingAt); pinger[0].pingAt = 0 } }]])
  await ready()
  const pingTimer = setInterval(() => { pinger[0].pingAt = performance.now(); pinger[0].sock.ping() }, 100)
  const churnable = (c) => c.writerId < 0 && !c.probe
  let joins = 0
  let failedJoins = 0
  const joinTimes = []
  const churnTimer = setInterval(() => {
    for (let r = 0; r < rooms; r++) {
      const room = `soak-${r}`
      const k = all.findIndex((c) => c.room === room && churnable(c))
      if (k >= 0) all.splice(k, 1)[0].close()
      const t0 = performance.now()
      const c = new Client(T, room)
      c.ready.then(() => { joins++; joinTimes.push(performance.now() - t0); all.push(c) }, () => { failedJoins++ })
    }
  }, churn * 1000)
  // Hocuspocus drops a connection silent for 60 s (a real provider renews its awareness every
  // 15 s): readers send an empty update that often.
  const keepalive = setInterval(() => { for (const c of all) if (c.writerId < 0 && c.sock.open) c.send(NO_CHANGE) }, 15000)
  const stopTyping = ticking(ws, rate, (w) => w.sendOne())
  const samples = []
  const t0 = performance.now()
  let lastDelivered = T.delivered
  let lastJoins = 0
  try {
    for (let i = 1; i * sample <= seconds; i++) {
      T.sliceHist = new Histogram()
      rtts.length = 0
      joinTimes.length = 0
      await sleep(Math.max(0, t0 + i * sample * 1000 - performance.now()))
      const sorted = [...rtts].sort((a, b) => a - b)
      const joinSorted = [...joinTimes].sort((a, b) => a - b)
      const s = Math.round((performance.now() - t0) / 1000)
      const rssMB = mb1(memoryKB(T.pid).rss)
      const gcd = await memoryAfterGc(T, heapDir)
      samples.push({
        s,
        rssMB,
        ...memoryMB(gcd),
        pingP99Ms: round1(sorted[Math.floor(sorted.length * 0.99)] ?? NaN),
        pingMaxMs: round1(sorted[sorted.length - 1] ?? NaN),
        pingsAnswered: sorted.length,
        delivered: T.delivered - lastDelivered,
        deliveryP99Ms: round1(T.sliceHist.summary().p99 ?? NaN),
        joins: joins - lastJoins,
        joinP99Ms: round1(joinSorted[Math.floor(joinSorted.length * 0.99)] ?? NaN),
      })
      lastDelivered = T.delivered
      lastJoins = joins
    }
  } finally {
    stopTyping()
    clearInterval(churnTimer)
    clearInterval(pingTimer)
    clearInterval(keepalive)
  }
  await settle(T, () => false, 2000, 20000)
  const converged = all.every((c) => {
    if (!c.doc) return true
    const updates = ws.filter((w) => w.client.room === c.room).flatMap((w) => w.updates.slice(0, w.sent))
    return c.doc.getText('t').toString() === roomText(updates)
  })
  const documentsMB = Math.round(all.filter((c) => c.doc).reduce((n, c) => n + Y.encodeStateAsUpdate(c.doc).length, 0) / MiB * 100) / 100
  for (const c of [...all, ...pinger]) c.close()
  await sleep(leave * 1000)
  const gone = await memoryAfterGc(T, heapDir)
  const half = samples.slice(Math.floor(samples.length / 2))
  const trend = (key) => {
    const perHour = slope(half.filter((x) => x[key] !== null).map((x) => [x.s / 3600, x[key]]))
    return perHour === null ? null : round1(perHour)
  }
  return {
    minutes,
    samples,
    rssFirstMB: samples[0]?.rssMB ?? null,
    rssLastMB: samples[samples.length - 1]?.rssMB ?? null,
    rssMaxMB: Math.max(...samples.map((x) => x.rssMB)),
    rssSlopeMBPerHour: trend('rssMB'),
    rssAfterGcSlopeMBPerHour: trend('rssAfterGcMB'),
    liveHeapFirstMB: samples[0]?.liveHeapMB ?? null,
    liveHeapLastMB: samples[samples.length - 1]?.liveHeapMB ?? null,
    liveHeapSlopeMBPerHour: trend('liveHeapMB'),
    documentsMB,
    empty: memoryMB(empty),
    gone: memoryMB(gone),
    pingP99MaxMs: Math.max(...samples.map((x) => x.pingP99Ms).filter(Number.isFinite)),
    pingP99MedianMs: median(samples.map((x) => x.pingP99Ms).filter(Number.isFinite)),
    deliveryP99MedianMs: median(samples.map((x) => x.deliveryP99Ms).filter(Number.isFinite)),
    joins,
    failedJoins,
    converged,
  }
}

/// Least-squares slope of [x, y] points (null below two).
function slope(points) {
  if (points.length < 2) return null
  const n = points.length
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxx === 0 ? null : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx
}

const scenarios = { typing: timed(editLoad), fanout: timed(editLoad), awareness: timed(awarenessLoad), join, idle, storm, coldload, soak, scaleout }
if (cfg.scenario === 'coldload-prep') {
  try {
    process.stdout.write(JSON.stringify({ prep: await coldloadPrep(cfg.params) }) + '\n')
    process.exit(0)
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error?.stack ?? error) }) + '\n')
    process.exit(1)
  }
}
try {
  const targets = cfg.targets.map(target)
  const results = await scenarios[cfg.scenario](targets, cfg.params)
  const out = {}
  targets.forEach((T, i) => {
    if (T.warmOnly) return
    const result = results[i]
    result.echoes ??= T.echoFrames
    result.echoUpdates = T.echoUpdates
    result.latencyMs = T.hist.summary()
    result.peakRssMB = Math.round(memoryKB(T.pid).peak / 102.4) / 10
    result.closedUnexpectedly = T.closedUnexpectedly
    out[T.name] = result
  })
  process.stdout.write(JSON.stringify(out) + '\n')
  process.exit(0)
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String(error?.stack ?? error) }) + '\n')
  process.exit(1)
}
