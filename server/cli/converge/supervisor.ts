// Starts the server under test (`--spawn "<command>"`), and restarts or SIGKILLs it on
// request. The command runs in its own process group, so signals reach the server and not
// just the shell around it.
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'

/// A supervised server process.
export interface Supervisor {
  readonly port: number
  /// Graceful restarts and SIGKILLs done, and exits nobody asked for.
  readonly counts: { restarts: number; kills: number; crashes: number }
  /// SIGTERM, wait for the exit, start again and wait until the port accepts connections.
  restart(): Promise<void>
  /// SIGKILL, then start again.
  kill(): Promise<void>
  /// Start the server again if it exited on its own (a crash, counted in `crashes`).
  ensureRunning(): Promise<void>
  /// Stop for good (SIGTERM, SIGKILL after 10 s).
  stop(): Promise<void>
  /// The last lines the server printed, for the report when something goes wrong.
  logTail(): string[]
}

/// Raised when the server does not come up.
export class SpawnError extends Error {
  override name = 'SpawnError'
}

/// A free TCP port on 127.0.0.1.
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

/// Start `command` (with `{port}` replaced, and PORT and CONCORD_PORT set) and wait until
/// its port accepts connections.
export async function startSupervisor(command: string, requestedPort: number, readyTimeoutMs = 30_000): Promise<Supervisor> {
  const port = requestedPort || (await freePort())
  const counts = { restarts: 0, kills: 0, crashes: 0 }
  const tail: string[] = []
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()
  let expectingExit = false

  const remember = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue
      tail.push(line.length > 500 ? line.slice(0, 500) + '…' : line)
      if (tail.length > 40) tail.shift()
    }
  }

  async function start(): Promise<void> {
    expectingExit = false
    const proc = spawn('sh', ['-c', command.replaceAll('{port}', String(port))], {
      env: { ...process.env, PORT: String(port), CONCORD_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    child = proc
    proc.stdout?.on('data', remember)
    proc.stderr?.on('data', remember)
    let done = false
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        done = true
        if (child === proc) child = null
        if (!expectingExit) {
          counts.crashes++
          tail.push(`[converge] server exited unexpectedly (code ${code}, signal ${signal})`)
        }
        resolve()
      })
    })
    const deadline = Date.now() + readyTimeoutMs
    while (!(await accepts(port))) {
      if (done) throw new SpawnError(`the server command exited before listening on port ${port}`)
      if (Date.now() > deadline) throw new SpawnError(`the server did not listen on port ${port} within ${readyTimeoutMs / 1000} s`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  function signal(sig: NodeJS.Signals): void {
    const pid = child?.pid
    if (pid === undefined) return
    try {
      process.kill(-pid, sig) // the whole group this supervisor started
    } catch {
      // already gone
    }
  }

  async function stopChild(sig: NodeJS.Signals): Promise<void> {
    if (!child) return // it crashed: `start` below brings it back
    expectingExit = true
    signal(sig)
    const timer = setTimeout(() => signal('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }

  await start()
  return {
    port,
    counts,
    async restart() {
      await stopChild('SIGTERM')
      counts.restarts++
      await start()
    },
    async kill() {
      await stopChild('SIGKILL')
      counts.kills++
      await start()
    },
    async ensureRunning() {
      if (!child) await start()
    },
    async stop() {
      await stopChild('SIGTERM')
    },
    logTail: () => tail.slice(),
  }
}
