// The landing page: suggest a fresh room name, list the rooms this browser opened before, and
// the rooms the server stores (where it lets us list them), most recently changed first.
// The form works without this script too (the server redirects /r/?room=NAME).
import { ApiError, apiJson, type StoredRoom } from './connection/api.js'
import { recentRooms, roomPath } from './page/recent.js'
import { roomNameProblem } from './connection/roomName.js'
import { formatBytes, timeElement } from './page/time.js'

const WORDS = ['amber', 'brisk', 'cedar', 'delta', 'ember', 'fjord', 'grove', 'harbor', 'iris', 'juniper', 'kestrel', 'lumen']
/// Rooms the stored list shows.
const STORED_LIMIT = 50

function suggestion(): string {
  const word = () => WORDS[Math.floor(Math.random() * WORDS.length)]
  return `${word()}-${word()}-${Math.floor(Math.random() * 1000)}`
}

function storage(): Storage | null {
  try { return window.localStorage } catch { return null }
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

const input = $<HTMLInputElement>('room')
if (!input.value) input.value = suggestion()
input.select()

// A name the server would refuse is caught here, with words, before leaving the page.
const roomError = $('room-error')
input.form?.addEventListener('submit', (event) => {
  const problem = roomNameProblem(input.value.trim())
  roomError.textContent = problem ?? ''
  input.setAttribute('aria-invalid', String(problem !== null))
  if (problem === null) return
  event.preventDefault()
  input.focus()
})
input.addEventListener('input', () => {
  if (roomError.textContent === '') return
  roomError.textContent = ''
  input.removeAttribute('aria-invalid')
})

const rooms = recentRooms(storage())
const list = $<HTMLUListElement>('recent')
/// Each recent room's list item, to add the server's facts to.
const recentItems = new Map<string, HTMLLIElement>()
for (const room of rooms) {
  const item = document.createElement('li')
  const link = document.createElement('a')
  link.href = roomPath(room)
  link.textContent = room
  item.append(link)
  list.append(item)
  recentItems.set(room, item)
}
$('recent-section').hidden = rooms.length === 0

/// "changed 5 min ago · 1.2 KB · 2 people here now".
function facts(room: StoredRoom, now: number): HTMLElement {
  const line = document.createElement('span')
  line.className = 'room-facts'
  line.append('changed ', timeElement(room.updatedAt, now))
  // A store that writes only when a room unloads (--storage memory) counts 0 until then.
  if (room.bytes > 0) line.append(` · ${formatBytes(room.bytes)}`)
  if (room.connections > 0) line.append(` · ${room.connections} ${room.connections === 1 ? 'person' : 'people'} here now`)
  return line
}

/// The server's stored rooms: facts for the recent ones, the others listed below them. A
/// server that refuses listing (auth) gets no section at all.
async function showStored(): Promise<void> {
  const section = $('stored-section')
  const note = $('stored-note')
  const stored = $<HTMLUListElement>('stored')
  let answer: { rooms: StoredRoom[]; next: string | null }
  try {
    answer = await apiJson(`/api/rooms?order=recent&limit=${STORED_LIMIT}`)
  } catch (error) {
    const status = error instanceof ApiError ? error.status : 0
    const refused = status === 401 || status === 403 || status === 404
    section.dataset.state = refused ? 'refused' : 'failed'
    if (refused) return
    note.textContent = 'The list of rooms on this server could not be loaded.'
    note.hidden = false
    section.hidden = false
    return
  }
  const now = Date.now()
  const others = answer.rooms.filter((room) => {
    const item = recentItems.get(room.name)
    if (item) item.append(facts(room, now))
    return !item
  })
  stored.replaceChildren(...others.map((room) => {
    const item = document.createElement('li')
    const link = document.createElement('a')
    link.href = roomPath(room.name)
    link.textContent = room.name
    item.append(link, facts(room, now))
    return item
  }))
  $('stored-heading').textContent = recentItems.size > 0 ? 'Other rooms on this server' : 'Rooms on this server'
  if (answer.next !== null) {
    note.textContent = `Of the ${STORED_LIMIT} most recently changed rooms.`
    note.hidden = false
  }
  section.hidden = others.length === 0
  section.dataset.state = 'loaded'
}
void showStored()
