// Who is in the room, as this tab shows it and as it shows itself to others:
// - each browser has a stable id (localStorage), sent in the awareness `user` state, so one
//   person's tabs are one entry in the people list ("Ada · 3 tabs");
// - a colour that no one else in the room has, as long as the palette has one free (a
//   colour the person picked by hand is kept);
// - a name or colour changed in one tab is taken up by this browser's other tabs;
// - on small screens the people list folds away behind a toggle.
import type { Awareness } from 'y-protocols/awareness'
import { loadUser, makeUser, PALETTE, saveUser, type User } from './user.js'

const BROWSER_KEY = 'concord:browser'
const USER_KEY = 'concord:user'

/// What goes into the awareness `user` field: what y-codemirror.next reads, plus the browser.
export interface PresenceUser extends User {
  /// Stable id of the browser (its localStorage), shared by its tabs.
  browser: string
}

/// This browser's id, made and remembered on first use. Without storage, one per tab.
export function browserId(storage: Storage | null, random: () => number = Math.random): string {
  try {
    const known = storage?.getItem(BROWSER_KEY)
    if (known && /^[a-z0-9]{8,40}$/.test(known)) return known
  } catch {
    // Storage blocked: fall through to a fresh id.
  }
  let id = ''
  while (id.length < 16) id += Math.floor(random() * 36).toString(36)
  try {
    storage?.setItem(BROWSER_KEY, id)
  } catch {
    // Nothing to do: this tab alone uses the id.
  }
  return id
}

/// An awareness state as we read it: anything may be missing or of the wrong type.
type State = { [key: string]: unknown }

interface StateUser { name: string; color: string; browser: string | null }

function stateUser(state: State): StateUser | null {
  const user = state.user as { name?: unknown; color?: unknown; browser?: unknown } | undefined
  if (!user || typeof user !== 'object') return null
  return {
    name: typeof user.name === 'string' ? user.name : '',
    color: typeof user.color === 'string' ? user.color.toLowerCase() : '',
    browser: typeof user.browser === 'string' && user.browser !== '' ? user.browser : null,
  }
}

/// One entry of the people list: a person (browser and name) with their tabs.
export interface Person {
  name: string
  color: string
  tabs: number
  you: boolean
}

/// The people in the room: awareness states grouped by browser and name (a state without a
/// browser id, from an older client, is a person of its own), ourselves first, then in the
/// order of their lowest client id.
export function people(states: Map<number, State>, me: number): Person[] {
  const mine = states.get(me)
  const myBrowser = mine ? stateUser(mine)?.browser ?? null : null
  const groups = new Map<string, Person & { first: number }>()
  for (const id of [...states.keys()].sort((a, b) => a - b)) {
    const user = stateUser(states.get(id) as State)
    if (!user) continue
    const person = makeUser(user.name, user.color)
    const key = user.browser === null ? `client:${id}` : `browser:${user.browser}\n${person.name}`
    // Our other tabs are us too, even under another name.
    const you = id === me || (user.browser !== null && user.browser === myBrowser)
    const group = groups.get(key)
    if (!group) {
      groups.set(key, { name: person.name, color: person.color, tabs: 1, you, first: id })
      continue
    }
    group.tabs++
    // A group shows the colour of our own tab when it holds it.
    if (id === me) group.color = person.color
  }
  return [...groups.values()]
    .sort((a, b) => (a.you === b.you ? a.first - b.first : a.you ? -1 : 1))
    .map(({ name, color, tabs, you }) => ({ name, color, tabs, you }))
}

/// The text of a people-list entry.
export function personText(person: Person): string {
  return person.name + (person.you ? ' (you)' : '') + (person.tabs > 1 ? ` · ${person.tabs} tabs` : '')
}

/// How many others are here, in words ("1 other person"): people, not tabs.
export function othersText(list: readonly Person[]): string {
  const others = list.filter((p) => !p.you).length
  return others === 0 ? 'no one else here' : others === 1 ? '1 other person' : `${others} other people`
}

/// The colour to take instead of `color` when someone else in the room already has it, or
/// null to keep it. Of two people with one colour, the one with the higher client id moves
/// (client ids are random, so each side agrees on who it is, and two tabs of one browser
/// decide alike); it takes the first palette colour no one else has. A full palette keeps
/// the colour.
export function colourToTake(
  states: Map<number, State>, me: number, browser: string, color: string, palette: readonly string[] = PALETTE,
): string | null {
  const taken = new Set<string>()
  let clash = false
  for (const [id, state] of states) {
    if (id === me) continue
    const user = stateUser(state)
    if (!user || user.browser === browser) continue
    taken.add(user.color)
    if (user.color === color.toLowerCase() && id < me) clash = true
  }
  if (!clash) return null
  return palette.find((c) => !taken.has(c.toLowerCase())) ?? null
}

