/// <reference lib="dom" />
// Runs in the browser: a Tiptap 3 editor (StarterKit + Collaboration) bound to the
// Y.XmlFragment "default" of a doc synced with Concord by the stock y-websocket client.
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import { connect, publish, yjsState } from './shared.js'

/// The fragment Collaboration binds to (its default `field`); the test reads the same one on the server.
export const FIELD = 'default'

const { doc, provider } = connect()
const fragment = doc.getXmlFragment(FIELD)
const editor = new Editor({
  element: document.getElementById('editor'),
  extensions: [
    // Collaboration brings its own (Yjs) undo; StarterKit's history must be off.
    StarterKit.configure({ undoRedo: false }),
    Collaboration.configure({ fragment }),
  ],
})

publish({
  snapshot: () => ({ content: editor.getJSON(), shared: fragment.toString(), ...yjsState(doc, provider) }),
  caretAfter(text) {
    let end = -1
    editor.state.doc.descendants((node, pos) => {
      if (end >= 0) return false
      if (node.isTextblock && node.textContent.includes(text)) end = pos + node.nodeSize - 1
      return !node.isTextblock
    })
    if (end < 0) return false
    // Not the focus command: it focuses in the next animation frame, and a key pressed
    // before then would go to the page instead of the editor.
    editor.commands.setTextSelection(end)
    editor.view.focus()
    return editor.view.hasFocus()
  },
  text: () => editor.state.doc.textContent,
})
