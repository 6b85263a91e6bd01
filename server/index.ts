// The library entry point for people embedding Concord.
export { createServer, type ConcordServer, type ServerOptions } from './server.js'
export { resolveConfig, defaultConfig, optionTable, ConfigError, type Config } from './ops/config.js'
export { CloseCode } from './protocol/closeCodes.js'
export { memoryStorage } from './storage/memory.js'
export { openStorage } from './storage/open.js'
export type {
  Storage, AppendEntry, CompactionResult, MergeUpdates, RoomInfo, ListQuery, RoomPage, VersionInfo, NewVersion, Retention, RoomRecord,
} from './storage/types.js'
export type { Readiness, ReadinessCheck, ReadinessReport } from './http/readiness.js'
export type { Metrics } from './ops/metrics.js'
export { signature as webhookSignature } from './ops/webhook.js'
export * as protocol from './protocol/messages.js'
export {
  verifyToken, tokenOf, secretKey, publicKeyFile, roomMatches,
  type Access, type AuthDecision, type Authenticate, type ConcordClaims, type VerifyKey,
} from './auth/auth.js'
