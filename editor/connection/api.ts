// The few HTTP API calls the pages make (see server/http/documentsApi.ts and versionsApi.ts),
// with the server's `{"error": …}` answers turned into errors whose message can be shown.

/// A room as the room list shows it.
export interface StoredRoom {
  name: string
  bytes: number
  createdAt: number
  updatedAt: number
  connections: number
}

/// One version of a room's document.
export interface Version {
  id: number
  createdAt: number
  label: string | null
  authors: string[]
  bytes: number
}

/// A refused or failed request, with the words to show for it.
export class ApiError extends Error {
  /// HTTP status, or 0 when the server could not be reached.
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

/// The API path of a room, plus `rest` (room names may hold `/` and anything else).
export const roomApi = (room: string, rest = ''): string => `/api/rooms/${encodeURIComponent(room)}${rest}`

const STATUS_WORDS: Record<number, string> = {
  400: 'the request was refused',
  401: 'you need to sign in for this',
  403: 'you are not allowed to do this',
  404: 'not found',
  409: 'this document holds no text',
  410: 'this document was deleted',
  429: 'too many requests; wait a moment and try again',
  503: 'the server is busy; try again shortly',
}

/// The token the page's requests carry as `Authorization: Bearer` (the editor page's, from
/// its link), or null.
let bearer: string | null = null

/// Send `token` with every later request (null: none).
export function useToken(token: string | null): void {
  bearer = token
}

async function request(path: string, init?: RequestInit): Promise<Response> {
  let response: Response
  const headers = new Headers(init?.headers)
  if (bearer !== null) headers.set('authorization', `Bearer ${bearer}`)
  try {
    response = await fetch(path, { ...init, headers, credentials: 'same-origin', cache: 'no-store' })
  } catch {
    throw new ApiError(0, 'the server could not be reached')
  }
  if (response.ok) return response
  let reason = ''
  try {
    const body = (await response.json()) as { error?: unknown }
    if (typeof body.error === 'string') reason = body.error
  } catch {
    // Not JSON (a proxy's page, say): the status words below will do.
  }
  throw new ApiError(response.status, reason || STATUS_WORDS[response.status] || `the server answered ${response.status}`)
}

/// GET (or POST `body` as JSON) and parse the JSON answer.
export async function apiJson<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit | undefined = body === undefined ? undefined : {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }
  const response = await request(path, init)
  try {
    return (await response.json()) as T
  } catch {
    throw new ApiError(response.status, 'the server sent an answer that is not JSON')
  }
}

/// GET a plain-text answer.
export async function apiText(path: string): Promise<string> {
  return (await request(path)).text()
}
