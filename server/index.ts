// The library entry point for people embedding Concord.
export { createServer, type ConcordServer, type ServerOptions } from './server.js'
export { resolveConfig, defaultConfig, optionTable, ConfigError, type Config } from './config.js'
export { CloseCode } from './closeCodes.js'
export { memoryStorage } from './storage/memory.js'
export { openStorage } from './storage/open.js'
export type { Storage, AppendEntry, CompactionResult, MergeUpdates } from './storage/types.js'
export * as protocol from './protocol.js'
