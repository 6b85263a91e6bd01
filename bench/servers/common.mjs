import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

// What every server wrapper shares: announce the port on stdout, collect garbage on SIGUSR2
// (so idle memory is measured after a full GC), exit on SIGTERM. With BENCH_MEMORY_LOG set,
// each SIGUSR2 also prints the heap figures to stderr (to see where idle memory goes); with
// BENCH_MEMORY_LOG=snapshot it writes a heap snapshot too.
export function announce(port) {
  process.on('SIGUSR2', () => {
    globalThis.gc?.()
    if (process.env.BENCH_MEMORY_LOG) {
      const m = process.memoryUsage()
      const kb = (n) => Math.round(n / 1024)
      if (process.env.BENCH_MEMORY_LOG === 'snapshot') process.stderr.write(`snapshot ${require('node:v8').writeHeapSnapshot()}\n`)
      process.stderr.write(`memory: rss ${kb(m.rss)} KB, heap used ${kb(m.heapUsed)} KB, external ${kb(m.external)} KB, array buffers ${kb(m.arrayBuffers)} KB\n`)
    }
  })
  process.on('SIGTERM', () => process.exit(0))
  process.stdout.write(JSON.stringify({ port }) + '\n')
}
