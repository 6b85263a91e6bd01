// The landing page: suggest a fresh room name and list the rooms this browser opened before.
// The form works without this script too (the server redirects /r/?room=NAME).
import { recentRooms, roomPath } from './recent.js'

const WORDS = ['amber', 'brisk', 'cedar', 'delta', 'ember', 'fjord', 'grove', 'harbor', 'iris', 'juniper', 'kestrel', 'lumen']

function suggestion(): string {
  const word = () => WORDS[Math.floor(Math.random() * WORDS.length)]
  return `${word()}-${word()}-${Math.floor(Math.random() * 1000)}`
}

function storage(): Storage | null {
  try { return window.localStorage } catch { return null }
}

const input = document.getElementById('room') as HTMLInputElement
if (!input.value) input.value = suggestion()
input.select()

const rooms = recentRooms(storage())
const list = document.getElementById('recent') as HTMLUListElement
const section = document.getElementById('recent-section') as HTMLElement
for (const room of rooms) {
  const item = document.createElement('li')
  const link = document.createElement('a')
  link.href = roomPath(room)
  link.textContent = room
  item.append(link)
  list.append(item)
}
section.hidden = rooms.length === 0
