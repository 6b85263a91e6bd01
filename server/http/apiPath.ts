// The HTTP API's paths. Room names may contain `/` (`/api/rooms/notes/today/text`) or encode
// it (`notes%2Ftoday`); what follows the name is matched from the end, so a room whose name
// itself ends like an action (`a/text`) is reached with its `/` encoded (`a%2Ftext`).
import { parseRoomName } from '../protocol/roomName.js'

/// What is asked of one room's current document.
export type DocumentAction = 'text' | 'update'
/// What is asked of one version.
export type VersionAction = 'text' | 'update' | 'restore'

/// A parsed API path.
export type ApiRoute =
  | { kind: 'list' }
  | { kind: 'room'; room: string }
  | { kind: 'document'; room: string; action: DocumentAction }
  | { kind: 'versions'; room: string }
  | { kind: 'version'; room: string; id: number; action: VersionAction }
  | { kind: 'access'; room: string }
  | { kind: 'share'; room: string }

/// A path the API does not serve, or a bad room name (`status` 404 or 400).
export class BadPath extends Error {
  constructor(readonly status: 404 | 400, message: string) {
    super(message)
  }
}

const PREFIX = '/api/rooms/'

/// Parse a path under /api/; throws `BadPath`.
export function parseApiPath(path: string): ApiRoute {
  if (path === '/api/rooms' || path === '/api/rooms/') return { kind: 'list' }
  if (!path.startsWith(PREFIX)) throw new BadPath(404, 'not found')
  const rest = path.slice(PREFIX.length)
  let m = /^(.+)\/versions\/(\d{1,15})\/(text|update|restore)$/s.exec(rest)
  if (m) return { kind: 'version', room: roomOf(m[1]), id: Number(m[2]), action: m[3] as VersionAction }
  m = /^(.+)\/versions$/s.exec(rest)
  if (m) return { kind: 'versions', room: roomOf(m[1]) }
  m = /^(.+)\/(access|share)$/s.exec(rest)
  if (m) return { kind: m[2] as 'access' | 'share', room: roomOf(m[1]) }
  m = /^(.+)\/(text|update)$/s.exec(rest)
  if (m) return { kind: 'document', room: roomOf(m[1]), action: m[2] as DocumentAction }
  if (rest === '' || rest.endsWith('/')) throw new BadPath(404, 'not found')
  return { kind: 'room', room: roomOf(rest) }
}

function roomOf(encoded: string): string {
  const name = parseRoomName('/' + encoded)
  if (!name.ok) throw new BadPath(400, `bad room name: ${name.reason}`)
  return name.room
}
