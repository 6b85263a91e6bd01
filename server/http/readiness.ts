// GET /readyz: whether this instance should receive traffic. A small registry of named async
// checks (storage, Redis, anything an embedder adds); ready when every check passes within
// its time limit and the server is not shutting down.
import type { ServerResponse } from 'node:http'

/// A readiness check: resolves when the dependency answers, rejects (or hangs) when not.
export type ReadinessCheck = () => Promise<unknown>

/// Outcome of one check.
export interface CheckResult {
  ok: boolean
  /// Milliseconds the check took (or the time limit, if it timed out).
  ms: number
  error?: string
}

/// Outcome of all checks.
export interface ReadinessReport {
  ready: boolean
  checks: Record<string, CheckResult>
}

/// The named checks of one server.
export interface Readiness {
  /// Add (or replace) a check under a name, e.g. `storage` or `redis`.
  add(name: string, check: ReadinessCheck): void
  /// Remove a check.
  remove(name: string): void
  /// Run every check at once, each bounded by the time limit.
  run(): Promise<ReadinessReport>
}

/// Create a registry whose checks each fail after `timeoutMs`.
export function createReadiness(timeoutMs: number): Readiness {
  const checks = new Map<string, ReadinessCheck>()

  async function runOne(check: ReadinessCheck): Promise<CheckResult> {
    const start = Date.now()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      await Promise.race([Promise.resolve().then(check), timeout])
      return { ok: true, ms: Date.now() - start }
    } catch (error) {
      return { ok: false, ms: Date.now() - start, error: error instanceof Error ? error.message : String(error) }
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    add: (name, check) => void checks.set(name, check),
    remove: (name) => void checks.delete(name),
    async run() {
      const entries = [...checks]
      const results = await Promise.all(entries.map(([, check]) => runOne(check)))
      const report: ReadinessReport = { ready: true, checks: {} }
      entries.forEach(([name], i) => {
        report.checks[name] = results[i]
        if (!results[i].ok) report.ready = false
      })
      return report
    },
  }
}

/// Answer /readyz: 200 when ready, 503 with the failing checks otherwise.
export async function sendReadiness(res: ServerResponse, readiness: Readiness, shuttingDown: boolean): Promise<void> {
  const report = shuttingDown ? { ready: false, checks: {} } : await readiness.run()
  const body = JSON.stringify({
    status: report.ready ? 'ready' : shuttingDown ? 'shutting down' : 'not ready',
    checks: report.checks,
  })
  res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(body)
}
