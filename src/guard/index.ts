/** The guard's library API: start a guard, reap an owner, and the pieces callers compose with. */
export { startGuard, resolveHostPath, parseListen, DEFAULT_LIMITS } from './server.js';
export type { GuardOptions, GuardHandle, GuardLimits, GuardTlsOptions } from './server.js';
export { reapOwner } from './reaper.js';
export type { ReapOptions, ReapReport } from './reaper.js';
export { EngineOracle } from './oracle.js';
export { discoverMappings, mergeMappings, parseMapping, translatePath } from './path-discovery.js';
export { formatRecord } from './audit-log.js';
export type { GuardDecisionRecord, LogFormat } from './audit-log.js';
export { HttpParseError, parseRequestHead, ChunkedDecoder } from './http-parser.js';
export type { Decision, DecideContext, EffectivePolicy, OwnershipOracle, PathMapping, RequestView, RouteDef } from './types.js';
