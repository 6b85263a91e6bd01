// Prints the options table as markdown, from the compiled config; with --write, replaces the
// table between the markers in README.md (test/readme.test.ts checks they agree).
import { readFileSync, writeFileSync } from 'node:fs'

const { formatOptions } = await import('../dist/server/ops/config.js')
const table = formatOptions(true)
if (process.argv.includes('--write')) {
  const begin = '<!-- options:begin -->'
  const end = '<!-- options:end -->'
  const readme = readFileSync('README.md', 'utf8')
  const head = readme.slice(0, readme.indexOf(begin) + begin.length)
  const tail = readme.slice(readme.indexOf(end))
  writeFileSync('README.md', `${head}\n${table}\n${tail}`)
} else {
  process.stdout.write(table + '\n')
}
