// Where the package lives, whether its code runs compiled (`dist/server/…`) or as sources
// (`server/…`, under the test runner): the folder holding package.json and dist/.
import { basename, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

/// The package's root folder.
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (basename(dir) !== 'server') dir = dirname(dir)
  dir = dirname(dir)
  return basename(dir) === 'dist' ? dirname(dir) : dir
}
