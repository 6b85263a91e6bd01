import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { PerformanceObserver } from 'node:perf_hooks'

const require = createRequire(import.meta.url)

// What every server wrapper shares: announce the port on stdout, collect garbage on SIGUSR2
// (so idle memory is measured after a full GC; with BENCH_HEAP_DIR set, the figures after it
// are written to <pid>.json there, for the soak), exit on SIGTERM. With BENCH_MEMORY_LOG set,
// each SIGUSR2 also prints the heap figures to stderr (to see where idle memory goes); with
// BENCH_MEMORY_LOG=snapshot it writes a heap snapshot too. With BENCH_GC_LOG set, it prints
// on exit how many garbage collections of each kind ran and how long they took.
export function announce(port) {
  const gc = process.env.BENCH_GC_LOG ? gcTally() : null
  process.on('SIGUSR2', () => {
    globalThis.gc?.()
    if (process.env.BENCH_HEAP_DIR) {
      const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage()
      writeFileSync(join(process.env.BENCH_HEAP_DIR, `${process.pid}.json`), JSON.stringify({ rss, heapUsed, heapTotal, external, arrayBuffers }))
    }
    if (process.env.BENCH_MEMORY_LOG) {
      const m = process.memoryUsage()
      const kb = (n) => Math.round(n / 1024)
      if (process.env.BENCH_MEMORY_LOG === 'snapshot') process.stderr.write(`snapshot ${require('node:v8').writeHeapSnapshot()}\n`)
      process.stderr.write(`memory: rss ${kb(m.rss)} KB, heap used ${kb(m.heapUsed)} KB of ${kb(m.heapTotal)} KB, external ${kb(m.external)} KB, array buffers ${kb(m.arrayBuffers)} KB\n`)
    }
  })
  process.on('SIGTERM', () => {
    if (gc) process.stderr.write(`gc of ${process.argv[1].split('/').pop()}: ${gc()}\n`)
    process.exit(0)
  })
  process.stdout.write(JSON.stringify({ port }) + '\n')
}

/// Count garbage collections by kind; returns a function that describes them so far.
function gcTally() {
  const kinds = new Map() // kind -> [count, ms, max ms]
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' }[e.detail?.kind] ?? String(e.detail?.kind)
      const k = kinds.get(kind) ?? [0, 0, 0]
      k[0]++
      k[1] += e.duration
      k[2] = Math.max(k[2], e.duration)
      kinds.set(kind, k)
    }
  }).observe({ entryTypes: ['gc'] })
  return () => [...kinds].map(([kind, [n, ms, max]]) => `${kind} ${n}× ${Math.round(ms)} ms (max ${max.toFixed(1)})`).join(', ')
}
