// A self-hoster's install: `npm pack`, then the Dockerfile's steps in an empty folder (its
// install command, its environment, its entry point, its health check), with no TypeScript
// and no build on that side. Needs dist/ (`npm run build`, as CI runs before the tests).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { waitFor } from './helpers.js'

const ROOT = resolve('.')
const dir = mkdtempSync(join(tmpdir(), 'concord-package-'))
let server: ChildProcess | null = null
afterAll(() => {
  server?.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

/// The Dockerfile's final stage: its ENV pairs, its ENTRYPOINT and its HEALTHCHECK command.
function dockerfile(): { env: Record<string, string>; entrypoint: string[]; healthcheck: string; install: string } {
  const text = readFileSync('Dockerfile', 'utf8').replace(/\\\n\s*/g, ' ')
  const final = text.slice(text.lastIndexOf('\nFROM '))
  const env: Record<string, string> = {}
  for (const line of final.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const m of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2]
  }
  const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(final)![1]) as string[]
  const healthcheck = /^HEALTHCHECK .*?CMD (.+)$/m.exec(final)![1]
  const install = /(npm install --omit=dev[^&\n]*)/.exec(text)![1]
  return { env, entrypoint, healthcheck, install }
}

test('npm pack installs with --omit=dev into an empty folder and serves the editor, /healthz and /readyz as the Dockerfile runs it', async () => {
  if (!existsSync('dist/server/cli/main.js') || !existsSync('dist/editor/index.html')) throw new Error('dist/ is missing: run `npm run build` before these tests')
  const docker = dockerfile()
  expect(docker.install).toMatch(/--omit=dev/)

  // The package: built files only (prepack builds; dist/ is already built here).
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, stdio: 'pipe' })
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))!
  const listing = execFileSync('tar', ['-tzf', join(dir, tgz)], { encoding: 'utf8' })
  expect(listing).toMatch(/package\/dist\/server\/cli\/main\.js/)
  expect(listing).toMatch(/package\/dist\/editor\/index\.html/)
  expect(listing).not.toMatch(/package\/(test|server)\//)

  // The Dockerfile's install: deploy/package.json in an empty folder, then the package.
  const app = join(dir, 'app')
  mkdirSync(app)
  copyFileSync('deploy/package.json', join(app, 'package.json'))
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tgz)], { cwd: app, stdio: 'pipe' })
  expect(existsSync(join(app, 'node_modules', 'typescript'))).toBe(false)
  expect(existsSync(join(app, 'node_modules', 'esbuild'))).toBe(false)
  const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version
  expect(execFileSync(join(app, 'node_modules', '.bin', 'concord'), ['--version'], { cwd: app, encoding: 'utf8' }).trim()).toBe(`concord ${version}`)

  // Its start: the entry point with the image's environment (its /data made a folder here).
  const data = join(dir, 'data')
  mkdirSync(data)
  const port = 20000 + Math.floor(Math.random() * 20000)
  const env: NodeJS.ProcessEnv = { ...process.env, CONCORD_PORT: String(port) }
  for (const [k, v] of Object.entries(docker.env)) env[k] = v.replace('/data/', `${data}/`)
  env.CONCORD_HOST = '127.0.0.1' // the image listens on every interface; a test only here
  const [command, ...args] = docker.entrypoint
  server = spawn(command, args, { cwd: app, env, stdio: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  let health = 0
  await waitFor(() => {
    void fetch(`${url}/healthz`).then((r) => { health = r.status }, () => undefined)
    return health === 200
  }, 'the installed server to answer /healthz', 30_000)
  const page = await fetch(`${url}/`)
  expect(page.status).toBe(200)
  expect(await page.text()).toMatch(/<html/i)
  // The image's health check, as Docker runs it (`sh -c`), in the image's environment.
  execFileSync('sh', ['-c', docker.healthcheck], { env })
  expect(existsSync(join(data, 'concord.db'))).toBe(true)
}, 300_000)
