/**
 * The baseline policy: deny by default. A policy file (policy-file.ts) only relaxes it (bind dirs, caps, runtimes,
 * host port ranges) and sets quotas and forced defaults.
 */
import type { EffectivePolicy } from './types.js';

/** 4 MiB: far above any real create/update body, far below what could hurt the guard. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export function defaultPolicy(): EffectivePolicy {
  return {
    version: 1,
    allowBind: [],
    allowCaps: [],
    allowRuntimes: [],
    hostPorts: [],
    quotas: {},
    defaults: {},
    maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  };
}
