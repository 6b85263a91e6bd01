// Why the server refuses or closed a connection, in words a person can act on. A browser
// learns nothing from a refused WebSocket upgrade (it sees 1006), so the page asks the
// server's `GET /api/rooms/<room>/access`, which answers with the status and reason the
// upgrade would have had.
import { ApiError, apiJson, roomApi } from './api.js'

/// What a connection may do in its room.
export type Access = 'read' | 'write' | 'admin'

/// The server's answer to "would a connection to this room be admitted now?".
export type Preflight =
  | { kind: 'admitted'; access: Access; user: string | null; expiresAt: number | null }
  | { kind: 'refused'; status: number; reason: string }
  /// No answer (offline, server down, timed out): nothing to explain; keep retrying.
  | { kind: 'unreachable' }

/// A problem to show: a headline, what it means and what to do, and whether the page keeps
/// trying by itself.
export interface Problem {
  /// Stable name, for styles and tests: `bad-room`, `missing-token`, `expired`, …
  kind: string
  title: string
  detail: string
  retrying: boolean
  /// An action the page offers (rendered as a button by the page).
  action?: 'start-afresh' | 'reload' | 'home'
}

/// Ask the server whether a connection to `room` would be admitted now.
export async function preflight(room: string, timeoutMs = 8000): Promise<Preflight> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<Preflight>((resolve) => { timer = setTimeout(() => resolve({ kind: 'unreachable' }), timeoutMs) })
  const ask = apiJson<{ access: Access; user: string | null; expiresAt: number | null }>(roomApi(room, '/access')).then(
    (answer): Preflight => ({ kind: 'admitted', access: answer.access, user: answer.user, expiresAt: answer.expiresAt }),
    (error: unknown): Preflight => {
      if (!(error instanceof ApiError) || error.status === 0) return { kind: 'unreachable' }
      // A server without this API (older, or a proxy's page) cannot tell: treat as unknown.
      if (error.status === 404 || error.status === 405) return { kind: 'unreachable' }
      return { kind: 'refused', status: error.status, reason: error.message }
    },
  )
  try {
    return await Promise.race([ask, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/// Whether retrying can help after this refusal: not for a bad name or a token problem.
export function refusalIsPermanent(status: number): boolean {
  return status === 400 || status === 401 || status === 403
}

const ASK_FOR_LINK = 'Ask someone who can open this room to send you a link (the Share button of the editor makes one).'

/// Words for a refusal before the connection opened (the HTTP status and the server's reason).
export function explainRefusal(status: number, reason: string): Problem {
  const r = reason.toLowerCase()
  if (status === 400) {
    return {
      kind: 'bad-room', retrying: false, action: 'home',
      title: 'This room name cannot be used',
      detail: `The server refused the name: ${reason.replace(/^bad room name: /, '')}. A room name has 1 to 512 bytes and no control characters. Go back to the start page and choose another name.`,
    }
  }
  if (status === 401) {
    if (r.includes('missing token')) {
      return {
        kind: 'missing-token', retrying: false,
        title: 'This room needs an access link',
        detail: `The server lets in only people with a link that carries an access key (missing token), and this page has none. ${ASK_FOR_LINK}`,
      }
    }
    if (r.includes('expired')) {
      return {
        kind: 'expired', retrying: false,
        title: 'Your link has expired',
        detail: `The access key in your link is no longer valid (token expired). ${ASK_FOR_LINK}`,
      }
    }
    return {
      kind: 'invalid-token', retrying: false,
      title: 'Your link is not valid',
      detail: `The server did not accept the access key in your link (${reason}). Check that the whole link was copied, or ${ASK_FOR_LINK.charAt(0).toLowerCase()}${ASK_FOR_LINK.slice(1)}`,
    }
  }
  if (status === 403) {
    if (r.includes('does not grant')) {
      return {
        kind: 'wrong-room', retrying: false,
        title: 'Your link is for another room',
        detail: `The access key in your link does not open this room (token does not grant this room). ${ASK_FOR_LINK}`,
      }
    }
    if (r.includes('origin')) {
      return {
        kind: 'origin', retrying: false,
        title: 'This page may not connect from here',
        detail: `The server does not accept connections from pages at ${location.origin} (origin not allowed). Its administrator can allow this address.`,
      }
    }
    return {
      kind: 'forbidden', retrying: false,
      title: 'You may not open this room',
      detail: `The server refused: ${reason}. ${ASK_FOR_LINK}`,
    }
  }
  if (status === 429) {
    if (r.includes('room')) {
      return {
        kind: 'room-full', retrying: true,
        title: 'This room is full',
        detail: `As many people as the server allows have this room open (${reason}). Concord keeps trying to get in by itself, waiting longer each time; closing another tab of this room frees a place.`,
      }
    }
    return {
      kind: 'too-many', retrying: true,
      title: 'Too many connections from your address',
      detail: `The server limits connections per address (${reason}). Concord keeps trying by itself; closing other Concord tabs helps.`,
    }
  }
  if (status === 503) {
    return {
      kind: 'server-full', retrying: true,
      title: 'The server is full or busy',
      detail: `It cannot take this room now (${reason}). Concord keeps trying by itself, waiting longer each time. Your edits stay in this tab meanwhile.`,
    }
  }
  return {
    kind: 'refused', retrying: true,
    title: 'The server refused the connection',
    detail: `It answered ${status} (${reason}). Concord keeps trying by itself.`,
  }
}

/// Words for a close after the connection was open, for the codes after which the provider
/// stops (see `isPermanentClose`); null for codes that need no words (it reconnects).
export function explainClose(code: number, reason: string): Problem | null {
  const why = reason ? ` (${reason})` : ''
  switch (code) {
    case 4401:
      return {
        kind: 'expired', retrying: false,
        title: 'Your link has expired',
        detail: `The server closed the connection because the access key in your link ran out${why}. Edits made since are kept in this tab only: download them if you need them. ${ASK_FOR_LINK}`,
      }
    case 4403:
      return {
        kind: 'forbidden', retrying: false,
        title: 'You may no longer open this room',
        detail: `The server closed the connection${why}. ${ASK_FOR_LINK}`,
      }
    case 4410:
      return {
        kind: 'deleted', retrying: false, action: 'start-afresh',
        title: 'This document was deleted',
        detail: 'Someone deleted this document on the server, so this tab no longer shares it. Its text is still shown here: download it if you need it. Start afresh to begin a new, empty document in this room.',
      }
    case 1009:
      return {
        kind: 'too-large', retrying: false, action: 'reload',
        title: 'A change was too large to send',
        detail: `The server refuses messages larger than its limit${why}, so the last change (a large paste, say) cannot be saved and the connection stopped. Undo that change, or download the text, then reload the page.`,
      }
    case 4429:
      return {
        kind: 'flood', retrying: false, action: 'reload',
        title: 'Too many changes at once',
        detail: `The server closed the connection because this tab sent too much too fast${why}. Reload the page to continue.`,
      }
    case 4408:
      return {
        kind: 'timeout', retrying: false, action: 'reload',
        title: 'The connection was too slow',
        detail: `A message did not arrive in time${why}. Reload the page to continue.`,
      }
    case 4400:
      return {
        kind: 'malformed', retrying: false, action: 'reload',
        title: 'The connection broke down',
        detail: `The server and this page did not understand each other${why}. Reload the page; if it happens again, the server may run another version of Concord.`,
      }
    default:
      if (code >= 4400 && code <= 4499) {
        return { kind: 'closed', retrying: false, action: 'reload', title: 'The server closed the connection', detail: `Code ${code}${why}. Reload the page to try again.` }
      }
      return null
  }
}
