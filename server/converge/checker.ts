// The verdict. The ground truth is the union of every update the clients authored: Yjs
// merges deterministically, so the document built from all of them is what every replica
// (and the stored copy) must equal. Each replica is compared to it by state vector (what
// it has of each author), delete set and text; the journal (one entry per edit, written
// in the edit's own transaction, never deleted) shows by name what is missing or doubled.
import * as Y from 'yjs'
import { JOURNAL, TEXT, type Echo } from './client.js'

/// One kind of finding.
export type ProblemKind = 'diverged' | 'missing' | 'duplicate' | 'extra' | 'echo' | 'stored' | 'server'

/// One finding, in words a user can act on.
export interface Problem {
  kind: ProblemKind
  /// Which replica (client name, or "stored") it is about, if one.
  replica?: string
  message: string
}

/// What the checker needs of one room.
export interface RoomInput {
  room: string
  replicas: Array<{ name: string; doc: Y.Doc }>
  /// Every update the room's clients authored.
  authored: Uint8Array[]
  /// Every journal entry the room's clients pushed.
  journaled: string[]
  /// Client id to client name, for messages.
  names: Map<number, string>
  /// The server's stored document, null when the server does not expose it.
  stored: Uint8Array | null
  /// Echoes the probe saw, or null when the probe window was disturbed (inconclusive).
  echoes: Echo[] | null
  allowEcho: boolean
}

/// The verdict on one room.
export interface RoomResult {
  room: string
  ok: boolean
  replicas: number
  /// Distinct replica states (1 when converged).
  distinctStates: number
  textLength: number
  edits: number
  stored: 'equal' | 'different' | 'not exposed'
  echo: 'none' | 'echoed' | 'inconclusive'
  problems: Problem[]
}

const MAX_EXAMPLES = 5

function examples(list: readonly string[]): string {
  const shown = list.slice(0, MAX_EXAMPLES).join(', ')
  return list.length > MAX_EXAMPLES ? `${shown}, … (${list.length} in all)` : shown
}

function docFrom(update: Uint8Array): Y.Doc {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc
}

/// Differences between one replica and the truth, as problems (none when equal).
export function compareToTruth(name: string, doc: Y.Doc, truth: Y.Doc, names: Map<number, string>, journaled: readonly string[]): Problem[] {
  const problems: Problem[] = []
  const have = Y.decodeStateVector(Y.encodeStateVector(doc))
  const want = Y.decodeStateVector(Y.encodeStateVector(truth))
  const nameOf = (client: number) => names.get(client) ?? `client ${client}`
  const missing: string[] = []
  for (const [client, clock] of want) {
    const got = have.get(client) ?? 0
    if (got < clock) missing.push(`${nameOf(client)}'s clocks ${got}–${clock - 1}`)
  }
  if (missing.length) problems.push({ kind: 'missing', replica: name, message: `${name} lacks what was typed at ${examples(missing)}` })
  const extra: string[] = []
  for (const [client, clock] of have) {
    const known = want.get(client) ?? 0
    if (clock > known) extra.push(`${nameOf(client)}'s clocks ${known}–${clock - 1}`)
  }
  if (extra.length) problems.push({ kind: 'extra', replica: name, message: `${name} holds content no client of this run typed: ${examples(extra)}` })
  if (doc.store.pendingStructs || doc.store.pendingDs) {
    problems.push({ kind: 'missing', replica: name, message: `${name} holds updates it cannot apply: it never received something they depend on` })
  }
  if (!missing.length && !extra.length && !Y.equalSnapshots(Y.snapshot(doc), Y.snapshot(truth))) {
    problems.push({ kind: 'diverged', replica: name, message: `${name} has every insert but different deletions` })
  }
  const text = doc.getText(TEXT).toString()
  const truthText = truth.getText(TEXT).toString()
  if (text !== truthText) {
    problems.push({ kind: 'diverged', replica: name, message: `${name} text differs from the expected text (${text.length} vs ${truthText.length} UTF-16 units, first difference at ${firstDifference(text, truthText)})` })
  }
  problems.push(...checkJournal(name, doc.getArray<string>(JOURNAL).toArray(), journaled))
  return problems
}

/// Every journal entry must appear exactly once; none may be unknown.
export function checkJournal(name: string, entries: readonly string[], journaled: readonly string[]): Problem[] {
  const counts = new Map<string, number>()
  for (const e of entries) counts.set(e, (counts.get(e) ?? 0) + 1)
  const expected = new Set(journaled)
  const missing = journaled.filter((e) => !counts.has(e))
  const doubled = [...counts].filter(([, n]) => n > 1).map(([e, n]) => `${e} ×${n}`)
  const unknown = [...counts.keys()].filter((e) => !expected.has(e))
  const problems: Problem[] = []
  if (missing.length) problems.push({ kind: 'missing', replica: name, message: `${name} is missing ${missing.length} of ${journaled.length} edits: ${examples(missing)}` })
  if (doubled.length) problems.push({ kind: 'duplicate', replica: name, message: `${name} has edits twice: ${examples(doubled)}` })
  if (unknown.length) problems.push({ kind: 'extra', replica: name, message: `${name} has edits nobody made: ${examples(unknown)}` })
  return problems
}

function firstDifference(a: string, b: string): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}

/// Judge one room.
export function checkRoom(input: RoomInput): RoomResult {
  const truth = docFrom(Y.mergeUpdates(input.authored))
  const problems: Problem[] = []
  for (const r of input.replicas) problems.push(...compareToTruth(r.name, r.doc, truth, input.names, input.journaled))

  // Group replicas by state, to say how many different documents there are.
  const groups: Array<{ snapshot: Y.Snapshot; text: string; members: string[] }> = []
  for (const r of input.replicas) {
    const snapshot = Y.snapshot(r.doc)
    const text = r.doc.getText(TEXT).toString()
    const g = groups.find((x) => x.text === text && Y.equalSnapshots(x.snapshot, snapshot))
    if (g) g.members.push(r.name)
    else groups.push({ snapshot, text, members: [r.name] })
  }
  if (groups.length > 1) {
    problems.unshift({ kind: 'diverged', message: `${groups.length} different states among ${input.replicas.length} replicas: ${groups.map((g) => `[${examples(g.members)}]`).join(' ')}` })
  }

  let stored: RoomResult['stored'] = 'not exposed'
  if (input.stored) {
    let doc: Y.Doc | null = null
    try {
      doc = docFrom(input.stored)
    } catch (error) {
      problems.push({ kind: 'stored', replica: 'stored', message: `the stored document is not a valid Yjs update: ${(error as Error).message}` })
    }
    if (doc) {
      const found = compareToTruth('stored', doc, truth, input.names, input.journaled).map((p) => ({ ...p, kind: 'stored' as const }))
      stored = found.length ? 'different' : 'equal'
      problems.push(...found)
      doc.destroy()
    } else {
      stored = 'different'
    }
  }

  let echo: RoomResult['echo'] = 'inconclusive'
  if (input.echoes) {
    echo = input.echoes.length ? 'echoed' : 'none'
    if (input.echoes.length && !input.allowEcho) {
      const who = [...new Set(input.echoes.map((e) => e.client))]
      problems.push({ kind: 'echo', message: `${input.echoes.length} update frame(s) came back to the client that sent them (${examples(who)})` })
    }
  }

  const result: RoomResult = {
    room: input.room,
    ok: problems.length === 0,
    replicas: input.replicas.length,
    distinctStates: groups.length,
    textLength: truth.getText(TEXT).length,
    edits: input.journaled.length,
    stored,
    echo,
    problems,
  }
  truth.destroy()
  return result
}
