#!/usr/bin/env node
// The `concord` command. Runs the compiled server (npm run build creates dist/).
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const cli = new URL('../dist/server/cli/main.js', import.meta.url)
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('concord: dist/ is missing; run `npm run build` first\n')
  process.exit(1)
}
const { main } = await import(cli.href)
process.exitCode = await main(process.argv.slice(2))
