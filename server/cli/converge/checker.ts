// The verdict. The ground truth is the union of every update the clients authored: Yjs
// merges deterministically, so the document built from all of them is what every replica
// (and the stored copy) must equal. Each replica is compared to it by state vector (what
// it has of each author), delete set, text and the content of every chosen shape; the
// journal (one entry per edit, written in the edit's own transaction, never deleted) shows
// by name what is missing or doubled.
//
// One author is not a client: Yjs's formatting cleanup runs on every Y.Doc that receives a
// remote change to formatted text, the server's own included, and deletes formatting marks it
// deems redundant. Which ones depends on the order updates arrived in, so the server's cleanup
// is not in any client's updates. Deletions of formatting marks only, which a replica holds
// beyond the truth, are taken as that cleanup and added to the truth (and counted in the
// result), so replicas must still agree on them.
import * as Y from 'yjs'
import { JOURNAL, TEXT, type Echo } from './client.js'
import { describe, pendingIn, sameHistory, type Shape } from './shapes.js'

/// One kind of finding.
export type ProblemKind = 'diverged' | 'missing' | 'duplicate' | 'extra' | 'echo' | 'stored' | 'server'

/// One finding, in words a user can act on.
export interface Problem {
  kind: ProblemKind
  /// Which replica (client name, or "stored") it is about, if one.
  replica?: string
  /// Which shape's content it is about, if one.
  shape?: Shape
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
  /// The shapes the clients edited, whose content is compared.
  shapes: readonly Shape[]
}

