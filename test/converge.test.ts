// `concord converge` against real servers: Concord in-process (memory), Concord spawned
// with restarts and SIGKILLs, and a deliberately broken relay, which the tool must catch.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, describe, expect, test } from 'vitest'
import * as Y from 'yjs'
import { checkRoom, docFrom } from '../server/cli/converge/checker.js'
import { editedRoots, SimClient } from '../server/cli/converge/client.js'
import type { ConvergeResult } from '../server/cli/converge/report.js'
import { convergeMain } from '../server/cli/converge/main.js'
import { parseOptions, replayCommand, UsageError } from '../server/cli/converge/options.js'
import { createRandom } from '../server/cli/converge/random.js'
import { createScript } from '../server/cli/converge/script.js'
import { describe as picture, randomEdit, SHAPES, type Shape } from '../server/cli/converge/shapes.js'
import { createToken, parseTokenArgs } from '../server/auth/token.js'
import { startBrokenRelay, type RelayMode } from './brokenRelay.js'
import { startServer } from './helpers.js'

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _enc, done) {
      w.text += chunk.toString()
      done()
    },
  }) as Writable & { text: string }
  w.text = ''
  return w
}

/// Run the command in-process; returns its exit code, report text and stderr.
async function converge(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = sink()
  const err = sink()
  const code = await convergeMain([...args, '--quiet'], { out, err })
  return { code, out: out.text, err: err.text }
}

async function convergeJson(args: string[]): Promise<{ code: number; result: ConvergeResult }> {
  const { code, out, err } = await converge([...args, '--json'])
  if (!out.startsWith('{')) throw new Error(`no JSON report (exit ${code}): ${err}`)
  return { code, result: JSON.parse(out) as ConvergeResult }
}

// Small, seeded and busy: a few seconds of editing with every client-side fault often.
const SMALL = ['--clients', '6', '--rooms', '2', '--seconds', '3', '--edit-rate', '20', '--settle', '15']
const CHAOS = ['--latency', '20', '--stalls', '30', '--stall-ms', '400', '--resets', '20', '--disconnects', '20', '--offline-ms', '800']
// Reconnects heal lost updates (the sync exchange resends them), so the broken relay is run
// without them: what is lost stays lost, as it would between two reconnects.
const STEADY = ['--stalls', '0', '--resets', '0', '--disconnects', '0']

