// The `concord` command: parse options, start the server, stop gracefully on SIGTERM/SIGINT.
import { ConfigError, formatOptions, resolveConfig } from './config.js'
import { createServer } from './server.js'
import { tokenCommand } from './token.js'

const HELP = `Usage: concord [options]
       concord token --room PATTERN --access read|write --ttl 1h   (print a token; see concord token --help)

A real-time collaboration server for Yjs documents (y-websocket protocol).
Clients connect to ws://HOST:PORT/<room>; the editor is served at http://HOST:PORT/.

Options (flag, environment variable, default):
${formatOptions(false)}
`

/// Run the command line; resolves when the server has stopped.
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'token') return tokenCommand(argv.slice(1), process.env)
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
  const server = await createServer(config)
  const address = await server.listen()
  server.log.info({ host: address.address, port: address.port, storage: config.storage }, `listening on ${server.url}`)
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      server.log.info({ signal }, 'shutting down')
      server.close().then(
        () => resolve(0),
        (error: unknown) => {
          server.log.error({ err: error }, 'shutdown failed')
          resolve(1)
        },
      )
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
}