/// The verdict on one room.
export interface RoomResult {
  room: string
  ok: boolean
  replicas: number
  /// Distinct replica states (1 when converged).
  distinctStates: number
  textLength: number
  /// Shapes whose content differs in some replica or the stored copy (empty when none).
  differing: Shape[]
  /// Formatting marks deleted by no client but held deleted by a replica or the stored copy:
  /// Yjs's formatting cleanup on the server's own Y.Doc (not a failure).
  formatCleanups: number
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

/// A document holding exactly `update`. Applied in a local transaction, so that this doc
/// does not run Yjs's formatting cleanup (which only follows remote transactions) and add
/// deletions of its own.
export function docFrom(update: Uint8Array): Y.Doc {
  const doc = new Y.Doc()
  doc.transact(() => Y.applyUpdate(doc, update))
  return doc
}

/// Whether two documents hold the same items (equal state vectors).
function sameInserts(a: Y.Doc, b: Y.Doc): boolean {
  const x = Y.decodeStateVector(Y.encodeStateVector(a))
  const y = Y.decodeStateVector(Y.encodeStateVector(b))
  return x.size === y.size && [...x].every(([client, clock]) => y.get(client) === clock)
}

/// The formatting marks `doc` has deleted and `truth` has not, as ids, when those are its
/// only differences: what a peer's formatting cleanup does. Null when `doc` lacks or adds
/// inserts, holds anything pending, or deleted anything that is not a formatting mark.
export function formatCleanup(doc: Y.Doc, truth: Y.Doc): string[] | null {
  if (pendingIn(doc) || !sameInserts(doc, truth)) return null
  const truthDeleted = Y.createDeleteSetFromStructStore(truth.store)
  const marks: string[] = []
  for (const [client, ranges] of Y.createDeleteSetFromStructStore(doc.store).clients) {
    for (const { clock, len } of ranges) {
      for (let c = clock; c < clock + len; c++) {
        const id = Y.createID(client, c)
        if (Y.isDeleted(truthDeleted, id)) continue
        const item: unknown = Y.getItem(truth.store, id)
        if (!(item instanceof Y.Item) || !(item.content instanceof Y.ContentFormat)) return null
        marks.push(`${client}:${c}`)
      }
    }
  }
  return marks
}

/// The document every replica must equal: the merge of every update the clients authored,
/// plus the formatting cleanup any of `peers` holds (see `formatCleanup`); and how many
/// formatting marks that cleanup deleted.
export function expectedDoc(authored: Uint8Array[], peers: readonly Y.Doc[]): { truth: Y.Doc; cleaned: number } {
  const truth = docFrom(Y.mergeUpdates(authored))
  const cleaned = new Set<string>()
  const adopt: Uint8Array[] = []
  for (const peer of peers) {
    const marks = formatCleanup(peer, truth)
    if (!marks?.length) continue
    for (const m of marks) cleaned.add(m)
    adopt.push(Y.encodeStateAsUpdate(peer, Y.encodeStateVector(truth))) // its deletions, no inserts
  }
  if (adopt.length) truth.transact(() => { for (const u of adopt) Y.applyUpdate(truth, u) })
  return { truth, cleaned: cleaned.size }
}

/// Differences between one replica and the truth, as problems (none when equal).
export function compareToTruth(
  name: string, doc: Y.Doc, truth: Y.Doc, names: Map<number, string>, journaled: readonly string[], shapes: readonly Shape[],
): Problem[] {
  const problems = authorGaps(name, doc, truth, names)
  const pending = pendingIn(doc)
  if (pending) {
    problems.push({ kind: 'missing', replica: name, message: `${name} holds updates it cannot apply: it never received something they depend on (${pending})` })
  }
  // Same inserts yet a different history can only be deletions (pending is reported above).
  if (problems.length === 0 && !sameHistory(doc, truth)) {
    problems.push({ kind: 'diverged', replica: name, message: `${name} has every insert but different deletions` })
  }
  const text = doc.getText(TEXT).toString()
  const truthText = truth.getText(TEXT).toString()
  if (text !== truthText) {
    problems.push({ kind: 'diverged', replica: name, shape: 'text', message: `${name} text differs from the expected text (${text.length} vs ${truthText.length} UTF-16 units, first difference at ${firstDifference(text, truthText)})` })
  }
  problems.push(...shapeProblems(name, doc, truth, shapes))
  problems.push(...checkJournal(name, doc.getArray<string>(JOURNAL).toArray(), journaled))
  return problems
}

/// What a replica lacks of each author's clocks, and holds beyond them.
function authorGaps(name: string, doc: Y.Doc, truth: Y.Doc, names: Map<number, string>): Problem[] {
  const have = Y.decodeStateVector(Y.encodeStateVector(doc))
  const want = Y.decodeStateVector(Y.encodeStateVector(truth))
  const nameOf = (client: number) => names.get(client) ?? `client ${client}`
  const gaps = (a: Map<number, number>, b: Map<number, number>) => [...b]
    .filter(([client, clock]) => (a.get(client) ?? 0) < clock)
    .map(([client, clock]) => `${nameOf(client)}'s clocks ${a.get(client) ?? 0}–${clock - 1}`)
  const problems: Problem[] = []
  const missing = gaps(have, want)
  if (missing.length) problems.push({ kind: 'missing', replica: name, message: `${name} lacks what was typed at ${examples(missing)}` })
  const extra = gaps(want, have)
  if (extra.length) problems.push({ kind: 'extra', replica: name, message: `${name} holds content no client of this run typed: ${examples(extra)}` })
  return problems
}

/// The content of one shape, as `describe` pictures it. The 'text' shape is typed into
/// `TEXT` and compared as a string (in UTF-16 units, as editors index it) instead.
function pictureOf(doc: Y.Doc, shape: Shape): string {
  return shape === 'text' ? JSON.stringify(doc.getText(TEXT).toString()) : describe(doc, [shape])
}

/// One problem per chosen shape (plain text aside) whose content differs from the truth's,
/// with where its JSON first differs.
export function shapeProblems(name: string, doc: Y.Doc, truth: Y.Doc, shapes: readonly Shape[]): Problem[] {
  const problems: Problem[] = []
  for (const shape of shapes) {
    if (shape === 'text') continue // compared as text, above
    const got = pictureOf(doc, shape)
    const want = pictureOf(truth, shape)
    if (got === want) continue
    const at = firstDifference(got, want)
    problems.push({
      kind: 'diverged', replica: name, shape,
      message: `${name} ${shape} differs from the expected content: its JSON first differs at character ${at}, ${excerpt(got, at)} where the truth has ${excerpt(want, at)}`,
    })
  }
  return problems
}

/// A short stretch of `json` around `at`, to show a difference.
function excerpt(json: string, at: number): string {
  const from = Math.max(0, at - 24)
  const to = Math.min(json.length, at + 40)
  return `${from > 0 ? '…' : ''}${json.slice(from, to)}${to < json.length ? '…' : ''}`
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

/// Replicas grouped by state (same history, text and content of every shape): one group
/// when converged. Each group keeps its first member's document to compare by.
export function groupReplicas(replicas: RoomInput['replicas'], shapes: readonly Shape[]): Array<{ doc: Y.Doc; members: string[] }> {
  const groups: Array<{ doc: Y.Doc; key: string; members: string[] }> = []
  for (const r of replicas) {
    const key = shapes.map((shape) => pictureOf(r.doc, shape)).join('\n')
    const g = groups.find((x) => x.key === key && sameHistory(x.doc, r.doc))
    if (g) g.members.push(r.name)
    else groups.push({ doc: r.doc, key, members: [r.name] })
  }
  return groups
}

/// The shapes in which any group's content differs from the first group's.
function shapesBetween(groups: ReadonlyArray<{ doc: Y.Doc }>, shapes: readonly Shape[]): Shape[] {
  return shapes.filter((shape) => groups.some((g) => pictureOf(g.doc, shape) !== pictureOf(groups[0].doc, shape)))
}

/// The stored copy as a document, or the problem that it is not a Yjs update.
function storedDoc(stored: Uint8Array): Y.Doc | Problem {
  try {
    return docFrom(stored)
  } catch (error) {
    return { kind: 'stored', replica: 'stored', message: `the stored document is not a valid Yjs update: ${(error as Error).message}` }
  }
}

/// The verdict on the echo probe, and its problem when echoes fail the run.
function echoVerdict(input: RoomInput): { echo: RoomResult['echo']; problems: Problem[] } {
  if (!input.echoes) return { echo: 'inconclusive', problems: [] }
  if (!input.echoes.length) return { echo: 'none', problems: [] }
  if (input.allowEcho) return { echo: 'echoed', problems: [] }
  const who = [...new Set(input.echoes.map((e) => e.client))]
  return { echo: 'echoed', problems: [{ kind: 'echo', message: `${input.echoes.length} update frame(s) came back to the client that sent them (${examples(who)})` }] }
}

/// Judge one room.
export function checkRoom(input: RoomInput): RoomResult {
  const storedCopy = input.stored ? storedDoc(input.stored) : null
  const peers = input.replicas.map((r) => r.doc).concat(storedCopy instanceof Y.Doc ? [storedCopy] : [])
  const { truth, cleaned } = expectedDoc(input.authored, peers)
  const compare = (name: string, doc: Y.Doc) => compareToTruth(name, doc, truth, input.names, input.journaled, input.shapes)
  const problems = input.replicas.flatMap((r) => compare(r.name, r.doc))

  const groups = groupReplicas(input.replicas, input.shapes)
  if (groups.length > 1) {
    const differ = shapesBetween(groups, input.shapes)
    const inWhat = differ.length ? `, differing in ${differ.join(', ')}` : ', differing in history only'
    problems.unshift({ kind: 'diverged', message: `${groups.length} different states among ${input.replicas.length} replicas: ${groups.map((g) => `[${examples(g.members)}]`).join(' ')}${inWhat}` })
  }

  let stored: RoomResult['stored'] = 'not exposed'
  if (storedCopy instanceof Y.Doc) {
    const found = compare('stored', storedCopy).map((p) => ({ ...p, kind: 'stored' as const }))
    stored = found.length ? 'different' : 'equal'
    problems.push(...found)
    storedCopy.destroy()
  } else if (storedCopy) {
    stored = 'different'
    problems.push(storedCopy)
  }

  const { echo, problems: echoes } = echoVerdict(input)
  problems.push(...echoes)
  const result: RoomResult = {
    room: input.room,
    ok: problems.length === 0,
    replicas: input.replicas.length,
    distinctStates: groups.length,
    textLength: truth.getText(TEXT).length,
    differing: input.shapes.filter((shape) => problems.some((p) => p.shape === shape)),
    formatCleanups: cleaned,
    edits: input.journaled.length,
    stored,
    echo,
    problems,
  }
  truth.destroy()
  return result
}
