// The editor page (/r/<room>): CodeMirror 6 bound to the room's shared text through
// y-codemirror.next, our provider for the connection, and the presence controls.
import { defaultKeymap } from '@codemirror/commands'
import { searchKeymap } from '@codemirror/search'
import { Compartment, EditorState, type ChangeSet } from '@codemirror/state'
import {
  EditorView, drawSelection, dropCursor, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, keymap, lineNumbers,
} from '@codemirror/view'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import * as Y from 'yjs'
import { setupHistory } from './history/panel.js'
import { ConcordProvider, type ProviderState } from './connection/provider.js'
import { roomFromPath } from './page/recent.js'
import { markdownEditing } from './page/markdown.js'
import { setupPreview } from './page/preview.js'
import { openSession } from './connection/session.js'
import { setupShare } from './page/share.js'
import { guardUnsavedEdits, LocalCopy, registerServiceWorker, saveText } from './connection/offline.js'
import { setupPageTools } from './page/pageTools.js'
import { othersText, Presence } from './presence/presence.js'
import { remoteCursors } from './presence/remoteCursors.js'
import './style.css'
import './layout.css'
import './features.css'

/// Name of the shared `Y.Text` holding the document (the HTTP API reads the same one).
export const TEXT_NAME = 'codemirror'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

function storage(): Storage | null {
  try { return window.localStorage } catch { return null }
}

/// Set up the editor page for `room`.
function start(room: string): void {
  // The link's token, the access it grants, and refusals in words (the room is remembered
  // for the landing page once the server lets us in).
  const session = openSession(room)
  const markdown = markdownEditing()
  const preview = setupPreview(room)
  document.title = `${room} · Concord`
  $('room-name').textContent = room

  const doc = new Y.Doc()
  const ytext = doc.getText(TEXT_NAME)
  // This browser's copy of the room (IndexedDB): offline edits survive a reload.
  const local = new LocalCopy(room, doc)
  const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}`
  const provider = new ConcordProvider(wsUrl, room, doc, { ...session.providerOptions })
  const awareness = provider.awareness
  // Name, colour, browser id, and the people list (one entry per person, not per tab).
  const presence = new Presence(awareness, storage(), {
    nameInput: $<HTMLInputElement>('user-name'),
    colorInput: $<HTMLInputElement>('user-color'),
    list: $<HTMLUListElement>('people'),
    toggle: document.getElementById('people-toggle') as HTMLButtonElement | null,
    panel: document.querySelector<HTMLElement>('.people'),
  })
  const pageTools = setupPageTools(room)

  const undoManager = new Y.UndoManager(ytext)
  // Becomes read-only when the server refuses our updates, so no edit is silently dropped.
  const access = new Compartment()
  /// Told of every change of the live document (an open version compares itself with it).
  let liveChanged: (changes: ChangeSet) => void = () => undefined
  const view = new EditorView({
    parent: $('editor'),
    state: EditorState.create({
      doc: ytext.toString(),
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        drawSelection(),
        dropCursor(),
        highlightActiveLine(),
        EditorView.lineWrapping,
        // Tab is left to the browser so keyboard users can move focus out of the editor.
        keymap.of([...yUndoManagerKeymap, ...defaultKeymap, ...searchKeymap]),
        EditorView.contentAttributes.of({ 'aria-label': `Shared document of room ${room}` }),
        access.of([]),
        session.extensions,
        markdown.extensions,
        preview.extensions,
        // Remote cursors are ours (remoteCursors.ts: labels follow renames), not yCollab's.
        yCollab(ytext, null, { undoManager }),
        remoteCursors(ytext, awareness),
        pageTools,
        EditorView.updateListener.of((update) => { if (update.docChanged) liveChanged(update.changes) }),
      ],
    }),
  })

  // Presence controls (presence.ts): Enter in the name field goes back to the text.
  $<HTMLInputElement>('user-name').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') view.focus()
  })

  $('undo').addEventListener('click', () => { undoManager.undo(); view.focus() })
  $('redo').addEventListener('click', () => { undoManager.redo(); view.focus() })
  function updateUndoButtons(): void {
    $<HTMLButtonElement>('undo').disabled = undoManager.undoStack.length === 0
    $<HTMLButtonElement>('redo').disabled = undoManager.redoStack.length === 0
  }
  undoManager.on('stack-item-added', updateUndoButtons)
  undoManager.on('stack-item-popped', updateUndoButtons)
  undoManager.on('stack-cleared', updateUndoButtons)
  updateUndoButtons()

  // The status line: connection, peers, and whether the server has stored our edits.
  function renderStatus(state: ProviderState): void {
    const line = $('status')
    const parts: string[] = []
    if (state.stopped) parts.push(`Offline: ${state.stopped.reason || `closed with code ${state.stopped.code}`}`)
    else if (state.status === 'connected') parts.push('Connected')
    else if (state.status === 'connecting') parts.push('Connecting…')
    else parts.push(state.retryInMs !== null ? `Offline, retrying in ${Math.ceil(state.retryInMs / 1000)} s` : 'Offline')
    parts.push(othersText(presence.list))
    if (state.denied) parts.push(`Read-only: ${state.denied}`)
    // A page that never got in has nothing on the server to speak of.
    else if (!state.stopped) parts.push(saveText(state, local.state))
    line.textContent = parts.join(' · ')
    line.dataset.status = state.stopped ? 'stopped' : state.status
    line.dataset.saved = String(state.saved)
    line.dataset.peers = String(state.peers)
    line.dataset.local = String(local.state.saved)
  }
  provider.subscribe(renderStatus)
  local.subscribe(() => renderStatus(provider.state))
  presence.subscribe(() => renderStatus(provider.state))
  guardUnsavedEdits(provider)
  registerServiceWorker()
  let readOnly = false
  provider.subscribe((state) => {
    if (readOnly || !state.denied) return
    readOnly = true
    view.dispatch({ effects: access.reconfigure([EditorState.readOnly.of(true), EditorView.editable.of(false)]) })
  })
  renderStatus(provider.state)

  liveChanged = setupHistory(room, view, provider).liveChanged
  session.attach(view, provider)
  void markdown.attach(view)
  preview.attach(view)
  setupShare(room, () => session.access() !== 'read' && provider.state.denied === null)

  // Leaving: tell the others at once. Coming back from the back/forward cache: rejoin.
  addEventListener('pagehide', () => {
    awareness.setLocalState(null)
    provider.disconnect()
  })
  addEventListener('pageshow', (event) => {
    if (!event.persisted) return
    presence.publish()
    provider.connect()
  })

  // A handle for the browser console (and the end-to-end tests): the view, document,
  // provider and undo manager of this page.
  Object.assign(window, { concord: { view, doc, provider, undoManager, awareness, local, presence } })
  view.focus()
}

const room = roomFromPath(location.pathname)
if (room === null) location.replace('/')
else start(room)
