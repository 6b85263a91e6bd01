// Builds the editor into dist/editor (or `--outdir DIR`): esbuild bundles, minified, with
// content hashes in their names so the server can cache them for ever; the HTML pages get
// the hashed names filled in. Prints each file's size and gzip size.
import { build } from 'esbuild'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const here = dirname(fileURLToPath(import.meta.url))
const flag = process.argv.indexOf('--outdir')
const outdir = resolve(flag >= 0 ? process.argv[flag + 1] : join(here, '..', 'dist', 'editor'))
const quiet = process.argv.includes('--quiet')

rmSync(outdir, { recursive: true, force: true })
mkdirSync(outdir, { recursive: true })

const result = await build({
  entryPoints: { main: join(here, 'main.ts'), landing: join(here, 'landing.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outdir: join(outdir, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  sourcemap: 'linked',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
})

// Entry name → URL of its JS and CSS, for the page templates.
const assets = new Map()
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  if (!output.entryPoint) continue
  const name = basename(output.entryPoint).replace(/\.ts$/, '')
  const url = (f) => '/' + relative(outdir, resolve(f)).split('\\').join('/')
  assets.set(`js:${name}`, url(file))
  if (output.cssBundle) assets.set(`css:${name}`, url(output.cssBundle))
}
for (const page of ['index.html', 'landing.html']) {
  const html = readFileSync(join(here, page), 'utf8').replace(/\{\{((?:js|css):\w+)\}\}/g, (_, key) => {
    const url = assets.get(key)
    if (!url) throw new Error(`${page}: no built asset for ${key}`)
    return url
  })
  writeFileSync(join(outdir, page), html)
}

if (!quiet) {
  const rows = Object.keys(result.metafile.outputs).filter((f) => /\.(js|css)$/.test(f)).map((f) => {
    const bytes = readFileSync(f)
    return { file: relative(outdir, resolve(f)), size: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }
  })
  const kb = (n) => (n / 1024).toFixed(1).padStart(7) + ' KiB'
  for (const r of rows) process.stdout.write(`${r.file.padEnd(36)} ${kb(r.size)}  gzip ${kb(r.gzip)}\n`)
  const editor = rows.filter((r) => /assets\/main-/.test(r.file))
  const total = editor.reduce((sum, r) => sum + r.gzip, 0)
  process.stdout.write(`editor page total (js + css), gzip: ${kb(total)}\n`)
}
