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
import { setupHistory } from './history.js'
import { ConcordProvider, type ProviderState } from './provider.js'
import { rememberRoom, roomFromPath } from './recent.js'
import { loadUser, makeUser, saveUser, type User } from './user.js'
import './style.css'

/// Name of the shared `Y.Text` holding the document (the HTTP API reads the same one).
export const TEXT_NAME = 'codemirror'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

function storage(): Storage | null {
  try { return window.localStorage } catch { return null }
}

/// Set up the editor page for `room`.
function start(room: string): void {
  rememberRoom(storage(), room)
  document.title = `${room} · Concord`
  $('room-name').textContent = room

  const doc = new Y.Doc()
  const ytext = doc.getText(TEXT_NAME)
  const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}`
  const provider = new ConcordProvider(wsUrl, room, doc)
  const awareness = provider.awareness
  let user: User = loadUser(storage())
  awareness.setLocalStateField('user', user)

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
        yCollab(ytext, awareness, { undoManager }),
        EditorView.updateListener.of((update) => { if (update.docChanged) liveChanged(update.changes) }),
      ],
    }),
  })

  // Presence controls: edits show to others at once and are remembered for next time.
  const nameInput = $<HTMLInputElement>('user-name')
  const colorInput = $<HTMLInputElement>('user-color')
  nameInput.value = user.name
  colorInput.value = user.color
  function updateUser(): void {
    user = makeUser(nameInput.value, colorInput.value)
    awareness.setLocalStateField('user', user)
    saveUser(storage(), user)
  }
  nameInput.addEventListener('input', updateUser)
  colorInput.addEventListener('input', updateUser)
  nameInput.addEventListener('change', () => { nameInput.value = user.name })
  nameInput.addEventListener('keydown', (event) => {
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

  // Who is here: one list item per awareness state, ourselves first.
  function renderPeople(): void {
    const list = $<HTMLUListElement>('people')
    const entries = [...awareness.getStates()]
      .filter(([, state]) => state.user)
      .sort(([a], [b]) => (a === doc.clientID ? -1 : b === doc.clientID ? 1 : a - b))
    list.replaceChildren(...entries.map(([id, state]) => {
      const person = makeUser(String(state.user.name ?? ''), String(state.user.color ?? ''))
      const item = document.createElement('li')
      const swatch = document.createElement('span')
      swatch.className = 'swatch'
      swatch.style.backgroundColor = person.color
      swatch.setAttribute('aria-hidden', 'true')
      item.append(swatch, document.createTextNode(person.name + (id === doc.clientID ? ' (you)' : '')))
      return item
    }))
  }
  awareness.on('change', renderPeople)
  renderPeople()

  // The status line: connection, peers, and whether the server has stored our edits.
  function renderStatus(state: ProviderState): void {
    const line = $('status')
    const parts: string[] = []
    if (state.stopped) parts.push(`Offline: ${state.stopped.reason || `closed with code ${state.stopped.code}`}`)
    else if (state.status === 'connected') parts.push('Connected')
    else if (state.status === 'connecting') parts.push('Connecting…')
    else parts.push(state.retryInMs !== null ? `Offline, retrying in ${Math.ceil(state.retryInMs / 1000)} s` : 'Offline')
    parts.push(state.peers === 1 ? '1 other person' : `${state.peers} other people`)
    if (state.denied) parts.push(`Read-only: ${state.denied}`)
    else parts.push(state.saved ? 'Saved' : 'Saving…')
    line.textContent = parts.join(' · ')
    line.dataset.status = state.stopped ? 'stopped' : state.status
    line.dataset.saved = String(state.saved)
    line.dataset.peers = String(state.peers)
  }
  provider.subscribe(renderStatus)
  let readOnly = false
  provider.subscribe((state) => {
    if (readOnly || !state.denied) return
    readOnly = true
    view.dispatch({ effects: access.reconfigure([EditorState.readOnly.of(true), EditorView.editable.of(false)]) })
  })
  renderStatus(provider.state)

  liveChanged = setupHistory(room, view, provider).liveChanged

  // Leaving: tell the others at once. Coming back from the back/forward cache: rejoin.
  addEventListener('pagehide', () => {
    awareness.setLocalState(null)
    provider.disconnect()
  })
  addEventListener('pageshow', (event) => {
    if (!event.persisted) return
    awareness.setLocalStateField('user', user)
    provider.connect()
  })

  // A handle for the browser console (and the end-to-end tests): the view, document,
  // provider and undo manager of this page.
  Object.assign(window, { concord: { view, doc, provider, undoManager, awareness } })
  view.focus()
}

const room = roomFromPath(location.pathname)
if (room === null) location.replace('/')
else start(room)
