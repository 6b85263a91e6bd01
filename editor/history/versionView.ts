// A version of the document, read-only, with what differs from the live document marked:
// @codemirror/merge's unified view over the version's text, compared with the current text.
// Lines only the version has are green (restoring brings them back); the current document's
// lines the version lacks show above them, struck through in red (restoring removes them).
// Loaded only when a version is opened (a separate chunk), so the first page load stays small.
import { getChunks, originalDocChangeEffect, unifiedMergeView } from '@codemirror/merge'
import { EditorState, type ChangeSet } from '@codemirror/state'
import { EditorView, highlightSpecialChars, lineNumbers } from '@codemirror/view'

/// An open version view.
export interface VersionView {
  readonly view: EditorView
  /// The live document changed by `changes`: compare with its new text.
  liveChanged(changes: ChangeSet): void
  /// Places that differ from the live document.
  differences(): number
  destroy(): void
}

/// Show `versionText` in `parent`, compared with `currentText`.
export function createVersionView(parent: HTMLElement, versionText: string, currentText: string, label: string): VersionView {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: versionText,
      extensions: [
        lineNumbers(),
        highlightSpecialChars(),
        EditorView.lineWrapping,
        EditorState.readOnly.of(true),
        EditorView.editable.of(false),
        EditorView.contentAttributes.of({ 'aria-label': label, tabindex: '0' }),
        unifiedMergeView({
          original: currentText,
          mergeControls: false,
          syntaxHighlightDeletions: false,
          collapseUnchanged: { margin: 3, minSize: 8 },
        }),
      ],
    }),
  })
  return {
    view,
    liveChanged(changes) {
      view.dispatch({ effects: originalDocChangeEffect(view.state, changes) })
    },
    differences: () => getChunks(view.state)?.chunks.length ?? 0,
    destroy: () => view.destroy(),
  }
}
