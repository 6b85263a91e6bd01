// `npm start` on a fresh clone: build once if dist/ (server or editor) is missing.
import { execSync } from 'node:child_process'
import { existsSync } from 'node:fs'

if (!existsSync('dist/server/cli/main.js') || !existsSync('dist/editor/index.html')) {
  process.stderr.write('concord: building (first start)…\n')
  execSync('npm run build', { stdio: 'inherit' })
}
