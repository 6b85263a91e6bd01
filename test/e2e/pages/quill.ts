/// <reference lib="dom" />
// Runs in the browser: a Quill 2 editor bound by y-quill to the Y.Text "quill" of a doc
// synced with Concord by the stock y-websocket client, with remote cursors (quill-cursors).
import Quill from 'quill'
import * as cursorsModule from 'quill-cursors'
import { QuillBinding } from 'y-quill'
import { connect, publish, yjsState } from './shared.js'

/// The Y.Text the binding uses; the test reads the same one on the server.
export const FIELD = 'quill'

// quill-cursors is a webpack UMD bundle (CommonJS): depending on interop its class is the
// module itself or its `default`.
type CursorsClass = new (...args: never[]) => object
const loaded = cursorsModule as unknown as { default?: CursorsClass | { default?: CursorsClass } }
const inner = loaded.default
const QuillCursors = (inner && 'default' in inner && inner.default ? inner.default : inner ?? loaded) as CursorsClass
Quill.register('modules/cursors', QuillCursors)

const { doc, provider } = connect()
const ytext = doc.getText(FIELD)
const quill = new Quill('#editor', {
  theme: 'snow',
  modules: { cursors: true, toolbar: false, history: { userOnly: true } },
})
const binding = new QuillBinding(ytext, quill, provider.awareness)
const name = new URLSearchParams(location.search).get('name') ?? 'anonymous'
provider.awareness.setLocalStateField('user', { name, color: '#2e86ab' })

publish({
  snapshot: () => ({ content: quill.getContents().ops, shared: JSON.stringify(ytext.toDelta()), ...yjsState(doc, provider) }),
  caretAfter(text) {
    const all = quill.getText()
    const at = all.indexOf(text)
    if (at < 0) return false
    const lineEnd = all.indexOf('\n', at)
    quill.focus()
    quill.setSelection(lineEnd < 0 ? all.length - 1 : lineEnd, 0, 'user')
    return true
  },
  text: () => quill.getText(),
})
// Kept reachable for debugging from the devtools console.
;(window as unknown as { binding?: QuillBinding }).binding = binding
