// Markdown in the editor: highlighting while typing (the language is loaded after the page
// shows, so the first load stays small) and a theme that follows the system's light or dark
// setting (`prefers-color-scheme`), switching live when it changes.
import { defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language'
import { Compartment, type Extension } from '@codemirror/state'
import type { EditorView } from '@codemirror/view'
import { oneDark } from '@codemirror/theme-one-dark'

/// The media query of the dark theme.
const DARK = '(prefers-color-scheme: dark)'

function themeFor(dark: boolean): Extension {
  return dark ? oneDark : syntaxHighlighting(defaultHighlightStyle, { fallback: true })
}

/// Markdown editing: the extensions to put in the editor, and `attach` to call once it exists.
export function markdownEditing(): { extensions: Extension; attach(view: EditorView): Promise<void> } {
  const language = new Compartment()
  const theme = new Compartment()
  const query = typeof matchMedia === 'function' ? matchMedia(DARK) : null
  return {
    extensions: [language.of([]), theme.of(themeFor(query?.matches ?? false))],
    async attach(view) {
      query?.addEventListener('change', (event) => {
        view.dispatch({ effects: theme.reconfigure(themeFor(event.matches)) })
      })
      const { markdown, markdownLanguage } = await import('@codemirror/lang-markdown')
      view.dispatch({ effects: language.reconfigure(markdown({ base: markdownLanguage })) })
      view.dom.dataset.language = 'markdown'
    },
  }
}
