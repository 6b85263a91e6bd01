// `concord --workers N`: N processes on one machine sharing the listening port (node:cluster
// hands each new TCP connection to one worker), wired into one service through Redis and
// shared storage, so every core is used. The primary only forks, restarts and stops workers.
import cluster from 'node:cluster'
import type { Config } from '../ops/config.js'

/// Why a configuration cannot run with several workers, or null if it can.
export function workersProblem(config: Config): string | null {
  if (config.workers <= 1) return null
  if (!config.redis) return '--workers needs --redis: workers share rooms through Redis'
  if (config.storage === 'memory') return '--workers needs shared storage (postgres://… or sqlite:PATH), not memory'
  return null
}

/// Whether this process should act as the workers' primary.
export function isWorkersPrimary(config: Config): boolean {
  return config.workers > 1 && cluster.isPrimary
}

/// Whether this process is a worker forked by `runWorkers`.
export function isWorker(): boolean {
  return cluster.isWorker
}

/// Run as the primary: fork `config.workers` workers with the same arguments, restart any that
/// crash (at most once a second), and on SIGTERM/SIGINT stop them all gracefully. Resolves
/// with the exit code once every worker has exited.
export function runWorkers(config: Config, log: (message: string) => void): Promise<number> {
  let stopping = false
  let lastRestart = 0
  let finish: () => void = () => undefined
  const fork = () => cluster.fork()
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) finish()
      return
    }
    log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
    const wait = Math.max(0, lastRestart + 1000 - Date.now())
    lastRestart = Date.now() + wait
    setTimeout(fork, wait)
  })
  for (let i = 0; i < config.workers; i++) fork()
  return new Promise((resolve) => {
    finish = () => resolve(0)
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return
      stopping = true
      log(`${signal}: stopping ${config.workers} workers`)
      const workers = Object.values(cluster.workers ?? {})
      if (workers.length === 0) finish()
      // SIGTERM either way: workers ignore SIGINT, which Ctrl-C also sends them directly.
      for (const worker of workers) worker?.process.kill('SIGTERM')
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGINT', () => stop('SIGINT'))
  })
}
