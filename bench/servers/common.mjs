// What every server wrapper shares: announce the port on stdout, collect garbage on SIGUSR2
// (so idle memory is measured after a full GC), exit on SIGTERM.
export function announce(port) {
  process.on('SIGUSR2', () => globalThis.gc?.())
  process.on('SIGTERM', () => process.exit(0))
  process.stdout.write(JSON.stringify({ port }) + '\n')
}
