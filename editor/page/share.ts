// The Share button: a dialog that makes a link to this room, read-only or editable, working
// for a chosen time, copies it to the clipboard and shows it. The server signs a token for
// this room alone (`POST /api/rooms/<room>/share`), never with more access or a longer life
// than the sharer's own; the link carries it in its fragment (`#token=…`), which browsers
// do not send to servers. A server without auth needs no token: the plain link is shared.
import { ApiError, apiJson, roomApi } from '../connection/api.js'
import { roomPath } from './recent.js'

/// Lifetimes offered, in seconds.
export const LIFETIMES: ReadonlyArray<{ label: string; seconds: number }> = [
  { label: '1 hour', seconds: 3600 },
  { label: '1 day', seconds: 86_400 },
  { label: '7 days', seconds: 7 * 86_400 },
  { label: '30 days', seconds: 30 * 86_400 },
]

/// The link to share: the room's page, with the token in the fragment when there is one.
export function shareLink(origin: string, room: string, token: string | null): string {
  return `${origin}${roomPath(room)}${token ? `#token=${encodeURIComponent(token)}` : ''}`
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const el = Object.assign(document.createElement(tag), props)
  el.append(...children)
  return el
}

async function copy(text: string, input: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    // No clipboard API or no permission: the old way, from the selected box.
    input.focus()
    input.select()
    try { return document.execCommand('copy') } catch { return false }
  }
}

/// Set up the Share button of the editor page of `room`. `canWrite` tells whether this page
/// may edit (only then is "can edit" offered).
export function setupShare(room: string, canWrite: () => boolean): void {
  const button = document.getElementById('share') as HTMLButtonElement | null
  if (!button) return

  const readRadio = element('input', { type: 'radio', name: 'share-access', value: 'read', id: 'share-read', checked: true })
  const writeRadio = element('input', { type: 'radio', name: 'share-access', value: 'write', id: 'share-write' })
  const writeChoice = element('label', { htmlFor: 'share-write', className: 'choice' }, writeRadio, ' Can edit')
  const readOnlyNote = element('p', { className: 'hint', id: 'share-readonly-note', hidden: true },
    'Your own access is read-only, so you can share read-only links only.')
  const lifetime = element('select', { id: 'share-ttl' },
    ...LIFETIMES.map((l) => element('option', { value: String(l.seconds), selected: l.seconds === 7 * 86_400 }, l.label)))
  const create = element('button', { type: 'submit', className: 'primary', id: 'share-create' }, 'Create link and copy')
  const close = element('button', { type: 'button', id: 'share-close' }, 'Close')
  const linkBox = element('input', { type: 'text', readOnly: true, id: 'share-link', spellcheck: false })
  linkBox.setAttribute('aria-label', 'Link to share')
  const result = element('div', { className: 'share-result', hidden: true }, linkBox)
  const message = element('p', { className: 'message', id: 'share-message' })
  message.setAttribute('role', 'status')
  const error = element('p', { className: 'error', id: 'share-error' })
  error.setAttribute('role', 'alert')
  const heading = element('h2', { id: 'share-heading' }, 'Share this room')
  const form = element('form', { className: 'share-form', method: 'dialog' },
    heading,
    element('fieldset', {},
      element('legend', {}, 'People with the link can'),
      element('label', { htmlFor: 'share-read', className: 'choice' }, readRadio, ' Read only'),
      writeChoice,
      readOnlyNote),
    element('label', { htmlFor: 'share-ttl', className: 'field-label' }, 'The link works for'),
    lifetime,
    element('div', { className: 'share-actions' }, create, close),
    result, message, error)
  const dialog = element('dialog', { id: 'share-dialog', className: 'share-dialog' }, form)
  dialog.setAttribute('aria-labelledby', 'share-heading')
  document.body.append(dialog)

  let busy = false

  function prepare(): void {
    const writable = canWrite()
    writeChoice.hidden = !writable
    writeRadio.disabled = !writable
    readOnlyNote.hidden = writable
    if (!writable) readRadio.checked = true
    message.textContent = ''
    error.textContent = ''
  }

  button.addEventListener('click', () => {
    prepare()
    dialog.showModal()
  })
  close.addEventListener('click', () => dialog.close())

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    if (busy) return
    void makeLink()
  })

  async function makeLink(): Promise<void> {
    busy = true
    create.disabled = true
    message.textContent = 'Creating the link…'
    error.textContent = ''
    const access = writeRadio.checked && canWrite() ? 'write' : 'read'
    const ttlSeconds = Number(lifetime.value)
    try {
      const answer = await apiJson<{ token: string | null; access: string; expiresAt: number | null }>(
        roomApi(room, '/share'), { access, ttlSeconds })
      const link = shareLink(location.origin, room, answer.token)
      linkBox.value = link
      result.hidden = false
      const copied = await copy(link, linkBox)
      const what = answer.access === 'write' ? 'can edit' : 'can read but not edit'
      let words: string
      if (answer.token === null) {
        words = 'This server lets anyone with the address in, so the plain link is all it takes (anyone who has it can edit).'
      } else {
        const until = answer.expiresAt ? new Date(answer.expiresAt) : null
        const shortened = until !== null && answer.expiresAt! < Date.now() + ttlSeconds * 1000 - 60_000
        words = `People with this link ${what} this room${until ? ` until ${until.toLocaleString()}` : ''}.`
        if (shortened) words += ' That is when your own access ends, so the link cannot last longer.'
      }
      message.textContent = `${copied ? 'Copied to the clipboard.' : 'Copy the link from the box above.'} ${words}`
      linkBox.focus()
      linkBox.select()
    } catch (failure) {
      message.textContent = ''
      const status = failure instanceof ApiError ? failure.status : 0
      const reason = failure instanceof Error ? failure.message : String(failure)
      if (status === 403) error.textContent = `The server refused to make this link: ${reason}.`
      else if (status === 501) error.textContent = `This server cannot make share links: ${reason}. Ask its administrator for a link instead.`
      else if (status === 401) error.textContent = `The server refused: ${reason}. Your own link may have expired; ask for a new one.`
      else error.textContent = `The link could not be made: ${reason}${status ? ` (${status})` : ''}.`
    } finally {
      busy = false
      create.disabled = false
    }
  }
}
