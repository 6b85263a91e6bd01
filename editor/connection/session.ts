// What an editor page knows about its right to be in the room: the token from its link
// (sent as a WebSocket subprotocol and as `Authorization: Bearer` on API calls), the access
// the server grants (a read-only link makes the editor read-only and says so), and why a
// connection is refused or was closed, in words, with the page retrying only where that can
// help. The room joins "Rooms you opened" once the server has let the page in.
import { Compartment, EditorState, type Extension } from '@codemirror/state'
import { EditorView } from '@codemirror/view'
import { explainClose, explainRefusal, preflight, refusalIsPermanent, type Access, type Problem } from './access.js'
import { useToken } from './api.js'
import type { ConcordProvider, ProviderState } from './provider.js'
import { databaseName } from './offline.js'
import { rememberRoom } from '../page/recent.js'
import { roomNameProblem } from './roomName.js'
import { parseRoomName } from '../../server/protocol/roomName.js'
import { tabStorage, takeToken } from './token.js'

/// What the page's provider needs from the session.
export interface SessionProviderOptions {
  /// The token as the one subprotocol offered (none without a token).
  protocols: string[]
  whenRefused(): Promise<string | null>
  /// False when the room name is one the server refuses anyway.
  connect: boolean
}

export interface Session {
  readonly room: string
  readonly token: string | null
  readonly providerOptions: SessionProviderOptions
  /// The editor extensions the session controls (read-only).
  readonly extensions: Extension
  /// The access the server granted, once known (null before).
  access(): Access | null
  /// Called with the access once known, and again if it changes.
  onAccess(listener: (access: Access) => void): void
  /// Start watching the provider and the view.
  attach(view: EditorView, provider: ConcordProvider): void
}

const $ = (id: string): HTMLElement | null => document.getElementById(id)

function localStorageOrNull(): Storage | null {
  try { return window.localStorage } catch { return null }
}

/// Problems after which the editor stops taking edits (they could never be shared).
const LOCKING = new Set(['bad-room', 'missing-token', 'expired', 'invalid-token', 'wrong-room', 'forbidden', 'origin', 'deleted'])

/// Set in the tab by "Start afresh": the room whose offline copy the next load drops.
const AFRESH_KEY = 'concord:start-afresh'

/// Drop this browser's offline copy of `room` if "Start afresh" asked for it. Runs before the
/// page opens that copy: IndexedDB opens a database only after a deletion asked before.
function dropLocalCopyIfAsked(room: string): void {
  const storage = tabStorage()
  try {
    if (storage?.getItem(AFRESH_KEY) !== room) return
    storage.removeItem(AFRESH_KEY)
    indexedDB.deleteDatabase(databaseName(room))
  } catch {
    // No IndexedDB: nothing kept offline.
  }
}

