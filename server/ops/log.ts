// Structured JSON logs (pino): one logger per server; a connection's lines carry its own bindings.
import { pino, type Logger } from 'pino'

export type { Logger }

/// A logger writing JSON lines to stdout at the given level.
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'concord' } })
}
