// The result of a run, and its text form. `--json` prints the result object as it is.
import type { Problem, RoomResult } from './checker.js'
import type { Shape } from './shapes.js'

/// Everything a run found, in the shape `--json` prints.
export interface ConvergeResult {
  ok: boolean
  seed: string
  /// The shortest command that runs the same workload again.
  replay: string
  target: string
  spawned: string | null
  clients: number
  rooms: number
  /// The shapes the clients edited and the checks compared.
  types: Shape[]
  editSeconds: number
  durationMs: number
  /// Time from the end of editing until the replicas settled, and whether they did.
  settleMs: number
  settled: boolean
  totals: { edits: number; undos: number; connects: number; framesIn: number; framesOut: number; updatesIn: number }
  faults: { stalls: number; resets: number; disconnects: number; restarts: number; kills: number }
  /// Findings outside any one room (server crashes, clients that never reconnected).
  problems: Problem[]
  /// Things worth knowing that are not failures.
  notes: string[]
  results: RoomResult[]
  /// The server's last output lines, when it was spawned and the run failed.
  serverLog?: string[]
}

function roomLine(r: RoomResult): string {
  const head = r.ok ? 'ok' : 'FAILED'
  const state = r.distinctStates === 1 ? `${r.replicas} replicas identical` : `${r.distinctStates} different states among ${r.replicas} replicas`
  const differing = r.differing.length ? `, differing in ${r.differing.join(', ')}` : ''
  const cleaned = r.formatCleanups ? `, ${r.formatCleanups} formatting marks cleaned up by the server` : ''
  return `  ${r.room}: ${head}: ${state}${differing}, ${r.edits} edits, ${r.textLength} chars${cleaned}, stored ${r.stored}, echo ${r.echo}`
}

/// The human-readable report.
export function formatReport(r: ConvergeResult): string {
  const lines: string[] = []
  const verdict = r.ok ? 'CONVERGED' : r.problems.concat(r.results.flatMap((x) => x.problems)).every((p) => p.kind === 'echo') ? 'ECHO' : 'DIVERGED'
  lines.push(`concord converge: ${verdict} (seed ${r.seed})`)
  lines.push(`  target    ${r.target}${r.spawned ? ` (spawned: ${r.spawned})` : ''}`)
  lines.push(`  workload  ${r.clients} clients in ${r.rooms} room${r.rooms === 1 ? '' : 's'} for ${r.editSeconds} s (types ${r.types.join(', ')}): ${r.totals.edits} edits, ${r.totals.undos} undo/redo, ${r.totals.connects} connects`)
  const f = r.faults
  lines.push(`  faults    stalls ${f.stalls}, resets ${f.resets}, disconnects ${f.disconnects}, restarts ${f.restarts}, kills ${f.kills}`)
  lines.push(`  settled   ${r.settled ? `in ${(r.settleMs / 1000).toFixed(1)} s` : `NO (gave up after ${(r.settleMs / 1000).toFixed(1)} s)`}`)
  lines.push('rooms')
  for (const room of r.results) {
    lines.push(roomLine(room))
    for (const p of room.problems) lines.push(`    - ${p.kind}: ${p.message}`)
  }
  if (r.problems.length) {
    lines.push('problems')
    for (const p of r.problems) lines.push(`  - ${p.kind}: ${p.message}`)
  }
  if (r.notes.length) {
    lines.push('notes')
    for (const n of r.notes) lines.push(`  - ${n}`)
  }
  if (!r.ok) {
    if (r.serverLog?.length) {
      lines.push('server output (last lines)')
      for (const l of r.serverLog) lines.push(`  | ${l}`)
    }
    lines.push(`replay with: ${r.replay}`)
  }
  return lines.join('\n') + '\n'
}
