/**
 * The library never prints. It publishes events on diagnostics_channel and writes util.debuglog('nestling') lines;
 * the CLI subscribes and renders. A Logger is injected where a long-running component (the guard) needs one.
 */
import { channel } from 'node:diagnostics_channel';
import { debuglog } from 'node:util';

export const debug = debuglog('nestling');

export const channels = {
  guardDecision: channel('nestling:guard:decision'),
  engineRequest: channel('nestling:engine:request'),
  doctorFinding: channel('nestling:doctor:finding'),
  progress: channel('nestling:progress'),
} as const;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything: the default for library callers. */
export const silentLogger: Logger = { log() {} };

/** Progress events for long work (image builds, preloads): the CLI shows them on stderr. */
export interface ProgressEvent {
  task: string;
  message: string;
  current?: number;
  total?: number;
}
export type ProgressFn = (e: ProgressEvent) => void;
export const noProgress: ProgressFn = () => {};

/** Keys whose values never reach a log line. */
const SECRET_KEYS = /^(x-registry-auth|x-registry-config|authorization|password|identitytoken|registrytoken|key|.*secret.*|.*token.*)$/i;
export function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : v;
  return out;
}
