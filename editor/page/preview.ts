// The Markdown preview beside the text (a toggle button, remembered per browser), rendered
// sanitised by `render.ts`, loaded the first time the preview opens; and the Download button,
// which saves the text as `<last segment of the room name>.md`.
import { EditorView, type ViewUpdate } from '@codemirror/view'
import type { Extension } from '@codemirror/state'

const STORAGE_KEY = 'concord:preview'
/// Above this many characters the preview waits longer after typing before it renders again.
const LARGE = 100_000

const $ = <T extends HTMLElement>(id: string): T | null => document.getElementById(id) as T | null

function storage(): Storage | null {
  try { return window.localStorage } catch { return null }
}

/// The file name a room's text downloads as: its name's last `/` segment, made safe for
/// file systems, with `.md` added unless it ends so already.
export function downloadName(room: string): string {
  const last = room.split('/').map((s) => s.trim()).filter((s) => s !== '').pop() ?? ''
  // eslint-disable-next-line no-control-regex
  let name = last.replace(/[\\/:*?"<>|\u0000-\u001f\u007f-\u009f]/g, '-').replace(/^[.\s]+|[.\s]+$/g, '').slice(0, 120)
  if (name === '') name = 'document'
  return /\.(md|markdown)$/i.test(name) ? name : `${name}.md`
}

/// Set up the preview and Download; the returned extension keeps the preview current.
export function setupPreview(room: string): { extensions: Extension; attach(view: EditorView): void } {
  const pane = $<HTMLElement>('preview')
  const toggle = $<HTMLButtonElement>('preview-toggle')
  const download = $<HTMLButtonElement>('download')
  let view: EditorView | null = null
  let open = false
  let timer: ReturnType<typeof setTimeout> | null = null
  let renderer: Promise<typeof import('./render.js')> | null = null
  let seq = 0

  async function render(): Promise<void> {
    if (!view || !pane || !open) return
    const mine = ++seq
    renderer ??= import('./render.js')
    let module: typeof import('./render.js')
    try {
      module = await renderer
    } catch {
      renderer = null
      pane.dataset.state = 'failed'
      pane.textContent = 'The preview could not be loaded. Check the connection and try again.'
      return
    }
    if (mine !== seq || !open) return
    const fragment = module.renderMarkdown(view.state.doc.toString())
    const body = document.createElement('div')
    body.className = 'preview-body'
    body.append(fragment)
    pane.replaceChildren(body)
    pane.dataset.state = 'rendered'
  }

  function schedule(length: number): void {
    if (!open) return
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => { timer = null; void render() }, length > LARGE ? 600 : 120)
  }

  function setOpen(next: boolean, remember = true): void {
    open = next
    if (!pane || !toggle) return
    pane.hidden = !next
    toggle.setAttribute('aria-pressed', String(next))
    document.querySelector('.document')?.classList.toggle('previewing', next)
    if (remember) {
      try { storage()?.setItem(STORAGE_KEY, next ? '1' : '0') } catch { /* a convenience only */ }
    }
    if (next) void render()
    else seq++
  }

  toggle?.addEventListener('click', () => setOpen(!open))

  download?.addEventListener('click', () => {
    if (!view) return
    const blob = new Blob([view.state.doc.toString()], { type: 'text/markdown;charset=utf-8' })
    const url = URL.createObjectURL(blob)
    const link = document.createElement('a')
    link.href = url
    link.download = downloadName(room)
    link.hidden = true
    document.body.append(link)
    link.click()
    link.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
  })

  return {
    extensions: EditorView.updateListener.of((update: ViewUpdate) => {
      if (update.docChanged) schedule(update.state.doc.length)
    }),
    attach(editor) {
      view = editor
      if (storage()?.getItem(STORAGE_KEY) === '1') setOpen(true, false)
    },
  }
}
