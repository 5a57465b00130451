/**
 * What a command gets from the CLI: output streams, the environment, and helpers that respect --json, NO_COLOR and
 * non-TTY. Only cli/ touches process.*; commands receive this object.
 */
import type { Writable } from 'node:stream';
import { homedir } from 'node:os';
import type { Env, RuntimeContext } from '../util/env.js';
import { resolveEndpoint, type Resolution } from '../engine/resolve.js';
import { resolveContextEndpoint } from '../engine/contexts.js';
import { Engine } from '../engine/client.js';

export interface CliContext {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Env;
  cwd: string;
  home: string;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  color: boolean;
  runtime(): RuntimeContext;
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes a diagnostic line to stderr. */
  err(line: string): void;
  /** Resolves the engine endpoint (global --host / --context). */
  resolveEngine(opts?: { host?: string | undefined; context?: string | undefined }): Resolution;
  engine(opts?: { host?: string | undefined; context?: string | undefined }): Engine;
}

export function createCliContext(signal: AbortSignal): CliContext {
  const env = process.env as Env;
  const stderr = process.stderr;
  const color = Boolean(stderr.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
  const home = env.HOME || homedir();
  const ctx: CliContext = {
    stdout: process.stdout,
    stderr,
    stdin: process.stdin,
    env,
    cwd: process.cwd(),
    home,
    signal,
    color,
    runtime: () => ({ env, home, root: '/', now: () => new Date(), signal }),
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
    resolveEngine: (o = {}) => resolveEndpoint({ host: o.host, context: o.context, env, home }, resolveContextEndpoint),
    engine: (o = {}) => new Engine(ctx.resolveEngine(o).endpoint, { apiVersion: env.DOCKER_API_VERSION || undefined, signal }),
  };
  return ctx;
}