describe('against Concord', () => {
  test('converges under proxy faults and client disconnects (memory storage)', async () => {
    const server = await startServer()
    try {
      const { code, result } = await convergeJson(['--url', server.url, '--seed', '101', ...SMALL, ...CHAOS])
      expect(result.problems).toEqual([])
      expect(result.results.flatMap((r) => r.problems)).toEqual([])
      expect(code).toBe(0)
      expect(result.ok).toBe(true)
      expect(result.totals.edits).toBeGreaterThan(50)
      expect(result.totals.undos).toBeGreaterThan(0)
      expect(result.faults.disconnects + result.faults.resets).toBeGreaterThan(0)
      expect(result.faults.stalls).toBeGreaterThan(0)
      for (const room of result.results) {
        expect(room.distinctStates).toBe(1)
        expect(room.replicas).toBe(3)
        expect(room.echo).toBe('none')
        expect(room.stored).toBe('equal') // GET /api/rooms/<room>/update
      }
    } finally {
      await server.close()
    }
  })

  test('converges across server restarts and SIGKILLs of a spawned server (SQLite storage)', async () => {
    ensureBuilt()
    const dir = mkdtempSync(join(tmpdir(), 'concord-converge-'))
    const storage = `sqlite:${join(dir, 'concord.db')}`
    try {
      const { code, result } = await convergeJson([
        '--spawn', `node bin/concord.js --port {port} --log-level warn --editor false --storage ${storage}`,
        '--seed', '202', '--restarts', '1', '--kills', '1', ...SMALL, ...CHAOS,
      ])
      expect(result.problems).toEqual([])
      expect(result.results.flatMap((r) => r.problems)).toEqual([])
      expect(code).toBe(0)
      expect(result.faults.restarts).toBe(1)
      expect(result.faults.kills).toBe(1)
      expect(result.results.every((r) => r.distinctStates === 1)).toBe(true)
      // What SQLite holds after the last restart equals what the clients hold.
      expect(result.results.map((r) => r.stored)).toEqual(['equal', 'equal'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

test('with token auth: refused without --token (exit 2, says why), converges with one', async () => {
  const authSecret = 'converge-test-secret-0123456789abcdef'
  const server = await startServer({ authSecret })
  try {
    const refused = await converge(['--url', server.url, '--seconds', '1', '--settle', '2', '--clients', '2', '--rooms', '1'])
    expect(refused.code).toBe(2)
    expect(refused.err).toContain('Unexpected server response: 401')
    const token = await createToken(parseTokenArgs(['--room', 'converge-*', '--access', 'write', '--auth-secret', authSecret], {}))
    const { code, result } = await convergeJson(['--url', server.url, '--token', token, '--seed', '707', ...SMALL])
    expect(code).toBe(0)
    expect(result.results.map((r) => r.stored)).toEqual(['equal', 'equal']) // the API took the token too
    expect(result.replay).toContain('--token "$TOKEN"')
    expect(result.replay).not.toContain(token)
  } finally {
    await server.close()
  }
})

describe('against a broken relay', () => {
  const relays: Array<{ close(): Promise<void> }> = []
  afterAll(async () => {
    for (const r of relays) await r.close()
  })
  async function relay(mode: RelayMode, every = 10, root?: string) {
    const r = await startBrokenRelay(mode, every, root)
    relays.push(r)
    return r
  }

  test('a correct minimal relay passes with every type, stored copy included', async () => {
    const r = await relay('ok')
    const { code, result } = await convergeJson(['--url', r.url, '--seed', '303', ...SMALL, ...CHAOS])
    expect(result.types).toEqual([...SHAPES]) // the default
    expect(result.results.flatMap((x) => x.problems)).toEqual([])
    expect(code).toBe(0)
    expect(result.results.map((x) => x.stored)).toEqual(['equal', 'equal'])
    expect(result.results.map((x) => x.differing)).toEqual([[], []])
  })

  // Each shape lives under the root of its name (shapes.ts `rootOf`).
  test.each(['xml', 'rich'] as const)('a server losing only %s updates fails with that type alone (exit 1, names it) and passes every other type', async (shape) => {
    const r = await relay('lose', 10, shape)
    const failed = await converge(['--url', r.url, '--seed', '808', '--types', shape, ...SMALL])
    expect(r.broken).toBeGreaterThan(0)
    expect(failed.code).toBe(1)
    expect(failed.out).toMatch(/^concord converge: DIVERGED \(seed 808\)/)
    expect(failed.out).toContain(`FAILED`)
    expect(failed.out).toContain(`differing in ${shape}`)
    expect(failed.out).toMatch(new RegExp(`c\\d ${shape} differs from the expected content: its JSON first differs at character \\d+`))
    expect(failed.out).toContain(`--types ${shape}`) // in the replay command
    const lost = r.broken
    const others = SHAPES.filter((s) => s !== shape).join(',')
    const { code, result } = await convergeJson(['--url', r.url, '--seed', '808', '--types', others, ...SMALL])
    expect(result.results.flatMap((x) => x.problems)).toEqual([])
    expect(code).toBe(0)
    expect(r.broken).toBe(lost) // nothing of the other types was lost
  })

  test('dropping one update in ten is reported as divergence, exit 1, with a replay command', async () => {
    const r = await relay('drop')
    const { code, out } = await converge(['--url', r.url, '--seed', '404', ...SMALL, ...STEADY])
    expect(r.broken).toBeGreaterThan(0)
    expect(code).toBe(1)
    expect(out).toMatch(/^concord converge: DIVERGED \(seed 404\)/)
    expect(out).toMatch(/c\d lacks what was typed at c\d's clocks \d+–\d+/)
    expect(out).toMatch(/is missing \d+ of \d+ edits: c\d+:\d+/)
    expect(out).toContain(`replay with: npx concord converge --url ${r.url}`)
    expect(out).toContain('--seed 404')
  })

  test('echoing updates to their sender is reported, exit 1; --allow-echo accepts it', async () => {
    const r = await relay('echo')
    const failed = await convergeJson(['--url', r.url, '--seed', '505', ...SMALL, ...CHAOS])
    expect(failed.code).toBe(1)
    expect(failed.result.results.map((x) => x.echo)).toEqual(['echoed', 'echoed'])
    const kinds = new Set(failed.result.results.flatMap((x) => x.problems.map((p) => p.kind)))
    expect([...kinds]).toEqual(['echo']) // echoes, yet everything converged
    const allowed = await converge(['--url', r.url, '--seed', '505', ...SMALL, '--allow-echo'])
    expect(allowed.code).toBe(0)
    expect(allowed.out).toMatch(/echo echoed/)
  })

  test('a stored copy that misses updates is reported even when replicas agree', async () => {
    const r = await relay('forget', 7)
    const { code, result } = await convergeJson(['--url', r.url, '--seed', '606', ...SMALL, ...CHAOS])
    expect(code).toBe(1)
    expect(result.results.every((x) => x.distinctStates === 1)).toBe(true)
    expect(result.results.some((x) => x.stored === 'different')).toBe(true)
    expect(result.results.flatMap((x) => x.problems.map((p) => p.kind))).toContain('stored')
  })
})

describe('the command line', () => {
  test('bad arguments exit 2 with a message naming the option', async () => {
    expect((await converge([])).err).toMatch(/--url ws:\/\/HOST:PORT, or --spawn/)
    const bad = await converge(['--url', 'ws://127.0.0.1:1', '--clients', 'many'])
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('--clients: expected an integer from 1 to 10000, got "many"')
    expect((await converge(['--url', 'ws://127.0.0.1:1', '--kills', '2'])).err).toContain('--kills needs --spawn')
    const types = await converge(['--url', 'ws://127.0.0.1:1', '--types', 'bogus'])
    expect(types.code).toBe(2)
    expect(types.err).toContain('--types: unknown type "bogus" (known: text, rich, xml, map, array, nested, all)')
    expect((await converge(['--url', 'ws://127.0.0.1:1', '--types=,'])).err).toContain('--types: no types given')
  })

  test('a server that is not there exits 2', async () => {
    const { code, err } = await converge(['--url', 'ws://127.0.0.1:1', '--direct', '--seconds', '1', '--settle', '2'])
    expect(code).toBe(2)
    expect(err).toMatch(/could not sync with ws:\/\/127\.0\.0\.1:1 within 2 s/)
  })

  test('the replay command names the seed and only the options that differ', () => {
    const o = parseOptions(['--url', 'ws://h:1', '--clients', '3', '--seed', 'x y', '--json'], () => 'unused')
    expect(replayCommand(o)).toBe(`npx concord converge --url ws://h:1 --clients 3 --seed 'x y'`)
    expect(parseOptions(['--url', 'ws://h:1'], () => '77').seed).toBe('77')
    expect(() => parseOptions(['--url', 'http://h:1'], () => '1')).toThrow(UsageError)
    expect(parseOptions(['--url', 'ws://h:1/collab/'], () => '1').url).toBe('ws://h:1/collab')
    // --types only when not every type in the default order (the order picks the shapes).
    const replay = (types: string) => replayCommand(parseOptions(['--url', 'ws://h:1', '--seed', '1', '--types', types], () => 'unused'))
    expect(replay('xml, rich,xml')).toBe('npx concord converge --url ws://h:1 --seed 1 --types xml,rich')
    expect(replay('all')).toBe('npx concord converge --url ws://h:1 --seed 1')
    expect(replay(SHAPES.join(','))).toBe('npx concord converge --url ws://h:1 --seed 1')
    expect(replay([...SHAPES].reverse().join(','))).toContain(`--types ${[...SHAPES].reverse().join(',')}`)
  })
})

describe('scripts', () => {
  test('one seed gives one script; inserts and deletes never split a surrogate pair', () => {
    const run = (seed: string) => {
      const script = createScript(createRandom(seed), 5)
      let text = ''
      const steps = []
      for (let i = 0; i < 3000; i++) {
        const step = script.next(text)
        steps.push(step)
        const e = step.edit
        if (e.kind === 'insert') text = text.slice(0, e.index) + e.text + text.slice(e.index)
        if (e.kind === 'delete') text = text.slice(0, e.index) + text.slice(e.index + e.length)
        // A lone surrogate would show as U+FFFD in Yjs: the text must stay well-formed.
        expect(text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/)
      }
      return { steps, text }
    }
    const a = run('seed-1')
    expect(run('seed-1')).toEqual(a)
    expect(run('seed-2').steps).not.toEqual(a.steps)
    expect([...a.text].some((ch) => ch.length === 2)).toBe(true) // emoji made it in
    const kinds = new Set(a.steps.map((s) => s.edit.kind))
    expect([...kinds].sort()).toEqual(['awareness', 'delete', 'insert', 'redo', 'undo'])
  })
})

describe('every shape', () => {
  test('a script over several shapes is seeded, edits each and undoes them', () => {
    const shapes: Shape[] = ['text', 'xml', 'nested']
    const steps = (seed: string) => {
      const script = createScript(createRandom(seed), 5, shapes)
      return Array.from({ length: 600 }, () => script.next('some text').edit)
    }
    const a = steps('s')
    expect(steps('s')).toEqual(a)
    const kinds = new Set(a.map((e) => (e.kind === 'shape' ? e.shape : e.kind)))
    expect([...kinds].sort()).toEqual(['awareness', 'delete', 'insert', 'nested', 'redo', 'undo', 'xml'])
  })

  test('a client edits every chosen root, undo included, journaling each edit; others stay empty', () => {
    const client = new SimClient({ name: 'c0', room: 'r', url: 'ws://127.0.0.1:1/r', clientID: 7, rng: createRandom('c'), shapes: ['rich', 'xml', 'map'] })
    try {
      const script = createScript(createRandom('edits'), 5, client.options.shapes)
      for (let i = 0; i < 400; i++) client.apply(script.next(client.text.toString()).edit) // offline: nothing sent
      expect(client.stats.undos).toBeGreaterThan(0)
      for (const root of editedRoots(client.doc, ['rich', 'xml', 'map'])) expect(root instanceof Y.Map ? root.size : root.length).toBeGreaterThan(0)
      expect(client.text.length).toBe(0)
      expect(client.doc.getArray('array').length).toBe(0)
      expect(client.journaled.length).toBe(client.stats.edits)
    } finally {
      client.stop()
    }
  })

  test('the checker names the replica and the shape that differs, and where', () => {
    const a = new Y.Doc()
    a.clientID = 1
    const authored: Uint8Array[] = []
    a.on('update', (u: Uint8Array) => authored.push(u))
    const rng = createRandom('checker')
    for (let i = 0; i < 20; i++) randomEdit(a, i % 2 ? 'xml' : 'map', rng)
    const b = new Y.Doc() // lacks the last xml edit
    Y.applyUpdate(b, Y.mergeUpdates(authored.slice(0, -1)))
    const result = checkRoom({
      room: 'r', replicas: [{ name: 'c0', doc: a }, { name: 'c1', doc: b }], authored, journaled: [], names: new Map([[1, 'c0']]),
      stored: Y.encodeStateAsUpdate(a), echoes: [], allowEcho: false, shapes: ['map', 'xml'],
    })
    expect(result.ok).toBe(false)
    expect(result.differing).toEqual(['xml'])
    expect(result.stored).toBe('equal')
    const messages = result.problems.map((p) => p.message)
    expect(messages[0]).toBe('2 different states among 2 replicas: [c0] [c1], differing in xml')
    expect(messages).toContain("c1 lacks what was typed at c0's clocks " + `${Y.getState(b.store, 1)}–${Y.getState(a.store, 1) - 1}`)
    const xml = result.problems.find((p) => p.shape === 'xml')
    expect(xml?.replica).toBe('c1')
    expect(xml?.message).toMatch(/^c1 xml differs from the expected content: its JSON first differs at character \d+, /)
    expect(picture(a, ['map'])).toBe(picture(b, ['map']))
  })

  // Yjs cleans up formatting on every doc receiving remote changes to a formatted text, the
  // server's too: a format racing a delete leaves marks around nothing, which it deletes.
  test('the checker accepts the server\'s own formatting cleanup, and no other deletion', () => {
    const authored: Uint8Array[] = []
    const clients = [1, 2].map((id) => {
      const doc = new Y.Doc()
      doc.clientID = id
      doc.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== 'sync') authored.push(u) })
      return doc
    })
    const [a, b] = clients
    const text = (doc: Y.Doc) => doc.getMap<Y.Text>('nested').get('t') as Y.Text
    a.getMap('nested').set('t', new Y.Text('abcd'))
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a), 'sync')
    text(a).format(1, 2, { bold: true })
    text(b).delete(1, 2)
    const server = new Y.Doc()
    for (const u of authored) Y.applyUpdate(server, u) // remote: the cleanup runs here
    const judge = (state: Uint8Array) => checkRoom({
      room: 'r', replicas: [{ name: 'c0', doc: docFrom(state) }, { name: 'c1', doc: docFrom(state) }], authored, journaled: [],
      names: new Map([[1, 'c0'], [2, 'c1']]), stored: state, echoes: [], allowEcho: false, shapes: ['nested'],
    })
    const cleaned = judge(Y.encodeStateAsUpdate(server))
    expect(cleaned.problems).toEqual([])
    expect(cleaned.formatCleanups).toBeGreaterThan(0)
    expect(cleaned.stored).toBe('equal')
    text(server).delete(0, 1) // the server deletes text: a loss
    const lost = judge(Y.encodeStateAsUpdate(server))
    expect(lost.ok).toBe(false)
    expect(lost.problems.map((p) => p.message)).toContain('c0 has every insert but different deletions')
    expect(lost.differing).toEqual(['nested'])
  })
})

// The spawn test runs bin/concord.js, which runs dist/. Rebuilding here would race with
// other test files running dist/: CI builds before testing.
function ensureBuilt(): void {
  if (!existsSync('dist/server/cli/converge/main.js')) throw new Error('dist/ is missing: run `npm run build` before these tests')
}
