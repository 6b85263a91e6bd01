// What a room knows of the connections it serves, and of where an update came from.

/// What a room needs of a connection.
export interface Peer {
  readonly id: string
  /// Who it is (a token's `sub`); null or absent when anonymous.
  readonly user?: string | null
  /// Updates from a read-only peer are dropped (and it is told once).
  readonly readOnly: boolean
  /// Whether the peer asked for write acknowledgements.
  readonly wantsAck: boolean
  /// Awareness client ids this peer announced; removed when it leaves.
  readonly awarenessIds: Set<number>
  /// Most awareness client ids it may hold (see `Presence.apply`).
  readonly maxAwarenessIds?: number
  /// Send one encoded message. Must not throw.
  send(frame: Uint8Array): void
  /// Close the peer's connection.
  close(code: number, reason: string): void
}

/// Where an update came from: a connected peer, the HTTP API, another instance, or the
/// room's own document (see `RoomDocument`'s `wake`).
export type Origin = Peer | 'api' | 'cluster' | 'server'