/// The session of the editor page of `room`.
export function openSession(room: string): Session {
  dropLocalCopyIfAsked(room)
  const token = takeToken(room, tabStorage())
  useToken(token)
  const badName = roomNameProblem(room) === null ? null : parseRoomName('/' + encodeURIComponent(room))
  const lock = new Compartment()
  let view: EditorView | null = null
  let provider: ConcordProvider | null = null
  let access: Access | null = null
  let locked = false
  let remembered = false
  /// The problem shown, if any.
  let shown: Problem | null = null
  const accessListeners: Array<(access: Access) => void> = []

  function setAccess(next: Access): void {
    if (next === access) return
    access = next
    updateLock()
    renderBadge()
    for (const listener of accessListeners) listener(next)
  }

  function updateLock(): void {
    const readOnly = locked || access === 'read'
    view?.dispatch({ effects: lock.reconfigure(readOnly ? [EditorState.readOnly.of(true), EditorView.editable.of(false)] : []) })
  }

  /// "Read-only" next to the room name, for a read-only link or updates the server ignores.
  function renderBadge(): void {
    const badge = $('access-badge')
    if (!badge) return
    const denied = provider?.state.denied ?? null
    const readOnly = access === 'read' || denied !== null
    badge.hidden = !readOnly
    badge.textContent = 'Read-only'
    badge.title = readOnly
      ? 'Your link lets you read this room and see others edit it, but not change it.'
      : ''
    badge.setAttribute('aria-label', readOnly ? 'Read-only: your link lets you read this room, not edit it' : '')
  }

  function show(problem: Problem | null): void {
    const box = $('problem')
    if (!box) return
    // A retrying problem is stale once connected again.
    if (problem?.retrying && provider?.state.status === 'connected') problem = null
    shown = problem
    if (problem && LOCKING.has(problem.kind) && !locked) {
      locked = true
      updateLock()
    }
    box.hidden = problem === null
    if (!problem) {
      box.replaceChildren()
      delete box.dataset.kind
      return
    }
    box.dataset.kind = problem.kind
    box.dataset.retrying = String(problem.retrying)
    const title = document.createElement('strong')
    title.className = 'problem-title'
    title.textContent = problem.title
    const detail = document.createElement('span')
    detail.className = 'problem-detail'
    detail.textContent = problem.detail
    const parts: HTMLElement[] = [title, detail]
    if (problem.retrying) {
      const retry = document.createElement('span')
      retry.className = 'problem-retry'
      retry.id = 'problem-retry'
      parts.push(retry)
    } else {
      const stop = document.createElement('span')
      stop.className = 'problem-retry'
      stop.textContent = 'Concord stopped trying to connect: trying again cannot help.'
      parts.push(stop)
    }
    const action = actionButton(problem.action)
    if (action) parts.push(action)
    box.replaceChildren(...parts)
    renderRetry()
  }

  function renderRetry(): void {
    const line = $('problem-retry')
    if (!line || !shown?.retrying) return
    const state = provider?.state
    line.textContent = state?.status === 'connecting'
      ? 'Trying again now…'
      : state?.retryInMs != null
        ? `Trying again by itself in ${Math.max(1, Math.round(state.retryInMs / 1000))} s…`
        : 'Trying again by itself…'
  }

  function actionButton(action: Problem['action']): HTMLElement | null {
    if (action === 'home') {
      const link = document.createElement('a')
      link.href = '/'
      link.className = 'problem-action'
      link.textContent = 'Go to the start page'
      return link
    }
    if (!action) return null
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'problem-action'
    if (action === 'reload') {
      button.textContent = 'Reload the page'
      button.addEventListener('click', () => location.reload())
    } else {
      button.textContent = 'Start afresh'
      button.title = 'Begin a new, empty document in this room (the text shown here is dropped)'
      button.addEventListener('click', () => void startAfresh())
    }
    return button
  }

  /// After the document was deleted: load the room anew, empty. The copy this browser keeps
  /// offline is dropped first thing on the next load (see `openSession`), before it is read:
  /// sent again, the deleted content would be refused again.
  function startAfresh(): void {
    try { tabStorage()?.setItem(AFRESH_KEY, room) } catch { /* then the reload keeps the copy */ }
    location.reload()
  }

  async function whenRefused(): Promise<string | null> {
    const answer = await preflight(room)
    if (answer.kind === 'unreachable') return null
    if (answer.kind === 'admitted') {
      setAccess(answer.access)
      if (shown?.retrying) show(null)
      return null
    }
    const problem = explainRefusal(answer.status, answer.reason)
    show(problem)
    return refusalIsPermanent(answer.status) ? answer.reason : null
  }

  function watch(state: ProviderState): void {
    if (state.synced && !remembered) {
      // Only a room the server let us into is listed on the landing page.
      remembered = true
      rememberRoom(localStorageOrNull(), room)
    }
    if (state.status === 'connected' && shown?.retrying) show(null)
    if (state.stopped && state.stopped.code !== 1006) {
      const problem = explainClose(state.stopped.code, state.stopped.reason)
      if (problem && problem.kind !== shown?.kind) show(problem)
    }
    renderBadge()
    renderRetry()
  }

  return {
    room,
    token,
    providerOptions: { protocols: token ? [token] : [], whenRefused, connect: badName === null },
    extensions: lock.of([]),
    access: () => access,
    onAccess(listener) {
      accessListeners.push(listener)
      if (access) listener(access)
    },
    attach(editor, connection) {
      view = editor
      provider = connection
      connection.subscribe(watch)
      watch(connection.state)
      if (badName && !badName.ok) {
        show(explainRefusal(400, badName.reason))
        return
      }
      updateLock()
      // Learn the access at once (a read-only link makes the editor read-only before the
      // first keystroke), and why, if the server would refuse this page.
      void preflight(room).then((answer) => {
        if (answer.kind === 'admitted') setAccess(answer.access)
        else if (answer.kind === 'refused') show(explainRefusal(answer.status, answer.reason))
      })
    },
  }
}
