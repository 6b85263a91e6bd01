// The differential fuzzer: seeded runs of plain Yjs clients editing every shared type (text,
// formatted text with embeds, XML elements with attributes and marked text, maps, arrays,
// nesting at depth, subdocuments, undo and redo), going offline and sending their backlog out
// of order, through a live server that restarts or is killed. At the end the server's
// document, every client, a later joiner and the stored document must equal plain Yjs having
// applied the same updates, with nothing pending anywhere.
// FUZZ_SEED=<n> replays a run; DIFF_STEPS=<n> makes runs longer (`npm run soak:diff`).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe as group, expect, test } from 'vitest'
import * as Y from 'yjs'
import { SHAPES, describe, pendingIn, randomEdit, sameHistory } from '../server/cli/converge/shapes.js'
import { createRandom, type Random } from '../server/cli/converge/random.js'
import { openStorage } from '../server/storage/open.js'
import { memoryStorage } from '../server/storage/memory.js'
import type { Storage } from '../server/storage/types.js'
import { sleep, startServer, waitFor } from './helpers.js'
import { spawnServer, type ServerProcess } from './serverProcess.js'
import { databaseForFile } from './pgDatabase.js'
import type { ServerOptions } from '../server/server.js'
import { YjsPeer, docOf, removeFormattingAsIn, serverDoc } from './yjsPeer.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261207)
const STEPS = Number(process.env.DIFF_STEPS ?? 1500)
/// Long runs (a soak) need more than the suite's default time limit.
const TIME_LIMIT = 60_000 + STEPS * 40
const dir = mkdtempSync(join(tmpdir(), 'concord-diff-'))
const database = databaseForFile()

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/// A server the run talks to, which it may restart (gracefully or not) midway.
interface Target {
  url(): string
  /// Stop and start the server again; peers find it again by themselves.
  restart(kill: boolean): Promise<void>
  stop(): Promise<void>
  /// The stored document (read once the server has stopped).
  stored(room: string): Promise<Y.Doc>
}

/// Shuffle a backlog: updates sent out of order reach the server before what they build on.
function shuffler(rng: Random): (updates: Uint8Array[]) => Uint8Array[] {
  return (updates) => {
    const out = updates.slice()
    if (!rng.chance(0.5)) return out
    for (let i = out.length - 1; i > 0; i--) {
      const j = rng.int(0, i)
      ;[out[i], out[j]] = [out[j], out[i]]
    }
    return out
  }
}

/// One seeded run; returns a description of every difference found (empty: none).
async function run(target: Target, seed: number, steps: number, restarts: Array<{ at: number; kill: boolean }>): Promise<string[]> {
  const rng = createRandom(seed)
  const room = `diff-${seed}`
  const peers = [0, 1, 2, 3].map((i) => new YjsPeer(target.url(), room, shuffler(rng.fork(`order${i}`))))
  const offline = new Set<YjsPeer>()
  try {
    await Promise.all(peers.map((p) => p.connect()))
    for (let step = 0; step < steps; step++) {
      for (const r of restarts) if (r.at === step) await target.restart(r.kill)
      for (const p of peers) if (!p.online && !offline.has(p)) await p.connect(target.url())
      const peer = rng.pick(peers)
      const r = rng.next()
      if (r < 0.04) {
        if (offline.delete(peer)) await peer.connect(target.url())
        else { offline.add(peer); peer.disconnect() }
      } else if (r < 0.08) peer.undo.undo()
      else if (r < 0.1) peer.undo.redo()
      else randomEdit(peer.doc, rng.pick(SHAPES), rng)
      if (rng.chance(0.1)) await sleep(rng.int(0, 3))
    }
    offline.clear()
    for (const p of peers) if (!p.online) await p.connect(target.url())
    return await check(target, room, peers)
  } finally {
    for (const p of peers) p.destroy()
  }
}

