// The README's configuration table must be the one the code has: it is printed from the
// same table as `concord --help`, so a new or changed option fails here until documented.
import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import { formatOptions } from '../server/ops/config.js'

test('README documents every option exactly as server/config.ts defines it', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const begin = '<!-- options:begin -->'
  const end = '<!-- options:end -->'
  const table = readme.slice(readme.indexOf(begin) + begin.length, readme.indexOf(end)).trim()
  expect(readme.includes(begin) && readme.includes(end)).toBe(true)
  expect(table).toBe(formatOptions(true))
})
