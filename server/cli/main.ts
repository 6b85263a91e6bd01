// The `concord` command: parse options, start the server, stop gracefully on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, formatOptions, resolveConfig } from '../ops/config.js'
import { packageRoot } from '../ops/packageRoot.js'
import { tokenCommand } from '../auth/token.js'
import { isWorker, isWorkersPrimary, runWorkers, workersProblem } from './workers.js'

const HELP = `Usage: concord [options]
       concord --version
       concord token --room PATTERN --access read|write|admin --ttl 1h   (print a token; see concord token --help)
       concord rooms|export|import|delete|backup|restore …   (documents in and out; see concord rooms --help)
       concord converge --url ws://HOST:PORT   (convergence and chaos test; see concord converge --help)

A real-time collaboration server for Yjs documents (y-websocket protocol).
Clients connect to ws://HOST:PORT/<room>; the editor is served at http://HOST:PORT/.

Options (flag, environment variable, default):
${formatOptions(false)}
`

/// Subcommands that move documents (see `documents.ts`).
const DOCUMENT_COMMANDS = new Set(['rooms', 'export', 'import', 'delete', 'backup', 'restore'])

/// The package's version, from its package.json (above `server/`, or `dist/server/`).
export function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version
}

/// Run the command line; resolves when the server has stopped.
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-v') {
    process.stdout.write(`concord ${version()}\n`)
    return 0
  }
  if (argv[0] === 'token') return tokenCommand(argv.slice(1), process.env)
  if (DOCUMENT_COMMANDS.has(argv[0])) return (await import('./documents.js')).documentsCommand(argv, process.env)
  // `concord converge …` is the convergence tester, loaded only when asked for.
  if (argv[0] === 'converge') return (await import('./converge/main.js')).convergeMain(argv.slice(1))
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP)
    return 0
  }
  let config
  try {
    config = resolveConfig(argv, process.env)
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`concord: ${error.message}\n`)
      return 2
    }
    throw error
  }
  const problem = workersProblem(config)
  if (problem) {
    process.stderr.write(`concord: ${problem}\n`)
    return 2
  }
  if (isWorkersPrimary(config)) {
    return runWorkers(config, (message) => process.stdout.write(JSON.stringify({ service: 'concord', pid: process.pid, msg: message }) + '\n'))
  }
  // Loaded only once the options are valid, so a bad option fails fast.
  const { createServer } = await import('../server.js')
  let server
  let address
  try {
    server = await createServer(config)
    address = await server.listen()
  } catch (error) {
    // Options that parse but do not work (a missing key file) exit 2; a store that cannot be
    // opened or a port in use exit 1. Either way, say so plainly.
    const bad = error instanceof ConfigError
    process.stderr.write(`concord: ${bad ? '' : 'cannot start: '}${(error as Error).message}\n`)
    await server?.close().catch(() => undefined)
    return bad ? 2 : 1
  }
  server.log.info({ host: address.address, port: address.port, storage: config.storage }, `listening on ${server.url}`)
  // The address a person opens: ws→http, and a wildcard host as this machine.
  if (config.editor) server.log.info(`editor at ${server.url.replace(/^ws/, 'http').replace(/\/\/(0\.0\.0\.0|\[::\])(?=:)/, '//localhost')}/`)
  return new Promise((resolve) => {
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) {
        // A second signal: the operator does not want to wait for the flush.
        server.log.warn({ signal }, 'second signal: exiting without finishing the shutdown')
        process.exit(1)
      }
      stopping = true
      server.log.info({ signal }, 'shutting down')
      // Bound the shutdown: a hung store must not keep a deployment from restarting.
      const timer = setTimeout(() => {
        server.log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting')
        process.exit(1)
      }, config.shutdownTimeoutMs)
      server.close().then(
        () => {
          clearTimeout(timer)
          server.log.info('stopped')
          if (isWorker()) process.disconnect() // the IPC channel would keep a worker alive
          resolve(0)
        },
        (error: unknown) => {
          clearTimeout(timer)
          server.log.error({ err: error }, 'shutdown failed')
          resolve(1)
        },
      )
    }
    process.on('SIGTERM', () => stop('SIGTERM'))
    // A worker whose primary died stops too, rather than serve on unsupervised.
    if (isWorker()) process.once('disconnect', () => { if (!stopping) stop('primary gone') })
    // A worker's SIGINT comes from the terminal's Ctrl-C: its primary sends it SIGTERM.
    process.on('SIGINT', () => (isWorker() ? undefined : stop('SIGINT')))
  })
}
