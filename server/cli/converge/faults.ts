// What a converge run does to the system while it edits: every client's edits on its seeded
// script, its seeded network losses, and the server's restarts and kills.
import type { SimClient } from './client.js'
import type { ConvergeOptions } from './options.js'
import type { Random } from './random.js'
import { createScript } from './script.js'
import type { Supervisor } from './supervisor.js'

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)))

/// One client's edits, on its script's seeded schedule, until `endAt`.
export async function editLoop(c: SimClient, rng: Random, editRate: number, endAt: number): Promise<void> {
  const script = createScript(rng, editRate, c.options.shapes)
  for (;;) {
    const step = script.next(c.text.toString())
    if (Date.now() + step.delayMs >= endAt) return
    await sleep(step.delayMs)
    c.apply(step.edit)
  }
}

/// One client's network losses at seeded times, each for up to `offlineMs`, until `endAt`.
export async function disconnectLoop(c: SimClient, rng: Random, o: ConvergeOptions, endAt: number, faults: { disconnects: number }): Promise<void> {
  for (;;) {
    const wait = rng.waitMs(o.disconnects)
    if (Date.now() + wait >= endAt) return
    await sleep(wait)
    c.goOffline()
    faults.disconnects++
    await sleep(Math.min(rng.int(50, o.offlineMs), endAt - Date.now()))
    c.goOnline()
  }
}

/// Restarts and kills at seeded times within the editing phase, one at a time.
export async function serverFaults(s: Supervisor, rng: Random, o: ConvergeOptions, start: number, faults: { restarts: number; kills: number }): Promise<void> {
  const events: Array<{ at: number; kind: 'restart' | 'kill' }> = []
  const at = () => start + o.seconds * 1000 * (0.1 + 0.75 * rng.next())
  for (let i = 0; i < o.restarts; i++) events.push({ at: at(), kind: 'restart' })
  for (let i = 0; i < o.kills; i++) events.push({ at: at(), kind: 'kill' })
  events.sort((a, b) => a.at - b.at)
  for (const e of events) {
    await sleep(e.at - Date.now())
    await s.ensureRunning()
    if (e.kind === 'restart') {
      await s.restart()
      faults.restarts++
    } else {
      await s.kill()
      faults.kills++
    }
  }
}
