// What a migration reader hands over: one document of another server's store.

/// One document read from a foreign store: its name there, and its whole state as one Yjs update.
export interface MigratedDoc {
  /// The document's name in the source store (y-websocket's room, Hocuspocus' documentName).
  room: string
  /// The document's full state: applying it to an empty Y.Doc gives the document as stored.
  update: Uint8Array
}
