// Concord as in concord.mjs, but storing every update durably in a fresh SQLite file (the
// embedded default), to compare its server CPU with the memory store's.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

process.env.CONCORD_BENCH_STORAGE = `sqlite:${join(mkdtempSync(join(tmpdir(), 'concord-bench-')), 'bench.db')}`
await import('./concord.mjs')
