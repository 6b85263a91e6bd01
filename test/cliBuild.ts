// The `concord` CLI compiled as `npm run build` would (one bundle of server/cli/main.ts), in a
// folder of the calling test file's own, run by node as `concord` runs it.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'

/// Bundle the CLI into a fresh folder under test-artifacts/; returns the folder and the
/// script to run with node.
export async function buildCli(prefix: string): Promise<{ dir: string; runner: string }> {
  mkdirSync('test-artifacts', { recursive: true })
  const dir = mkdtempSync(resolve('test-artifacts', prefix))
  await build({
    entryPoints: ['server/cli/main.ts'], bundle: true, platform: 'node', format: 'esm', target: 'node20',
    packages: 'external', outfile: join(dir, 'cli.mjs'), logLevel: 'silent',
  })
  const runner = join(dir, 'concord.mjs')
  writeFileSync(runner, "import { main } from './cli.mjs'\nprocess.exitCode = await main(process.argv.slice(2))\n")
  return { dir, runner }
}
