// A seeded fuzz run against a live server: many connections throw random and mutated frames
// (truncated varints, huge length prefixes, wrong types, invalid UTF-8 and JSON, garbage Yjs
// updates, text frames, oversized frames) while honest clients keep editing the same room.
// The server must never crash, honest clients must converge with the server's document,
// memory must stay bounded, and every connection the server closes gets 4400–4499 or 1009.
// The attack (test/fuzzAttack.ts) runs in a worker thread. Reproduce a run with
// FUZZ_SEED=<seed>; FUZZ_FRAMES sets the number of frames.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Worker } from 'node:worker_threads'
import { build } from 'esbuild'
import { afterAll, expect, test } from 'vitest'
import * as Y from 'yjs'
import type { ConcordServer } from '../server/server.js'
import { MAX_MESSAGE, type AttackResult } from './fuzzAttack.js'
import { startServer, TestClient, waitFor } from './helpers.js'
import { mulberry32 as prng } from './random.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261122)
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000)
const ROOM = 'fuzz'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void


/// Run the attack in a worker thread (bundled, since workers do not load TypeScript).
async function runAttack(options: { url: string; rooms: string[]; frames: number; seed: number; loops: number }): Promise<AttackResult> {
  mkdirSync('test-artifacts', { recursive: true })
  const dir = mkdtempSync(resolve('test-artifacts', 'fuzz-'))
  try {
    const file = join(dir, 'worker.mjs')
    await build({
      entryPoints: ['test/fuzzWorker.ts'], bundle: true, platform: 'node', format: 'esm', target: 'node20',
      packages: 'external', outfile: file, logLevel: 'silent',
    })
    const worker = new Worker(file, { workerData: options })
    return await new Promise<AttackResult>((done, fail) => {
      worker.once('message', done)
      worker.once('error', fail)
      worker.once('exit', (code) => fail(new Error(`fuzz worker exited with ${code}`)))
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/// An honest client that records (rather than throws) any error applying what it receives.
function honest(server: ConcordServer, errors: unknown[]): Promise<TestClient> {
  const c = new TestClient(server.url, ROOM)
  const listeners = c.ws.listeners('message') as Array<(data: Buffer) => void>
  c.ws.removeAllListeners('message')
  c.ws.on('message', (data: Buffer) => {
    try { for (const l of listeners) l(data) } catch (error) { errors.push(error) }
  })
  return c.connect()
}

let server: ConcordServer | undefined
afterAll(async () => { await server?.close() })

test(`fuzz: ${FRAMES} hostile frames (seed ${SEED}) while honest clients edit`, async () => {
  // The rate limit is raised (not off): the fuzz is about content, flood.test.ts about rates.
  server = await startServer({ maxMessageBytes: MAX_MESSAGE, unloadAfterMs: 1000, messagesPerSecond: 1_000_000, messageBurst: 10_000 })
  const live = server
  const honestErrors: unknown[] = []
  const editors = await Promise.all([0, 1, 2].map(() => honest(live, honestErrors)))
  for (const [i, e] of editors.entries()) e.awareness.setLocalStateField('user', { name: `honest-${i}` })

  // Honest editing runs throughout, on its own schedule.
  let editing = true
  let edits = 0
  const editRand = prng(SEED ^ 0x5eed)
  const editLoop = (async () => {
    while (editing) {
      const e = editors[Math.floor(editRand() * editors.length)]
      const text = e.doc.getText('t')
      if (editRand() < 0.2 && text.length > 4) text.delete(Math.floor(editRand() * (text.length - 2)), 2)
      else text.insert(Math.floor(editRand() * (text.length + 1)), `h${edits}`)
      edits++
      await new Promise((r) => setTimeout(r, 20))
    }
  })()

  gc()
  const heapBefore = process.memoryUsage().heapUsed
  let heapPeak = heapBefore
  const sampler = setInterval(() => { heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed) }, 250)

  // Two loops attack the honest clients' room; the others each have a room of their own.
  const result = await runAttack({
    url: live.url, rooms: [ROOM, ROOM, `${ROOM}-2`, `${ROOM}-3`, `${ROOM}-4`, `${ROOM}-5`], frames: FRAMES, seed: SEED, loops: 6,
  })
  const { sent, connectionsOpened, survivedFatal, badCloses, seconds } = result
  const closeCodes = new Map(Object.entries(result.closeCodes).map(([k, v]) => [Number(k), v]))
  clearInterval(sampler)
  editing = false
  await editLoop

  // Honest clients converge with each other and with the server's document.
  const serverText = () => live.rooms.get(ROOM)?.document.doc.getText('t').toString()
  await waitFor(() => editors.every((e) => e.text === serverText()), 'honest clients to converge', 30_000).catch((error: unknown) => {
    console.log('DIVERGED', { server: serverText(), clients: editors.map((e) => [e.text, e.closeCode, e.closeReason]), honestErrors, codes: Object.fromEntries(closeCodes), sent, edits })
    throw error
  })
  for (const e of editors) {
    expect(e.closeCode).toBeNull()
    expect(Y.encodeStateVector(e.doc)).toEqual(Y.encodeStateVector(live.rooms.get(ROOM)!.document.doc))
  }
  expect(honestErrors).toEqual([])

  // Memory stays bounded and the fuzz connections are all gone.
  gc()
  const heapAfter = process.memoryUsage().heapUsed
  const presence = live.rooms.get(ROOM)!.presence
  await waitFor(() => live.connections.size === editors.length, 'fuzz connections to be gone', 30_000)
  const health = await fetch(`${live.url.replace('ws', 'http')}/healthz`).then((r) => r.json())
  expect(health.status).toBe('ok')

  const closes = [...closeCodes.values()].reduce((a, b) => a + b, 0)
  console.log(
    `fuzz seed ${SEED}: ${sent} frames over ${connectionsOpened} connections in ${seconds.toFixed(1)} s ` +
    `= ${Math.round(sent / seconds)} frames/s; honest edits ${edits}; close codes ${JSON.stringify(Object.fromEntries(closeCodes))}; ` +
    `heap before ${(heapBefore / 1e6).toFixed(1)} MB, peak ${(heapPeak / 1e6).toFixed(1)} MB, after ${(heapAfter / 1e6).toFixed(1)} MB; ` +
    `presence entries ${presence.entries.size}`,
  )
  expect(sent).toBeGreaterThanOrEqual(FRAMES)
  expect(badCloses).toEqual([])
  expect(survivedFatal).toBe(0)
  // Every kind of broken frame closed someone: 4400 (malformed) and 1009 (too large) at least.
  expect(closeCodes.get(4400) ?? 0).toBeGreaterThan(FRAMES / 1000)
  expect(closeCodes.get(1009) ?? 0).toBeGreaterThan(0)
  expect(closes).toBeGreaterThan(connectionsOpened * 0.3)
  expect(heapAfter - heapBefore).toBeLessThan(64 * 1024 * 1024)
  expect(heapPeak - heapBefore).toBeLessThan(128 * 1024 * 1024)
  expect(presence.entries.size).toBeLessThan(10_000)

  for (const e of editors) e.destroy()
}, 300_000)
