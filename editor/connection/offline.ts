// Offline-first: every room opened in this browser keeps its document in IndexedDB
// (y-indexeddb), so an edit made offline survives a reload or a closed tab and merges with
// the server on the next connection; a service worker (sw.ts) keeps the page itself
// available without network; the status line tells "saved on this device" from "saved on
// the server"; and leaving with edits the server has not acknowledged asks first.
import { IndexeddbPersistence } from 'y-indexeddb'
import type * as Y from 'yjs'
import type { ConcordProvider, ProviderState } from './provider.js'

/// Where this browser's copy of the document stands.
export interface LocalState {
  /// IndexedDB works here (it may not: storage blocked, some private modes).
  available: boolean
  /// The stored copy has been read into the document.
  loaded: boolean
  /// Every change of the document so far has been written to IndexedDB.
  saved: boolean
}

/// Name of the IndexedDB database holding a room's document.
export function databaseName(room: string): string {
  return `concord:room:${room}`
}

/// The document of one room, kept in this browser's IndexedDB.
export class LocalCopy {
  private readonly persistence: IndexeddbPersistence | null
  private readonly listeners = new Set<(state: LocalState) => void>()
  private current: LocalState
  /// Changes of the document seen, and how many of them are known to be written.
  private changes = 0
  private written = 0

  constructor(room: string, readonly doc: Y.Doc) {
    let persistence: IndexeddbPersistence | null = null
    try {
      if (typeof indexedDB !== 'undefined') persistence = new IndexeddbPersistence(databaseName(room), doc)
    } catch {
      persistence = null
    }
    this.persistence = persistence
    this.current = { available: persistence !== null, loaded: false, saved: persistence !== null }
    if (!persistence) return
    // y-indexeddb has no error path of its own: a database that cannot be opened would
    // leave us waiting for ever, and say nothing.
    ;(persistence as unknown as { _db: Promise<IDBDatabase> })._db.catch(() => {
      this.set({ available: false, loaded: false, saved: false })
    })
    void persistence.whenSynced.then(() => {
      this.set({ loaded: true })
      this.track()
    })
    // Registered after y-indexeddb's own listener, so its write is already queued when ours
    // runs (see `track`).
    doc.on('update', this.onUpdate)
  }

  get state(): LocalState {
    return this.current
  }

  /// Call `listener` on every change of the state; returns a function that removes it.
  subscribe(listener: (state: LocalState) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /// Resolves once the stored copy has been read into the document (at once when there is
  /// no IndexedDB).
  whenLoaded(): Promise<void> {
    if (!this.persistence || this.current.loaded) return Promise.resolve()
    return new Promise((resolve) => {
      const stop = this.subscribe((state) => {
        if (state.loaded || !state.available) {
          stop()
          resolve()
        }
      })
    })
  }

  destroy(): void {
    this.doc.off('update', this.onUpdate)
    void this.persistence?.destroy()
    this.listeners.clear()
  }

  private set(patch: Partial<LocalState>): void {
    const next = { ...this.current, ...patch }
    if ((Object.keys(next) as Array<keyof LocalState>).every((k) => next[k] === this.current[k])) return
    this.current = next
    for (const listener of this.listeners) listener(next)
  }

  private readonly onUpdate = (_update: Uint8Array, origin: unknown): void => {
    // What y-indexeddb itself applied (the stored copy) is stored already.
    if (origin === this.persistence || !this.current.available) return
    this.changes++
    this.set({ saved: false })
    this.track()
  }

  /// Find out when the writes queued so far are done. IndexedDB runs transactions on the
  /// same store in the order they were created, so a read-only transaction created now
  /// completes after y-indexeddb's write of every change seen so far. Before the database
  /// is open y-indexeddb writes nothing per change: it stores the whole document when it
  /// opens, which `whenSynced` follows.
  private track(): void {
    const persistence = this.persistence
    const db = persistence?.db
    if (!persistence || !db || !this.current.loaded) return
    const upTo = this.changes
    let transaction: IDBTransaction
    try {
      transaction = db.transaction(['updates'], 'readonly')
    } catch {
      this.set({ available: false, saved: false })
      return
    }
    transaction.oncomplete = () => {
      this.written = Math.max(this.written, upTo)
      this.set({ saved: this.written >= this.changes })
    }
    transaction.onabort = transaction.onerror = () => this.set({ saved: false })
  }
}

/// The words for whether our edits are stored, for the status line.
export function saveText(provider: ProviderState, local: LocalState): string {
  if (provider.saved) return 'Saved on the server'
  if (local.available && local.saved) return 'Saved on this device'
  return 'Saving…'
}

/// Whether the browser says it has no network at all.
export function browserOffline(): boolean {
  return typeof navigator !== 'undefined' && navigator.onLine === false
}

/// Ask before the page is left while the server has not acknowledged every edit (a copy is
/// on this device when IndexedDB works, but another device would not see it yet).
export function guardUnsavedEdits(provider: ConcordProvider): void {
  addEventListener('beforeunload', (event) => {
    const state = provider.state
    // Stopped for good (a refused link, a deleted document): asking cannot help.
    if (state.saved || state.denied || state.stopped) return
    event.preventDefault()
    // Older browsers show the dialog only when returnValue is set.
    event.returnValue = ''
  })
}

/// Register the service worker that keeps the editor's files for offline use. Only where
/// the browser allows service workers (secure contexts: HTTPS, or localhost).
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((error: unknown) => {
    console.warn('concord: the service worker could not be registered; the page will not open offline', error)
  })
}
