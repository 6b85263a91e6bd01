// Random edits over every shared type Yjs has, and a picture of a document to compare replicas
// by. Editors built on Yjs send far more than plain text: Tiptap and other ProseMirror
// bindings write `Y.XmlFragment`s of elements holding `Y.XmlText` with marks; Quill writes
// formatted `Y.Text` with embeds; apps nest maps and arrays at any depth, hold subdocuments,
// and undo. A server is only proven for the shapes its tests send, so convergence runs use
// these.
import * as Y from 'yjs'
import type { Random } from './random.js'

/// The kinds of content a run edits; each lives under its own root.
export const SHAPES = ['text', 'rich', 'xml', 'map', 'array', 'nested'] as const

/// One kind of content (see `SHAPES`).
export type Shape = (typeof SHAPES)[number]

/// Read a `--types` list ("text,xml" or "all").
export function parseShapes(list: string): Shape[] {
  if (list === 'all') return [...SHAPES]
  const out: Shape[] = []
  for (const name of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(SHAPES as readonly string[]).includes(name)) throw new Error(`unknown type "${name}" (known: ${SHAPES.join(', ')}, all)`)
    if (!out.includes(name as Shape)) out.push(name as Shape)
  }
  if (out.length === 0) throw new Error('no types given')
  return out
}

const WORDS = ['a', 'b', 'é', 'ж', '中', '🙂', ' ', 'xy', '\n', '👩‍💻']
const MARKS = ['bold', 'italic', 'code']
const TAGS = ['paragraph', 'heading', 'blockquote', 'listItem']

function word(rng: Random): string {
  let out = ''
  for (let i = rng.int(1, 3); i > 0; i--) out += rng.pick(WORDS)
  return out
}

/// Move `index` off the middle of a surrogate pair (editors place cursors on code points).
function onCodePoint(text: string, index: number): number {
  const at = text.charCodeAt(index)
  return index > 0 && index < text.length && at >= 0xdc00 && at <= 0xdfff ? index - 1 : index
}

/// A code-point-aligned range of `text` to delete or format.
function range(rng: Random, text: string): [number, number] {
  const start = onCodePoint(text, rng.int(0, Math.max(0, text.length - 1)))
  const end = onCodePoint(text, Math.min(text.length, start + rng.int(1, 6)))
  return [start, Math.max(0, end - start)]
}

function attributes(rng: Random): Record<string, unknown> {
  const mark = rng.pick(MARKS)
  return rng.chance(0.2) ? { [mark]: null } : { [mark]: mark === 'code' ? { lang: rng.pick(['js', 'ts']) } : true }
}

/// A text's content as Yjs indexes it: an embed counts one (`toString` skips embeds, and an
/// `XmlText` renders its marks as tags). Editors never split a surrogate pair; with wrong
/// indices a run would, and Yjs replicas then differ by design (each half becomes U+FFFD).
function indexable(text: Y.Text): string {
  let out = ''
  for (const op of text.toDelta() as Array<{ insert: unknown }>) out += typeof op.insert === 'string' ? op.insert : '\ufffc'
  return out
}

/// Edit a `Y.Text`: insert (formatted or not), delete, format a range, or insert an embed.
function editText(text: Y.Text, rng: Random, rich: boolean): void {
  const s = indexable(text)
  const r = rng.next()
  if (s.length > 0 && r < 0.3) {
    const [at, n] = range(rng, s)
    if (n > 0) text.delete(at, n)
    return
  }
  if (rich && s.length > 0 && r < 0.5) {
    const [at, n] = range(rng, s)
    if (n > 0) text.format(at, n, attributes(rng))
    return
  }
  const at = onCodePoint(s, rng.int(0, s.length))
  if (rich && r < 0.57) text.insertEmbed(at, { image: `img-${rng.int(0, 99)}.png` }, rng.chance(0.5) ? attributes(rng) : {})
  else text.insert(at, word(rng), rich && rng.chance(0.5) ? attributes(rng) : undefined)
}

/// Every `Y.XmlText` under `node`, depth first.
function xmlTexts(node: Y.XmlFragment | Y.XmlElement, out: Y.XmlText[] = []): Y.XmlText[] {
  for (const child of node.toArray()) {
    if (child instanceof Y.XmlText) out.push(child)
    else if (child instanceof Y.XmlElement) xmlTexts(child, out)
  }
  return out
}

