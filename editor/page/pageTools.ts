// Small parts of the editor page: the room name's full text on hover, the "Copy link" button
// (the room's plain address; the Share button makes links with access tokens), the "More"
// menu that holds the less used buttons on small screens, and the empty document's hint.
import type { Extension } from '@codemirror/state'
import { placeholder } from '@codemirror/view'

const $ = <T extends HTMLElement>(id: string): T | null => document.getElementById(id) as T | null

/// The room's address: no token, no query, nothing but the room.
export function roomLink(room: string, origin: string = location.origin): string {
  return `${origin}/r/${encodeURIComponent(room)}`
}

/// Copy `text` to the clipboard: the Clipboard API, or the older selection-based command
/// where the API is missing or refused (e.g. pages served over plain HTTP).
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text)
      return true
    }
  } catch {
    // Fall back below.
  }
  const field = document.createElement('textarea')
  field.value = text
  field.setAttribute('readonly', '')
  field.style.position = 'fixed'
  field.style.opacity = '0'
  document.body.append(field)
  field.select()
  let copied = false
  try {
    copied = document.execCommand('copy')
  } catch {
    copied = false
  }
  field.remove()
  return copied
}

/// Set up the page's small tools for `room`; returns the editor extensions they need.
export function setupPageTools(room: string): Extension {
  const name = $('room-name')
  if (name) name.title = room

  const copy = $<HTMLButtonElement>('copy-link')
  if (copy) {
    const label = copy.textContent ?? 'Copy link'
    let timer: ReturnType<typeof setTimeout> | null = null
    copy.addEventListener('click', async () => {
      const copied = await copyText(roomLink(room))
      copy.textContent = copied ? 'Copied' : 'Could not copy'
      copy.dataset.copied = String(copied)
      if (timer) clearTimeout(timer)
      timer = setTimeout(() => {
        copy.textContent = label
        delete copy.dataset.copied
      }, 2000)
    })
  }

  // Small screens: the buttons past Undo and Redo fold into "More".
  const more = $<HTMLButtonElement>('more-toggle')
  if (more) {
    const set = (open: boolean): void => {
      more.setAttribute('aria-expanded', String(open))
      document.body.classList.toggle('menu-open', open)
    }
    set(false)
    more.addEventListener('click', () => set(more.getAttribute('aria-expanded') !== 'true'))
    // Choosing something from the menu closes it ("Copy link" stays to show it copied).
    const stay = new Set(['undo', 'redo', 'copy-link'])
    document.querySelector('.bar .actions')?.addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest('button')
      if (button && !stay.has(button.id) && more.getAttribute('aria-expanded') === 'true') set(false)
    })
    addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || more.getAttribute('aria-expanded') !== 'true') return
      set(false)
      more.focus()
    })
  }

  return placeholder(emptyDocumentHint)
}

/// The empty document's hint: what to do, or (where the editor is read-only) only that it
/// is empty. Both are in the element; layout.css shows the one that fits.
function emptyDocumentHint(): HTMLElement {
  const hint = document.createElement('span')
  const edit = document.createElement('span')
  edit.className = 'hint-editable'
  edit.textContent = 'Empty document. Start typing: everyone in this room sees the text as you write it.'
  const read = document.createElement('span')
  read.className = 'hint-read-only'
  read.textContent = 'This document is empty.'
  hint.append(edit, read)
  return hint
}
