/**
 * A hidden, documented debug hook (docs/exit-codes.md): NESTLING_DEBUG_FAULT=internal makes the CLI fail with an
 * error that is not a NestlingError, before any command runs, so the exit-1 path ("please report") is tested end
 * to end on the built binary. nestling has no genuine internal error to trigger on purpose: each one would be a bug
 * to fix. Only the CLI reads it.
 */
import type { Env } from '../../util/env.js';

export const FAULT_ENV = 'NESTLING_DEBUG_FAULT';

export function injectedFault(env: Env): void {
  const v = env[FAULT_ENV];
  if (v === 'internal') throw new TypeError(`injected fault (${FAULT_ENV}=internal): an error that is not a NestlingError`);
}