/// Compare everyone with plain Yjs having applied every update the peers made, and the
/// formatting cleanups the server's own Yjs made (as the y-websocket server's document does).
async function check(target: Target, room: string, peers: YjsPeer[]): Promise<string[]> {
  const truth = docOf(peers.flatMap((p) => p.produced))
  for (const u of peers.flatMap((p) => p.received)) removeFormattingAsIn(truth, u)
  const want = describe(truth)
  const sv = (d: Y.Doc) => Buffer.from(Y.encodeStateVector(d)).toString('hex')
  const settled = () => peers.every((p) => p.online && sv(p.doc) === sv(truth) && pendingIn(p.doc) === null)
  await waitFor(settled, 'the peers to settle', 20_000).catch(() => undefined)
  const problems: string[] = []
  if (pendingIn(truth)) problems.push(`plain Yjs itself holds ${pendingIn(truth)}`)
  for (const [i, p] of peers.entries()) {
    if (p.errors.length) problems.push(`peer ${i} failed to apply: ${String(p.errors[0])}`)
    if (p.closeCodes.some((c) => c >= 4000)) problems.push(`peer ${i} was closed with ${p.closeCodes.join(',')}`)
    if (pendingIn(p.doc)) problems.push(`peer ${i} holds ${pendingIn(p.doc)}`)
    if (describe(p.doc) !== want) problems.push(`peer ${i} differs from plain Yjs: ${firstDifference(describe(p.doc), want)}`)
    if (sv(p.doc) !== sv(truth)) problems.push(`peer ${i} has state vector ${sv(p.doc)}, plain Yjs ${sv(truth)}`)
  }
  const live = await serverDoc(target.url().replace(/^ws/, 'http'), room)
  if (describe(live) !== want) problems.push(`the server's document differs: ${firstDifference(describe(live), want)}`)
  if (!sameHistory(live, peers[0].doc)) problems.push(`the server's document and peer 0 differ in items or deletions`)
  const joiner = new YjsPeer(target.url(), room)
  // The server's document read again once the joiner synced: a held batch integrated since
  // the first read may have brought a formatting cleanup (a deletion, which the state vectors
  // compared above do not show), which the joiner and the store then hold too.
  let latest = live
  try {
    await joiner.connect()
    await waitFor(() => sv(joiner.doc) === sv(live), 'the joiner to sync', 10_000).catch(() => undefined)
    latest = await serverDoc(target.url().replace(/^ws/, 'http'), room)
    if (describe(joiner.doc) !== want) problems.push(`a later joiner differs: ${firstDifference(describe(joiner.doc), want)}`)
    if (!sameHistory(joiner.doc, latest)) problems.push(`a later joiner and the server differ in items or deletions`)
  } finally {
    joiner.destroy()
  }
  await target.stop()
  const stored = await target.stored(room)
  if (describe(stored) !== want) problems.push(`the stored document differs: ${firstDifference(describe(stored), want)}`)
  if (!sameHistory(stored, latest)) problems.push(`the stored document and the server's differ in items or deletions`)
  return problems
}

function firstDifference(a: string, b: string): string {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return `at ${i}: …${a.slice(Math.max(0, i - 40), i + 40)}… against …${b.slice(Math.max(0, i - 40), i + 40)}…`
}

/// The stored document of `room` in the store at `url`, read as the server loads it.
async function storedAt(url: string, room: string): Promise<Y.Doc> {
  const store = await openStorage(url)
  try {
    return docOf(await store.load(room))
  } finally {
    await store.close()
  }
}

/// An in-process server over `store`, restarted on a new port.
async function inProcess(store: Storage, options: ServerOptions = {}): Promise<Target> {
  let server = await startServer({ store, ...options })
  return {
    url: () => server.url,
    async restart() {
      await server.close()
      server = await startServer({ store, ...options })
    },
    stop: () => server.close(),
    stored: async (room) => docOf(await store.load(room)),
  }
}

/// The real `concord` process over `storage`, killed with SIGKILL or stopped with SIGTERM.
async function spawned(storage: string): Promise<Target> {
  const flags = ['--storage', storage, '--compact-after-updates', '50']
  let server: ServerProcess = await spawnServer([...flags, '--port', '0'])
  const stop = async (signal: NodeJS.Signals) => {
    server.proc.kill(signal)
    await server.exited
  }
  return {
    url: () => server.url,
    async restart(kill) {
      await stop(kill ? 'SIGKILL' : 'SIGTERM')
      server = await spawnServer([...flags, '--port', String(server.port)])
    },
    stop: () => stop('SIGTERM'),
    stored: (room) => storedAt(storage, room),
  }
}

group('differential fuzz: server, clients, joiner and store equal plain Yjs', () => {
  test('memory store, in-process restarts, rooms falling asleep every few milliseconds', async () => {
    const target = await inProcess(memoryStorage(), { sleepAfterMs: 10 })
    expect(await run(target, SEED, STEPS, [{ at: Math.floor(STEPS / 2), kill: false }])).toEqual([])
  }, TIME_LIMIT)

  test('SQLite, the real process: SIGKILL and SIGTERM midway', async () => {
    const target = await spawned(`sqlite:${join(dir, 'diff.db')}`)
    const at = (f: number) => Math.floor(STEPS * f)
    expect(await run(target, SEED + 1, STEPS, [{ at: at(0.3), kill: true }, { at: at(0.7), kill: false }])).toEqual([])
  }, TIME_LIMIT)

  test('PostgreSQL, the real process: SIGKILL midway', async () => {
    const target = await spawned(database.url)
    expect(await run(target, SEED + 2, STEPS, [{ at: Math.floor(STEPS / 2), kill: true }])).toEqual([])
  }, TIME_LIMIT)
})
