// The folders of server/ are layers: data flows down them, from a socket to a room to its
// store. A module imports from its own folder or from a folder below its own, never from one
// above, and no import cycle exists (type-only imports count: they tie the code as much).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { expect, test } from 'vitest'

const ROOT = 'server'

/// Each folder's layer, lowest first; the files at server/'s top (the wiring, the library's
/// exports) sit above every folder but the CLI.
const LAYERS: Record<string, number> = {
  protocol: 0, // frames, messages, Yjs update reading, close codes, room names
  ops: 1, // configuration, logs, metrics, webhook
  storage: 2, // the stores, group commit, compaction
  room: 3, // one room's rules and the registry of rooms
  cluster: 4, // rooms shared between instances through Redis
  auth: 4, // tokens, grants
  net: 5, // connections, frames on the wire, admission, limits
  http: 6, // routes, the document API, static files, health
  '.': 7, // server.ts wires the parts; index.ts is the library's face
  cli: 8, // the `concord` command, its tools (token, converge)
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : []
  })
}

/// The folder directly under server/ that holds `file` ('.' for the top).
function folderOf(file: string): string {
  const parts = relative(ROOT, file).split('/')
  return parts.length === 1 ? '.' : parts[0]
}

/// The server files `file` imports (relative imports only).
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)\.js'/g)) out.push(normalize(join(dirname(file), m[1] + '.ts')))
  return out
}

const files = sources(ROOT)
const graph = new Map(files.map((f) => [f, importsOf(f)]))

test('every folder of server/ has a layer', () => {
  for (const f of files) expect(LAYERS[folderOf(f)], `${f}'s folder`).toBeTypeOf('number')
})

test('imports point to the same folder or a lower layer', () => {
  const upward: string[] = []
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const a = folderOf(from)
      const b = folderOf(to)
      if (a !== b && LAYERS[b] >= LAYERS[a]) upward.push(`${from} → ${to}`)
    }
  }
  expect(upward).toEqual([])
})

test('no import cycle', () => {
  const cycles: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const path: string[] = []
  const visit = (f: string): void => {
    if (state.get(f) === 'done') return
    if (state.get(f) === 'visiting') {
      cycles.push([...path.slice(path.indexOf(f)), f].join(' → '))
      return
    }
    state.set(f, 'visiting')
    path.push(f)
    for (const to of graph.get(f) ?? []) visit(to)
    path.pop()
    state.set(f, 'done')
  }
  for (const f of files) visit(f)
  expect(cycles).toEqual([])
})
