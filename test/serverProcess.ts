// Runs the real `concord` command (bin/concord.js over dist/, built by `npm run build`) as a
// child process, for tests that stop or kill the server.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../bin/concord.js', import.meta.url))

/// A running server process.
export interface ServerProcess {
  proc: ChildProcess
  url: string
  port: number
  /// stdout lines so far (JSON logs).
  lines: string[]
  /// Resolves with the exit code (null when killed by a signal) and the signal.
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/// Start `concord` with these flags; resolves once it listens.
export function spawnServer(args: string[], timeoutMs = 30_000): Promise<ServerProcess> {
  const proc = spawn(process.execPath, [BIN, '--host', '127.0.0.1', '--log-level', 'info', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let stderr = ''
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`server did not start in ${timeoutMs} ms: ${stderr}`))
    }, timeoutMs)
    let buffered = ''
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      const parts = buffered.split('\n')
      buffered = parts.pop()!
      for (const line of parts) {
        lines.push(line)
        const m = /"listening on (ws:\/\/[^"]+)"/.exec(line)
        if (m) {
          clearTimeout(timer)
          const url = m[1]
          resolve({ proc, url, port: Number(new URL(url).port), lines, exited })
        }
      }
    })
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`server exited (${code ?? signal}) before listening: ${stderr}`))
    })
  })
}
