// Builds the editor into dist/editor (or `--outdir DIR`): esbuild bundles, minified, with
// content hashes in their names so the server can cache them for ever; the HTML pages get
// the hashed names filled in. Code only some pages or actions need (the version view of the
// History panel, Markdown highlighting, the Markdown preview) is split into chunks loaded on demand; the chunks a page needs at once are
// preloaded. Prints each file's size and gzip size, and what an editor page loads first.
import { build } from 'esbuild'
import { createHash } from 'node:crypto'
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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
  splitting: true,
  target: 'es2022',
  outdir: join(outdir, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  sourcemap: 'linked',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
})

const url = (f) => '/' + relative(outdir, resolve(f)).split('\\').join('/')
/// Output files `file` imports statically, transitively (what loads before it runs).
function staticImports(file, seen = new Set()) {
  for (const imported of result.metafile.outputs[file]?.imports ?? []) {
    if (imported.kind !== 'import-statement' || seen.has(imported.path)) continue
    seen.add(imported.path)
    staticImports(imported.path, seen)
  }
  return seen
}
// Entry name → URL of its JS, its CSS, and preload links for its chunks, for the page templates.
const assets = new Map()
/// Entry name → every output file its page loads first.
const firstLoad = new Map()
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  if (!output.entryPoint) continue
  const name = basename(output.entryPoint).replace(/\.ts$/, '')
  const chunks = [...staticImports(file)]
  assets.set(`js:${name}`, url(file))
  assets.set(`preload:${name}`, chunks.map((c) => `<link rel="modulepreload" href="${url(c)}">`).join('\n  '))
  if (output.cssBundle) assets.set(`css:${name}`, url(output.cssBundle))
  firstLoad.set(name, [file, ...chunks, ...(output.cssBundle ? [output.cssBundle] : [])])
}
for (const page of ['index.html', 'landing.html']) {
  const html = readFileSync(join(here, page), 'utf8').replace(/\{\{((?:js|css|preload):\w+)\}\}/g, (_, key) => {
    const url = assets.get(key)
    if (url === undefined) throw new Error(`${page}: no built asset for ${key}`)
    return url
  })
  writeFileSync(join(outdir, page), html)
}
copyFileSync(join(here, 'favicon.svg'), join(outdir, 'favicon.svg'))

// The service worker (/sw.js, not hashed: browsers look for it under one name) keeps every
// built file for offline use; its list of them changes with every build that changes a
// file, so browsers notice the new worker and replace the old one.
const offlineFiles = [
  ...Object.keys(result.metafile.outputs).filter((f) => /\.(js|css)$/.test(f)).map(url).sort(),
  '/favicon.svg',
]
await build({
  entryPoints: [join(here, 'sw.ts')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2022',
  outfile: join(outdir, 'sw.js'),
  define: {
    __CONCORD_ASSETS__: JSON.stringify(offlineFiles),
    __CONCORD_VERSION__: JSON.stringify(createHash('sha256').update(offlineFiles.join('\n')).digest('hex').slice(0, 12)),
  },
  logLevel: 'warning',
})

if (!quiet) {
  const rows = new Map(Object.keys(result.metafile.outputs).filter((f) => /\.(js|css)$/.test(f)).map((f) => {
    const bytes = readFileSync(f)
    return [f, { file: relative(outdir, resolve(f)), size: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length }]
  }))
  const kb = (n) => (n / 1024).toFixed(1).padStart(7) + ' KiB'
  for (const r of rows.values()) process.stdout.write(`${r.file.padEnd(36)} ${kb(r.size)}  gzip ${kb(r.gzip)}\n`)
  const editor = firstLoad.get('main').map((f) => rows.get(f)).filter(Boolean)
  const total = editor.reduce((sum, r) => sum + r.gzip, 0)
  process.stdout.write(`editor page first load (js + css), gzip: ${kb(total)}\n`)
  const onDemand = [...rows.entries()].filter(([f]) => /\.js$/.test(f) && !firstLoad.get('main').includes(f) && !firstLoad.get('landing').includes(f))
  if (onDemand.length > 0) {
    process.stdout.write(`loaded on demand (version view, Markdown highlighting, preview), gzip: ${kb(onDemand.reduce((sum, [, r]) => sum + r.gzip, 0))}\n`)
  }
}
