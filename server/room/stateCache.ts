// The encodings of a document that every joiner is sent (its state vector in sync step 1,
// the whole state in step 2 to a peer with nothing), made once per document version rather
// than once per joiner.
import * as Y from 'yjs'
import { decodeFrame, encodeSyncStep2 } from '../protocol/messages.js'

/// Encodings of one document, valid while its version stays the same.
export class StateCache {
  private version = -1
  private vector: Uint8Array | null = null
  private fullStep2: Uint8Array | null = null

  constructor(private readonly doc: Y.Doc) {}

  /// The document's state vector; `version` changes whenever the document does.
  stateVector(version: number): Uint8Array {
    this.at(version)
    return (this.vector ??= Y.encodeStateVector(this.doc))
  }

  /// A sync step 2 message with the whole document.
  fullState(version: number): Uint8Array {
    this.at(version)
    return (this.fullStep2 ??= encodeSyncStep2(Y.encodeStateAsUpdate(this.doc)))
  }

  /// The whole document as one update: a view into `fullState`'s message (joiners and a
  /// compaction share one encoding per version).
  fullUpdate(version: number): Uint8Array {
    const [message] = decodeFrame(this.fullState(version))
    return (message as { update: Uint8Array }).update
  }

  private at(version: number): void {
    if (version === this.version) return
    this.version = version
    this.vector = null
    this.fullStep2 = null
  }
}
