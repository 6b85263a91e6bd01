// `concord converge …`: parse, run, report. Exit 0 when every room converged, 1 on any
// divergence or echo, 2 for bad arguments or a server that never came up.
import { randomInt } from 'node:crypto'
import { helpText, parseOptions, UsageError } from './options.js'
import { formatReport } from './report.js'
import { runConverge, SetupError } from './run.js'
import { SpawnError } from './supervisor.js'

/// Where the command writes: the report to `out`, progress and errors to `err`.
export interface ConvergeIO {
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream & { isTTY?: boolean }
}

/// Run `concord converge` with these arguments (without the word `converge`).
export async function convergeMain(argv: string[], io: ConvergeIO = { out: process.stdout, err: process.stderr }): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out.write(helpText())
    return 0
  }
  let options
  try {
    options = parseOptions(argv, () => String(randomInt(1, 1_000_000)))
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    io.err.write(`concord converge: ${error.message}\n`)
    return 2
  }
  if (!options.json) io.err.write(`concord converge: seed ${options.seed}\n`)
  let result
  try {
    result = await runConverge(options, { progress: options.quiet ? null : io.err })
  } catch (error) {
    if (!(error instanceof SetupError) && !(error instanceof SpawnError)) throw error
    io.err.write(`concord converge: ${error.message}\n`)
    return 2
  }
  io.out.write(options.json ? JSON.stringify(result, null, 2) + '\n' : formatReport(result))
  return result.ok ? 0 : 1
}