/// The page's elements presence uses.
export interface PresenceElements {
  nameInput: HTMLInputElement
  colorInput: HTMLInputElement
  list: HTMLUListElement
  /// The button that shows and hides the people list on small screens (optional).
  toggle?: HTMLButtonElement | null
  /// The people panel the toggle shows.
  panel?: HTMLElement | null
}

/// This tab's presence: the user it shows, kept in the awareness state and the inputs.
export class Presence {
  readonly browser: string
  private current: User
  /// The colour the person keeps (stored): `current.color` may differ in a room where
  /// someone else has it.
  private preferred: string
  /// The person picked a colour in this tab: it is not changed for them.
  private picked = false
  private people: Person[] = []
  private checkQueued = false
  private readonly listeners = new Set<() => void>()

  constructor(
    private readonly awareness: Awareness,
    private readonly storage: Storage | null,
    private readonly elements: PresenceElements,
  ) {
    this.browser = browserId(storage)
    this.current = loadUser(storage)
    this.preferred = this.current.color
    const { nameInput, colorInput } = elements
    nameInput.value = this.current.name
    colorInput.value = this.current.color
    nameInput.addEventListener('input', () => {
      this.current = makeUser(nameInput.value, this.current.color)
      this.save()
      this.publish()
    })
    nameInput.addEventListener('change', () => { nameInput.value = this.current.name })
    colorInput.addEventListener('input', () => {
      this.picked = true
      this.current = makeUser(this.current.name, colorInput.value)
      this.preferred = this.current.color
      this.save()
      this.publish()
    })
    // Another tab of this browser changed the name or colour: the same person, so follow.
    addEventListener('storage', (event) => {
      if (event.key !== USER_KEY || event.newValue === null) return
      const stored = loadUser(storage)
      const colourChanged = stored.color !== this.preferred
      if (colourChanged) {
        this.preferred = stored.color
        this.picked = true
      }
      this.current = makeUser(stored.name, colourChanged ? stored.color : this.current.color)
      if (document.activeElement !== nameInput) nameInput.value = this.current.name
      colorInput.value = this.current.color
      this.publish()
    })
    awareness.on('change', this.onChange)
    this.setupToggle()
    this.publish()
    this.render()
  }

  /// The user this tab shows.
  get user(): User {
    return this.current
  }

  /// The people in the room, as last rendered.
  get list(): readonly Person[] {
    return this.people
  }

  /// Call `listener` when the people list changes.
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /// (Re)announce ourselves, e.g. after coming back from the back/forward cache.
  publish(): void {
    const user: PresenceUser = { ...this.current, browser: this.browser }
    this.awareness.setLocalStateField('user', user)
  }

  destroy(): void {
    this.awareness.off('change', this.onChange)
    this.listeners.clear()
  }

  private save(): void {
    saveUser(this.storage, makeUser(this.current.name, this.preferred))
  }

  private readonly onChange = (): void => {
    this.render()
    // Not from inside the awareness event: changing our state there would nest events.
    if (this.checkQueued) return
    this.checkQueued = true
    queueMicrotask(() => {
      this.checkQueued = false
      this.checkColour()
    })
  }

  private checkColour(): void {
    if (this.picked || this.awareness.getLocalState() === null) return
    const next = colourToTake(this.awareness.getStates() as Map<number, State>, this.awareness.clientID, this.browser, this.current.color)
    if (next === null) return
    this.current = makeUser(this.current.name, next)
    this.elements.colorInput.value = next
    this.publish()
  }

  private render(): void {
    this.people = people(this.awareness.getStates() as Map<number, State>, this.awareness.clientID)
    this.elements.list.replaceChildren(...this.people.map((person) => {
      const item = document.createElement('li')
      const swatch = document.createElement('span')
      swatch.className = 'swatch'
      swatch.style.backgroundColor = person.color
      swatch.setAttribute('aria-hidden', 'true')
      item.append(swatch, document.createTextNode(personText(person)))
      return item
    }))
    const toggle = this.elements.toggle
    if (toggle) {
      const count = toggle.querySelector('.count')
      if (count) count.textContent = String(this.people.length)
      toggle.setAttribute('aria-label', `People in this room: ${this.people.length}`)
    }
    for (const listener of this.listeners) listener()
  }

  private setupToggle(): void {
    const { toggle, panel } = this.elements
    if (!toggle || !panel) return
    const set = (open: boolean): void => {
      toggle.setAttribute('aria-expanded', String(open))
      document.body.classList.toggle('people-open', open)
    }
    set(false)
    toggle.addEventListener('click', () => set(toggle.getAttribute('aria-expanded') !== 'true'))
    panel.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || toggle.getAttribute('aria-expanded') !== 'true') return
      set(false)
      toggle.focus()
    })
  }
}
