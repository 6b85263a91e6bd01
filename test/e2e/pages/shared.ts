/// <reference lib="dom" />
// Runs in the browser (bundled by esbuild in richEditors.test.ts): one Y.Doc per tab, synced
// with a Concord server through the stock y-websocket client, and a `window.collab` handle
// the test reads the tab's state through.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

/// What a page tells the test about its replica, computed in the page so the test only
/// ever moves plain JSON across.
export interface Snapshot {
  /// The editor's own view of the content: Tiptap's getJSON() or Quill's getContents().
  content: unknown
  /// The shared type as Yjs holds it: the XmlFragment's toString(), or the Y.Text's delta as JSON.
  shared: string
  /// The document's state vector as [client, clock] pairs, sorted by client.
  stateVector: Array<[number, number]>
  /// Whether Yjs holds structs or deletions it could not integrate yet (missing dependencies).
  pending: boolean
  /// The provider is connected and has completed the initial sync.
  synced: boolean
}

/// The handle every rich-editor page puts on `window.collab`.
export interface CollabHandle {
  snapshot(): Snapshot
  /// Put the caret at the end of the first paragraph/line containing `text` and focus the
  /// editor, as a click there would. Returns false when no such text is there (yet).
  caretAfter(text: string): boolean
  /// The editor's plain text, to wait for another tab's words to arrive.
  text(): string
}

/// The window of a rich-editor page, as the test sees it.
export interface CollabWindow {
  collab?: CollabHandle
}

/// The room and server a page connects to, from its query string: `?ws=ws://host:port&room=name`.
export function connect(): { doc: Y.Doc; provider: WebsocketProvider } {
  const params = new URLSearchParams(location.search)
  const ws = params.get('ws')
  const room = params.get('room')
  if (!ws || !room) throw new Error('page needs ?ws=…&room=…')
  const doc = new Y.Doc()
  // No BroadcastChannel: tabs must reach each other through the server only, or a relay
  // bug there would be papered over by same-origin tabs syncing among themselves.
  const provider = new WebsocketProvider(ws, room, doc, { disableBc: true })
  return { doc, provider }
}

/// The parts of a snapshot that do not depend on the editor.
export function yjsState(doc: Y.Doc, provider: WebsocketProvider): Omit<Snapshot, 'content' | 'shared'> {
  const sv = [...Y.decodeStateVector(Y.encodeStateVector(doc)).entries()].sort((a, b) => a[0] - b[0])
  const { pendingStructs, pendingDs } = doc.store
  return { stateVector: sv, pending: pendingStructs !== null || pendingDs !== null, synced: provider.wsconnected && provider.synced }
}

/// Publish the page's handle for the test.
export function publish(handle: CollabHandle): void {
  (window as unknown as CollabWindow).collab = handle
}
