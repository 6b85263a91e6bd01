// The library entry point for people embedding Concord.
export { createServer, type ConcordServer, type ServerOptions } from './server.js'
export { resolveConfig, defaultConfig, optionTable, ConfigError, type Config } from './config.js'
export { CloseCode } from './closeCodes.js'
export { memoryStorage } from './storage/memory.js'
export { openStorage } from './storage/open.js'
export type { Storage, AppendEntry, CompactionResult, MergeUpdates } from './storage/types.js'
export type { Authorize } from './api.js'
export type { Readiness, ReadinessCheck, ReadinessReport } from './readiness.js'
export type { Metrics } from './metrics.js'
export { signature as webhookSignature } from './webhook.js'
export * as protocol from './protocol.js'
export {
  verifyToken, tokenOf, secretKey, publicKeyFile, roomMatches,
  type Access, type AuthDecision, type Authenticate, type ConcordClaims, type VerifyKey,
} from './auth.js'