/// Every `Y.XmlElement` under `node`, depth first.
function xmlElements(node: Y.XmlFragment | Y.XmlElement, out: Y.XmlElement[] = []): Y.XmlElement[] {
  for (const child of node.toArray()) {
    if (child instanceof Y.XmlElement) {
      out.push(child)
      xmlElements(child, out)
    }
  }
  return out
}

/// A ProseMirror-shaped fragment: blocks holding marked text, lists nesting blocks.
function editXml(root: Y.XmlFragment, rng: Random): void {
  const texts = xmlTexts(root)
  const elements = xmlElements(root)
  const r = rng.next()
  if (elements.length === 0 || r < 0.15) {
    const parent = elements.length > 0 && rng.chance(0.3) ? rng.pick(elements) : root
    const block = new Y.XmlElement(rng.pick(TAGS))
    block.setAttribute('level', String(rng.int(1, 3)))
    const inner = new Y.XmlText()
    block.insert(0, [inner])
    inner.insert(0, word(rng), rng.chance(0.5) ? attributes(rng) : {})
    parent.insert(rng.int(0, parent.length), [block])
  } else if (r < 0.22) {
    const element = rng.pick(elements)
    if (element.length > 0) element.delete(rng.int(0, element.length - 1), 1)
    else if (root.length > 0) root.delete(rng.int(0, root.length - 1), 1)
  } else if (r < 0.35) {
    // What the reported Tiptap loss needed: a text edit and an attribute in one transaction.
    const element = rng.pick(elements)
    element.doc!.transact(() => {
      const text = texts.length > 0 ? rng.pick(texts) : null
      if (text) text.insert(onCodePoint(indexable(text), rng.int(0, text.length)), word(rng), attributes(rng))
      if (rng.chance(0.2)) element.removeAttribute('level')
      else element.setAttribute('level', String(rng.int(1, 6)))
    })
  } else if (texts.length > 0) {
    editText(rng.pick(texts), rng, true)
  }
}

function randomValue(rng: Random): unknown {
  switch (rng.int(0, 6)) {
    case 0: return rng.int(-1000, 1000)
    case 1: return word(rng)
    case 2: return rng.chance(0.5)
    case 3: return null
    case 4: return { n: rng.next(), tags: [word(rng), rng.int(0, 9)] }
    case 5: return new Uint8Array([rng.int(0, 255), rng.int(0, 255)])
    default: return [rng.int(0, 9), { deep: [word(rng)] }]
  }
}

function editMap(map: Y.Map<unknown>, rng: Random): void {
  const key = `k${rng.int(0, 11)}`
  if (map.has(key) && rng.chance(0.3)) map.delete(key)
  else map.set(key, randomValue(rng))
}

function editArray(array: Y.Array<unknown>, rng: Random): void {
  if (array.length > 0 && rng.chance(0.35)) {
    const at = rng.int(0, array.length - 1)
    array.delete(at, Math.min(rng.int(1, 3), array.length - at))
  } else {
    const items = Array.from({ length: rng.int(1, 3) }, () => randomValue(rng))
    array.insert(rng.int(0, array.length), items)
  }
}

/// Shared types inside shared types: a map of arrays of maps, texts in maps, subdocuments.
function editNested(root: Y.Map<unknown>, rng: Random): void {
  const containers: Array<Y.Map<unknown> | Y.Array<unknown>> = []
  const texts: Y.Text[] = []
  const walk = (t: unknown, depth: number): void => {
    if (t instanceof Y.Map) {
      containers.push(t)
      if (depth < 6) for (const v of t.values()) walk(v, depth + 1)
    } else if (t instanceof Y.Array) {
      containers.push(t)
      if (depth < 6) for (const v of t.toArray()) walk(v, depth + 1)
    } else if (t instanceof Y.Text) texts.push(t)
  }
  walk(root, 0)
  const r = rng.next()
  if (texts.length > 0 && r < 0.3) return editText(rng.pick(texts), rng, rng.chance(0.5))
  const target = rng.pick(containers)
  const child = (): unknown => {
    const k = rng.int(0, 9)
    if (k < 3) return new Y.Map()
    if (k < 6) return new Y.Array()
    if (k < 8) return new Y.Text(word(rng))
    if (k < 9) return new Y.Doc({ guid: `sub-${rng.int(0, 1e9)}` })
    return randomValue(rng)
  }
  if (target instanceof Y.Map) {
    if (target.size > 0 && rng.chance(0.2)) target.delete(rng.pick([...target.keys()]))
    else target.set(`n${rng.int(0, 5)}`, child())
  } else if (target.length > 0 && rng.chance(0.25)) target.delete(rng.int(0, target.length - 1), 1)
  else target.insert(rng.int(0, target.length), [child()])
}

