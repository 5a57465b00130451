/** System endpoints: /_ping, /version, /info. */
import type { Engine, PingResult } from '../client.js';
import type { SystemInfo, SystemVersion } from '../types/api.js';
import { S, sendJson, type EndpointSpec } from './spec.js';

export const SystemEndpoints = {
  version: { id: 'system.version', method: 'GET', path: '/version', status: { 200: S.ok('version'), 500: S.server } },
  info: { id: 'system.info', method: 'GET', path: '/info', status: { 200: S.ok('info'), 500: S.server } },
} as const satisfies Record<string, EndpointSpec>;

/** GET /_ping (unversioned): the API-Version header and friends. */
export function ping(engine: Engine, signal?: AbortSignal, timeoutMs?: number): Promise<PingResult> {
  return engine.ping(signal, timeoutMs);
}

export function version(engine: Engine, signal?: AbortSignal): Promise<SystemVersion> {
  return sendJson<SystemVersion>(engine, SystemEndpoints.version, { signal });
}

export function info(engine: Engine, signal?: AbortSignal): Promise<SystemInfo> {
  return sendJson<SystemInfo>(engine, SystemEndpoints.info, { signal });
}
