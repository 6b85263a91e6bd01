// The editor page's History panel: the room's versions (newest first), naming the current
// state as a version, opening a version (read-only, compared with the live document) and
// restoring it. The server sends a restore to every tab as an ordinary edit, so the live
// editor needs nothing special to show it.
import type { ChangeSet } from '@codemirror/state'
import type { EditorView } from '@codemirror/view'
import { ApiError, apiJson, apiText, roomApi, type Version } from '../connection/api.js'
import type { ConcordProvider } from '../connection/provider.js'
import { refreshTimes, timeElement } from '../page/time.js'
import type { VersionView } from './versionView.js'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

/// How often the open panel reloads its list (automatic versions appear by themselves).
const RELOAD_MS = 30_000
/// Longest wait for our edits to be stored before naming a version anyway.
const SAVE_WAIT_MS = 5_000

/// What a version is called in the list and headings.
export function versionTitle(version: Version): string {
  return version.label ?? `Version ${version.id}`
}

/// Authors in words.
export function authorsText(authors: readonly string[]): string {
  if (authors.length === 0) return 'No recorded changes'
  if (authors.length <= 3) return `By ${authors.join(', ')}`
  return `By ${authors.slice(0, 3).join(', ')} and ${authors.length - 3} more`
}

/// The sentence for a failed request.
function failure(doing: string, error: unknown): string {
  if (error instanceof ApiError) return `Could not ${doing}: ${error.message}${error.status ? ` (${error.status})` : ''}.`
  return `Could not ${doing}: ${(error as Error).message}.`
}