/// A shape's root type. (Not `Y.AbstractType<unknown>`: each type's event handler is typed by
/// its own event, so `Y.Text` and the others are not assignable to that.)
export type Root = Y.Text | Y.XmlFragment | Y.Map<unknown> | Y.Array<unknown>

/// The root each shape lives under in `doc`.
export function rootOf(doc: Y.Doc, shape: Shape): Root {
  switch (shape) {
    case 'text': return doc.getText('text')
    case 'rich': return doc.getText('rich')
    case 'xml': return doc.getXmlFragment('xml')
    case 'map': return doc.getMap('map')
    case 'array': return doc.getArray('array')
    case 'nested': return doc.getMap('nested')
  }
}

/// Make one random edit of `shape` in `doc`, in one transaction (which `origin` names).
export function randomEdit(doc: Y.Doc, shape: Shape, rng: Random, origin: unknown = null): void {
  doc.transact(() => {
    switch (shape) {
      case 'text': return editText(doc.getText('text'), rng, false)
      case 'rich': return editText(doc.getText('rich'), rng, true)
      case 'xml': return editXml(doc.getXmlFragment('xml'), rng)
      case 'map': return editMap(doc.getMap('map'), rng)
      case 'array': return editArray(doc.getArray('array'), rng)
      case 'nested': return editNested(doc.getMap('nested'), rng)
    }
  }, origin)
}

/// A comparable picture of one shared value, every nested type included (formatting as
/// deltas, XML as markup with attributes, subdocuments by guid).
function picture(value: unknown): unknown {
  if (value instanceof Y.XmlText) return { xmlText: picture(value.toDelta()) }
  if (value instanceof Y.Text) return { text: picture(value.toDelta()) }
  if (value instanceof Y.XmlElement) {
    return { tag: value.nodeName, attrs: value.getAttributes(), children: value.toArray().map(picture) }
  }
  if (value instanceof Y.XmlFragment) return { fragment: value.toArray().map(picture) }
  if (value instanceof Y.Map) {
    const out: Record<string, unknown> = {}
    for (const key of [...value.keys()].sort()) out[key] = picture(value.get(key))
    return { map: out }
  }
  if (value instanceof Y.Array) return { array: value.toArray().map(picture) }
  if (value instanceof Y.Doc) return { doc: value.guid }
  if (value instanceof Uint8Array) return { bytes: Array.from(value) }
  if (Array.isArray(value)) return value.map(picture)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) out[key] = picture((value as Record<string, unknown>)[key])
    return out
  }
  return value
}

/// The content of every shape's root in `doc`, as JSON: equal strings mean equal content.
export function describe(doc: Y.Doc, shapes: readonly Shape[] = SHAPES): string {
  const out: Record<string, unknown> = {}
  for (const shape of shapes) out[shape] = picture(rootOf(doc, shape))
  return JSON.stringify(out)
}

/// Whether two documents hold the same items (state vectors) and the same deletions (delete
/// sets), with nothing pending in either: then they are the same document.
export function sameHistory(a: Y.Doc, b: Y.Doc): boolean {
  return Y.equalSnapshots(Y.snapshot(a), Y.snapshot(b)) && pendingIn(a) === null && pendingIn(b) === null
}

/// What `doc` holds pending (structs or deletions waiting for missing dependencies), if any.
export function pendingIn(doc: Y.Doc): string | null {
  const { pendingStructs, pendingDs } = doc.store
  if (pendingStructs === null && pendingDs === null) return null
  return `pending: ${pendingStructs ? `structs missing ${JSON.stringify([...pendingStructs.missing])}` : ''}${pendingDs ? ' deletions' : ''}`
}
