// WebSocket close codes Concord uses. 4400–4499 are permanent: reconnecting cannot help, and
// y-websocket (3.x) and Concord's editor stop retrying. Everything else is transient.

/// Close codes, documented in the README.
export const CloseCode = {
  /// Server going away (process restart without a graceful drain).
  GoingAway: 1001,
  /// A WebSocket frame that breaks RFC 6455 (reserved bits, an unmasked client frame): ws's code.
  ProtocolViolation: 1002,
  /// A message larger than `maxMessageBytes` (ws's standard code; permanent for that message).
  TooLarge: 1009,
  /// Unexpected server error.
  InternalError: 1011,
  /// Graceful shutdown: reconnect (to this or another instance).
  ServiceRestart: 1012,
  /// Try again later: slow consumer, overloaded, room failed to load.
  TryAgainLater: 1013,
  /// A frame that does not follow the protocol.
  Malformed: 4400,
  /// Token missing, invalid or expired (after the upgrade, e.g. expiry mid-session).
  Unauthorized: 4401,
  /// The token does not grant this room.
  Forbidden: 4403,
  /// The document was deleted (`DELETE /api/rooms/<room>`), or the client sent content of a
  /// deleted document: start afresh with an empty document.
  DocumentDeleted: 4410,
  /// A message did not arrive whole within `messageTimeoutMs` of its first byte.
  MessageTimeout: 4408,
  /// Too many messages per second.
  RateLimited: 4429,
} as const

/// A close code value.
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]
