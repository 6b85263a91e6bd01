// Markdown to safe DOM, for the preview (loaded on demand). The text is anyone's in the room,
// so what it renders is sanitised: no script, no event-handler attributes, no `javascript:`
// or other script URLs, no forms or styles that could dress up as the page. Links open in a
// new tab without access to this one.
import DOMPurify from 'dompurify'
import { Marked } from 'marked'

const marked = new Marked({ gfm: true, async: false })

const purify = DOMPurify(window)
purify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer nofollow')
  }
})

/// The sanitised rendering of Markdown `text`, as a fragment of this document.
export function renderMarkdown(text: string): DocumentFragment {
  const html = marked.parse(text) as string
  return purify.sanitize(html, {
    RETURN_DOM_FRAGMENT: true,
    FORBID_TAGS: ['style', 'form', 'button', 'textarea', 'select', 'dialog', 'base', 'link', 'meta'],
    FORBID_ATTR: ['style', 'formaction', 'srcset'],
    ALLOW_DATA_ATTR: false,
  })
}
