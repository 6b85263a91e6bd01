// Handing a connection's bytes to ws's frame parser without the stream around it. ws reads
// frames with a `Receiver`, a Writable stream: every socket read goes through
// `Writable.write`, its buffering and its after-write tick before the parser sees it. With
// compression off and synchronous events (both set by this server) the parser's `_write`
// finishes within the call, so the stream adds only cost: measured with bench/, typing took
// 1.04–1.13× the raw relay's CPU in six sliced runs with this, 1.09–1.17× in five without.
// ws's own 'data' listener is replaced; a failed parse goes to the stream as a failed write
// would (`destroy`), so ws closes the connection with its code (1002, 1007, 1009) as before.
// ws is pinned (package.json), and test/directFeed.test.ts fails if its internals move.
import type { Socket } from 'node:net'
import type { Writable } from 'node:stream'
import type { WebSocket } from 'ws'

type Parser = Writable & {
  _write(chunk: Buffer, encoding: null, done: (error?: Error | null) => void): void
  /// Bytes received and not yet parsed into a whole frame.
  _bufferedBytes?: number
  /// Payload bytes of a fragmented message's frames received so far.
  _totalPayloadLength?: number
}

/// What this module needs of an open ws WebSocket (ws 8 keeps them as `_socket`, `_receiver`).
interface Internals {
  _socket?: Socket
  _receiver?: Parser
}

/// Bytes ws holds for `ws` in a message that has not arrived whole (a frame still coming in,
/// the fragments of an unfinished message); 0 where ws is not as expected.
export function incompleteBytes(ws: WebSocket): number {
  const parser = (ws as unknown as Internals)._receiver
  return (parser?._bufferedBytes ?? 0) + (parser?._totalPayloadLength ?? 0)
}

/// Read an open WebSocket's socket straight into ws's parser, calling `afterChunk` (one
/// function for every socket, not a closure per connection) after each chunk. Returns false,
/// changing nothing, where ws is not as expected (then ws reads it its own way).
export function feedDirectly(ws: WebSocket, afterChunk: (ws: WebSocket) => void = () => undefined): boolean {
  const { _socket: socket, _receiver: parser } = ws as unknown as Internals
  if (!socket || !parser || typeof parser._write !== 'function') return false
  const listeners = socket.listeners('data')
  if (listeners.length !== 1) return false
  const parsed = (error?: Error | null): void => {
    if (!error) return
    socket.removeListener('data', onData)
    parser.destroy(error)
  }
  const onData = (chunk: Buffer): void => {
    parser._write(chunk, null, parsed)
    afterChunk(ws)
  }
  socket.removeListener('data', listeners[0] as (chunk: Buffer) => void)
  socket.on('data', onData)
  return true
}
