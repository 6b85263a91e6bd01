// `npm test`: runs vitest with its JSON reporter beside the default one, then prints the
// plain `N passed, N failed` line CI reads. Exits with vitest's exit code.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'

mkdirSync('test-artifacts', { recursive: true })
const out = 'test-artifacts/vitest.json'
const run = spawnSync(
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
)
let line = 'tests: 0 passed, 1 failed'
try {
  const r = JSON.parse(readFileSync(out, 'utf8'))
  line = `tests: ${r.numPassedTests} passed, ${r.numFailedTests + (r.numRuntimeErrorTests ?? 0)} failed, ${r.numPendingTests + r.numTodoTests} skipped`
} catch {
  // vitest died before writing its report: count that as a failure.
}
process.stdout.write(`\n${line}\n`)
process.exit(run.status ?? 1)
