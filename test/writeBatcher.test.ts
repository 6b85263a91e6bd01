// Group commit: appends of several event-loop turns share one SQLite transaction when a
// commit delay is set, and each append resolves only once its commit is done.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { memoryStorage } from '../server/storage/memory.js'
import { sqliteStorage } from '../server/storage/sqlite.js'
import type { AppendEntry, Storage } from '../server/storage/types.js'
import { appendStored, writeBatcher } from '../server/storage/writeBatcher.js'

const dirs: string[] = []
const stores: Storage[] = []
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/// A real SQLite store that records the size of each `append` call (each is one transaction).
function countingStore(): { store: Storage; commits: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'concord-batch-'))
  dirs.push(dir)
  const store = sqliteStorage(join(dir, 'db.sqlite'))
  stores.push(store)
  const commits: number[] = []
  const append = store.append.bind(store)
  store.append = (entries: readonly AppendEntry[]) => {
    commits.push(entries.length)
    return append(entries)
  }
  return { store, commits }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
const update = (n: number) => Uint8Array.of(n)

it('without a delay, each event-loop turn commits on its own', async () => {
  const { store, commits } = countingStore()
  const writes = writeBatcher(store, 0)
  const done: Promise<void>[] = []
  for (let i = 0; i < 5; i++) {
    done.push(appendStored(writes, 'r', update(i)))
    await turn()
  }
  await Promise.all(done)
  expect(commits).toEqual([1, 1, 1, 1, 1])
})

it('with a delay, the appends of several turns share one commit, and resolve after it', async () => {
  const { store, commits } = countingStore()
  const writes = writeBatcher(store, 50)
  const resolved: number[] = []
  const done: Promise<void>[] = []
  for (let i = 0; i < 5; i++) {
    done.push(appendStored(writes, i % 2 ? 'a' : 'b', update(i)).then(() => { resolved.push(i) }))
    await turn()
  }
  expect(commits).toEqual([]) // nothing committed (nor acknowledged) before the delay
  expect(resolved).toEqual([])
  await Promise.all(done)
  expect(commits).toEqual([5])
  expect(resolved).toEqual([0, 1, 2, 3, 4])
  expect((await store.load('a')).map((u) => u[0])).toEqual([1, 3])
  expect((await store.load('b')).map((u) => u[0])).toEqual([0, 2, 4])
})

it('drain commits at once instead of waiting for the delay', async () => {
  const { store, commits } = countingStore()
  // A delay far past the test's time limit: only a drain that does not wait can finish.
  const writes = writeBatcher(store, 3_600_000)
  const stored = appendStored(writes, 'r', update(7))
  expect(commits).toEqual([])
  await writes.drain()
  await stored
  expect(commits).toEqual([1])
  expect((await store.load('r')).map((u) => u[0])).toEqual([7])
})

it("a failed commit reaches every append of its batch, and the next batch is written", async () => {
  const { store, commits } = countingStore()
  const append = store.append.bind(store)
  let failNext = true
  store.append = (entries: readonly AppendEntry[]) => {
    if (!failNext) return append(entries)
    failNext = false
    return Promise.reject(new Error('disk full'))
  }
  const stored: string[] = []
  const writes = writeBatcher(store, 0, (entries) => { for (const e of entries) stored.push(`${e.room}:${e.update[0]}`) })
  const failed = await Promise.allSettled([appendStored(writes, 'a', update(1)), appendStored(writes, 'b', update(2)), appendStored(writes, 'a', null)])
  expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
  expect(String((failed[0] as PromiseRejectedResult).reason)).toContain('disk full')
  expect(stored).toEqual([]) // nothing is reported stored (no compaction count, no webhook)
  await appendStored(writes, 'a', update(3))
  expect(stored).toEqual(['a:3'])
  expect((await store.load('a')).map((u) => u[0])).toEqual([3])
  expect(commits).toEqual([1]) // the failed call never reached SQLite
})

it('a store without I/O (memory) is written at once: stored before append returns, failures reported later', async () => {
  const store = memoryStorage()
  const stored: string[] = []
  const writes = writeBatcher(store, 5, (entries) => { for (const e of entries) stored.push(`${e.room}:${e.update[0]}`) })
  const outcomes: unknown[] = []
  writes.append('r', update(1), (error) => outcomes.push(error ?? 'ok'))
  expect(outcomes).toEqual(['ok']) // no 5 ms wait, no turn: nothing to wait for
  expect(stored).toEqual(['r:1'])
  expect((await store.load('r')).map((u) => u[0])).toEqual([1])
  await store.close()
  writes.append('r', update(2), (error) => outcomes.push(error))
  expect(outcomes).toHaveLength(1) // a failure reaches the caller asynchronously, as a write's would
  await writes.drain()
  await new Promise<void>((resolve) => queueMicrotask(resolve))
  expect(String(outcomes[1])).toContain('closed')
  expect(stored).toEqual(['r:1'])
})