/// Set up the panel; returns the hook the live editor calls with every change of its document.
export function setupHistory(room: string, live: EditorView, provider: ConcordProvider): { liveChanged(changes: ChangeSet): void } {
  const toggle = $<HTMLButtonElement>('history-toggle')
  const panel = $('history')
  const close = $<HTMLButtonElement>('history-close')
  const nameButton = $<HTMLButtonElement>('version-name')
  const nameForm = $<HTMLFormElement>('name-form')
  const nameInput = $<HTMLInputElement>('version-label')
  const nameSave = $<HTMLButtonElement>('name-save')
  const nameCancel = $<HTMLButtonElement>('name-cancel')
  const message = $('history-message')
  const errorLine = $('history-error')
  const readOnlyNote = $('history-readonly')
  const list = $<HTMLOListElement>('versions')
  const empty = $('versions-empty')
  const liveEditor = $('editor')
  const versionPane = $('version-view')
  const versionHeading = $('version-heading')
  const versionMeta = $('version-meta')
  const versionError = $('version-error')
  const diffParent = $('version-diff')
  const restoreButton = $<HTMLButtonElement>('version-restore')
  const backButton = $<HTMLButtonElement>('version-back')

  let versions: Version[] = []
  let loadSeq = 0
  /// The error line shows a failed load (cleared by the next good one).
  let loadFailed = false
  let reloadTimer: ReturnType<typeof setInterval> | null = null
  /// The version shown, and its view once loaded.
  let shown: { version: Version; view: VersionView | null } | null = null
  /// Bumped on every open/close, so an answer that arrives late is dropped.
  let openSeq = 0
  let busy = false
  let readOnlyReason: string | null = null

  function say(text: string): void {
    message.textContent = text
    errorLine.textContent = ''
  }
  function fail(text: string): void {
    errorLine.textContent = text
    message.textContent = ''
    loadFailed = false
  }

  function updateButtons(): void {
    const cannotWrite = readOnlyReason !== null
    nameButton.disabled = busy || cannotWrite || !nameForm.hidden
    nameSave.disabled = busy || cannotWrite
    restoreButton.disabled = busy || cannotWrite || shown?.view == null
    const why = cannotWrite ? `You can look at versions, but not name or restore them (${readOnlyReason}).` : ''
    nameButton.title = why
    restoreButton.title = why
    readOnlyNote.textContent = why
    readOnlyNote.hidden = !cannotWrite
  }

  // ---- The list ----

  function render(): void {
    // Keyboard focus on an Open button stays on that version's new button.
    const focused = list.contains(document.activeElement) ? document.activeElement?.closest<HTMLElement>('li')?.dataset.id : undefined
    list.replaceChildren(...versions.map((version) => {
      const item = document.createElement('li')
      item.className = 'version'
      item.dataset.id = String(version.id)
      if (shown?.version.id === version.id) item.setAttribute('aria-current', 'true')
      const title = document.createElement('span')
      title.className = version.label === null ? 'version-title automatic' : 'version-title'
      title.textContent = versionTitle(version)
      const when = timeElement(version.createdAt)
      const authors = document.createElement('span')
      authors.className = 'version-authors'
      authors.textContent = authorsText(version.authors)
      const open = document.createElement('button')
      open.type = 'button'
      open.className = 'version-open'
      open.textContent = 'Open'
      open.setAttribute('aria-label', `Open ${versionTitle(version)}, ${when.textContent}`)
      open.addEventListener('click', () => void openVersion(version))
      const text = document.createElement('div')
      text.className = 'version-text'
      text.append(title, when, authors)
      item.append(text, open)
      return item
    }))
    empty.hidden = versions.length > 0
    if (focused !== undefined) list.querySelector<HTMLButtonElement>(`li[data-id="${focused}"] button`)?.focus()
  }

  /// Fetch the list; of overlapping loads, the last one started wins.
  async function load(): Promise<void> {
    const seq = ++loadSeq
    try {
      const answer = await apiJson<{ versions: Version[] }>(roomApi(room, '/versions'))
      if (seq !== loadSeq) return
      versions = answer.versions
      if (loadFailed) errorLine.textContent = ''
      loadFailed = false
    } catch (error) {
      if (seq !== loadSeq) return
      // A room nothing was stored of yet has no versions: not an error worth showing.
      if (error instanceof ApiError && error.status === 404) versions = []
      else {
        fail(failure('load the versions', error))
        loadFailed = true
      }
    }
    render()
    panel.dataset.loaded = 'true'
  }

  function setOpen(open: boolean): void {
    panel.hidden = !open
    toggle.setAttribute('aria-expanded', String(open))
    document.body.classList.toggle('history-open', open)
    if (reloadTimer) clearInterval(reloadTimer)
    reloadTimer = null
    if (!open) {
      closeVersion(false)
      return
    }
    void load()
    reloadTimer = setInterval(() => {
      refreshTimes(list)
      if (!busy) void load()
    }, RELOAD_MS)
  }

  toggle.addEventListener('click', () => {
    const open = panel.hidden
    setOpen(open)
    if (open) $('history-heading').focus()
  })
  close.addEventListener('click', () => {
    setOpen(false)
    toggle.focus()
  })

  // ---- Naming a version ----

  nameButton.addEventListener('click', () => {
    nameForm.hidden = false
    nameInput.value = ''
    updateButtons()
    nameInput.focus()
  })
  function hideForm(): void {
    nameForm.hidden = true
    updateButtons()
  }
  nameCancel.addEventListener('click', () => {
    hideForm()
    nameButton.focus()
  })
  nameForm.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      hideForm()
      nameButton.focus()
    }
  })
  nameForm.addEventListener('submit', (event) => {
    event.preventDefault()
    void nameVersion(nameInput.value.trim())
  })

  /// Resolves once the server has stored our edits (or after `SAVE_WAIT_MS`), so a version
  /// named now holds what this tab shows.
  function saved(): Promise<void> {
    if (provider.state.saved) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, SAVE_WAIT_MS)
      const stop = provider.subscribe((state) => { if (state.saved) done() })
      function done(): void {
        clearTimeout(timer)
        stop()
        resolve()
      }
    })
  }

  async function nameVersion(label: string): Promise<void> {
    if (!label) {
      fail('Give the version a name first.')
      nameInput.focus()
      return
    }
    busy = true
    updateButtons()
    say('Saving the version…')
    let done = false
    try {
      await saved()
      const answer = await apiJson<{ version: Version | null }>(roomApi(room, '/versions'), { label })
      done = true
      hideForm()
      say(answer.version ? `Saved “${label}”.` : 'Nothing changed since the last version.')
      await load()
    } catch (error) {
      fail(failure('name the version', error))
    } finally {
      busy = false
      updateButtons()
    }
    if (done) nameButton.focus()
  }

  // ---- Opening and restoring a version ----

  async function openVersion(version: Version): Promise<void> {
    const seq = ++openSeq
    shown?.view?.destroy()
    shown = { version, view: null }
    render()
    liveEditor.hidden = true
    versionPane.hidden = false
    document.body.classList.add('version-open')
    versionHeading.textContent = versionTitle(version)
    versionMeta.replaceChildren(timeElement(version.createdAt), document.createTextNode(` · ${authorsText(version.authors)}`))
    versionError.textContent = ''
    diffParent.replaceChildren()
    diffParent.setAttribute('aria-busy', 'true')
    updateButtons()
    versionHeading.focus()
    try {
      const [text, module] = await Promise.all([
        apiText(roomApi(room, `/versions/${version.id}/text`)),
        import('./versionView.js'),
      ])
      if (seq !== openSeq) return
      const view = module.createVersionView(diffParent, text, live.state.doc.toString(), `${versionTitle(version)}, read-only`)
      shown.view = view
      versionPane.dataset.differences = String(view.differences())
    } catch (error) {
      if (seq !== openSeq) return
      versionError.textContent = failure('open the version', error)
    } finally {
      if (seq === openSeq) {
        diffParent.removeAttribute('aria-busy')
        updateButtons()
      }
    }
  }

  function closeVersion(focusLive = true): void {
    openSeq++
    shown?.view?.destroy()
    shown = null
    versionPane.hidden = true
    liveEditor.hidden = false
    document.body.classList.remove('version-open')
    diffParent.replaceChildren()
    delete versionPane.dataset.differences
    render()
    updateButtons()
    if (focusLive) live.focus()
  }

  backButton.addEventListener('click', () => closeVersion())
  versionPane.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeVersion()
  })

  restoreButton.addEventListener('click', async () => {
    if (!shown) return
    const version = shown.version
    busy = true
    updateButtons()
    versionError.textContent = ''
    restoreButton.textContent = 'Restoring…'
    try {
      const answer = await apiJson<{ restored: number; before: Version | null }>(
        roomApi(room, `/versions/${version.id}/restore`), {},
      )
      closeVersion()
      say(answer.before
        ? `Restored “${versionTitle(version)}”. The text from before is kept as “${versionTitle(answer.before)}”.`
        : `Restored “${versionTitle(version)}”.`)
      await load()
    } catch (error) {
      versionError.textContent = failure('restore this version', error)
    } finally {
      busy = false
      restoreButton.textContent = 'Restore this version'
      updateButtons()
    }
  })

  provider.subscribe((state) => {
    const reason = state.denied
    if (reason === readOnlyReason) return
    readOnlyReason = reason
    updateButtons()
  })
  readOnlyReason = provider.state.denied
  updateButtons()

  return {
    liveChanged(changes) {
      shown?.view?.liveChanged(changes)
      if (shown?.view) versionPane.dataset.differences = String(shown.view.differences())
    },
  }
}
