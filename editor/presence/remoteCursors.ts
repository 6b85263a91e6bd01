// Other people's cursors and selections in the editor, drawn from their awareness states.
//
// Adapted from y-codemirror.next's `yRemoteSelections` (MIT, Kevin Jahns), with one fix:
// its caret widget's `eq` compares only the colour, so when someone renames themselves
// CodeMirror finds the new widget "equal" to the old one, keeps the old DOM, and the label
// keeps the old name until the colour (or the caret's line) changes. Here a widget equals
// another only when colour and name both match, and `updateDOM` rewrites an existing caret
// in place. The class names are the same, so y-codemirror.next's theme and our CSS apply.
import type { Extension, Range } from '@codemirror/state'
import { Annotation, RangeSet } from '@codemirror/state'
import {
  Decoration, EditorView, ViewPlugin, WidgetType, type DecorationSet, type PluginValue, type ViewUpdate,
} from '@codemirror/view'
import { yRemoteSelectionsTheme } from 'y-codemirror.next'
import type { Awareness } from 'y-protocols/awareness'
import * as Y from 'yjs'

/// Marks the transactions we dispatch only to redraw remote cursors.
const redraw = Annotation.define<null>()

/// A remote caret with its owner's name above it.
export class CaretWidget extends WidgetType {
  constructor(readonly color: string, readonly name: string) {
    super()
  }

  toDOM(): HTMLElement {
    const caret = document.createElement('span')
    caret.className = 'cm-ySelectionCaret'
    const dot = document.createElement('div')
    dot.className = 'cm-ySelectionCaretDot'
    const info = document.createElement('div')
    info.className = 'cm-ySelectionInfo'
    caret.append('\u2060', dot, '\u2060', info, '\u2060')
    this.paint(caret)
    return caret
  }

  /// Colour and name both count: a rename must redraw the label.
  override eq(other: WidgetType): boolean {
    return other instanceof CaretWidget && other.color === this.color && other.name === this.name
  }

  /// Reuse the caret's DOM for another colour or name.
  override updateDOM(dom: HTMLElement): boolean {
    if (!dom.classList.contains('cm-ySelectionCaret')) return false
    this.paint(dom)
    return true
  }

  private paint(caret: HTMLElement): void {
    caret.style.backgroundColor = this.color
    caret.style.borderColor = this.color
    const info = caret.querySelector('.cm-ySelectionInfo')
    if (info) info.textContent = this.name
  }

  override get estimatedHeight(): number {
    return -1
  }

  override ignoreEvent(): boolean {
    return true
  }
}

interface RemoteUser { name?: unknown; color?: unknown; colorLight?: unknown }
interface CursorState { anchor?: unknown; head?: unknown }

/// Publishes our own selection as the awareness `cursor` field (while the editor has focus)
/// and draws everyone else's.
export function remoteCursors(ytext: Y.Text, awareness: Awareness): Extension {
  const plugin = ViewPlugin.fromClass(class implements PluginValue {
    decorations: DecorationSet = RangeSet.empty
    private readonly onChange: (change: { added: number[]; updated: number[]; removed: number[] }) => void

    constructor(readonly view: EditorView) {
      this.onChange = ({ added, updated, removed }) => {
        const me = awareness.clientID
        if ([...added, ...updated, ...removed].some((id) => id !== me)) {
          // Awareness changes arrive outside CodeMirror's update cycle (socket messages).
          view.dispatch({ annotations: redraw.of(null) })
        }
      }
      awareness.on('change', this.onChange)
    }

    destroy(): void {
      awareness.off('change', this.onChange)
    }

    update(update: ViewUpdate): void {
      this.publishOwn(update)
      this.decorations = this.draw(update.view)
    }

    private publishOwn(update: ViewUpdate): void {
      const local = awareness.getLocalState()
      if (local === null) return
      const hasFocus = update.view.hasFocus && update.view.dom.ownerDocument.hasFocus()
      const cursor = local.cursor as CursorState | null | undefined
      if (hasFocus) {
        const sel = update.state.selection.main
        const anchor = Y.createRelativePositionFromTypeIndex(ytext, sel.anchor)
        const head = Y.createRelativePositionFromTypeIndex(ytext, sel.head)
        if (
          cursor == null ||
          !Y.compareRelativePositions(Y.createRelativePositionFromJSON(cursor.anchor), anchor) ||
          !Y.compareRelativePositions(Y.createRelativePositionFromJSON(cursor.head), head)
        ) {
          awareness.setLocalStateField('cursor', { anchor, head })
        }
      }
    }

    private draw(view: EditorView): DecorationSet {
      const doc = ytext.doc
      if (!doc) return RangeSet.empty
      const decorations: Array<Range<Decoration>> = []
      awareness.getStates().forEach((state, clientId) => {
        if (clientId === awareness.clientID) return
        const cursor = state.cursor as CursorState | null | undefined
        if (cursor == null || cursor.anchor == null || cursor.head == null) return
        let anchor: Y.AbsolutePosition | null
        let head: Y.AbsolutePosition | null
        try {
          anchor = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(cursor.anchor), doc)
          head = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(cursor.head), doc)
        } catch {
          return // a malformed state from some other client: skip it, draw the rest
        }
        if (anchor === null || head === null || anchor.type !== ytext || head.type !== ytext) return
        const length = view.state.doc.length
        const anchorAt = Math.min(anchor.index, length)
        const headAt = Math.min(head.index, length)
        const user = (state.user ?? {}) as RemoteUser
        const color = typeof user.color === 'string' ? user.color : '#30bced'
        const name = typeof user.name === 'string' ? user.name : 'Anonymous'
        const colorLight = typeof user.colorLight === 'string' ? user.colorLight : color + '33'
        const tint = { attributes: { style: `background-color: ${colorLight}` }, class: 'cm-ySelection' }
        const from = Math.min(anchorAt, headAt)
        const to = Math.max(anchorAt, headAt)
        const startLine = view.state.doc.lineAt(from)
        const endLine = view.state.doc.lineAt(to)
        if (from < to) {
          if (startLine.number === endLine.number) {
            decorations.push(Decoration.mark(tint).range(from, to))
          } else {
            if (from < startLine.to) decorations.push(Decoration.mark(tint).range(from, startLine.to))
            if (endLine.from < to) decorations.push(Decoration.mark(tint).range(endLine.from, to))
            for (let n = startLine.number + 1; n < endLine.number; n++) {
              const lineStart = view.state.doc.line(n).from
              decorations.push(Decoration.line({
                attributes: { style: `background-color: ${colorLight}`, class: 'cm-yLineSelection' },
              }).range(lineStart))
            }
          }
        }
        decorations.push(Decoration.widget({
          // Our own cursor is drawn outside the remote selection.
          side: headAt - anchorAt > 0 ? -1 : 1,
          block: false,
          widget: new CaretWidget(color, name),
        }).range(headAt))
      })
      return Decoration.set(decorations, true)
    }
  }, { decorations: (value) => value.decorations })
  return [yRemoteSelectionsTheme, plugin]
}
