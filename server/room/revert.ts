// Restoring a version as a new change. Yjs cannot rewind a document; instead the changes made
// since the version are undone, as one edit: a copy of the version replays them, tracked by an
// undo manager over every shared type, undoes them, and what that undo wrote is the change.
// Applied like any edit, every client merges it, and concurrent edits are kept.
import * as Y from 'yjs'

const REPLAY = Symbol('replay of the changes since the version')

/// The update that turns `current`'s content back into `version`'s (a whole document state,
/// an ancestor of `current`): deletes what was added since, brings back what was deleted
/// since, for every shared type at any depth.
export function revertUpdate(current: Y.Doc, version: Uint8Array): Uint8Array {
  // No garbage collection: what the replay deletes must stay for the undo to bring it back.
  const past = new Y.Doc({ gc: false })
  try {
    Y.applyUpdate(past, version)
    // The whole document as the scope: its top-level types are of no known kind here (base
    // types), and Yjs reports changes of such a type to a scope naming it only when they
    // happen in a nested type; a document scope sees every change.
    const undo = new Y.UndoManager(past, { trackedOrigins: new Set([REPLAY]), captureTimeout: 0 })
    try {
      const before = Y.encodeStateVector(current)
      Y.applyUpdate(past, Y.encodeStateAsUpdate(current, Y.encodeStateVector(past)), REPLAY)
      undo.stopCapturing()
      while (undo.canUndo()) undo.undo()
      return Y.encodeStateAsUpdate(past, before)
    } finally {
      undo.destroy()
    }
  } finally {
    past.destroy()
  }
}
