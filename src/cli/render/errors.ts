/**
 * The single exit policy (changesets style): an expected failure is a NestlingError and prints
 * `nestling: <message>` + `hint: <hint>` on stderr (or {"error":{...}} on stdout with --json) and exits with its
 * category's code; an interruption (SIGINT/SIGTERM abort) exits 130/143; anything else is a bug: exit 1 with
 * "please report" and the versions, the stack only with NESTLING_DEBUG=1.
 */
import { findNestlingError, ExitCode } from '../../util/errors.js';
import type { CliContext } from '../context.js';
import { VERSION } from '../version.js';

const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/** The signal behind an abort, when the error is one (the CLI's AbortController reason carries `signal`). */
function interruption(ctx: CliContext, e: unknown): string | undefined {
  if (!ctx.signal.aborted) return undefined;
  let cur: unknown = e;
  for (let i = 0; i < 8 && cur instanceof Error; i++) {
    if (cur.name === 'AbortError') {
      const reason = ctx.signal.reason as { signal?: unknown } | undefined;
      return typeof reason?.signal === 'string' ? reason.signal : 'SIGINT';
    }
    cur = cur.cause;
  }
  return undefined;
}

/** Prints an error the way users should see it and returns the exit code. */
export function renderError(ctx: CliContext, e: unknown, json: boolean): number {
  const ne = findNestlingError(e);
  if (ne) {
    if (json) ctx.out(JSON.stringify({ error: ne.toJSON() }));
    else {
      ctx.err(`nestling: ${ne.message}`);
      if (ne.hint) ctx.err(`hint: ${ne.hint}`);
    }
    return ne.exitCode;
  }
  const sig = interruption(ctx, e);
  if (sig) {
    if (json) ctx.out(JSON.stringify({ error: { code: 'E_INTERRUPTED', category: 'interrupted', message: `interrupted by ${sig}` } }));
    else ctx.err(`nestling: interrupted by ${sig}`);
    return SIGNAL_EXIT[sig] ?? 130;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const versions = `nestling ${VERSION} (node ${process.version}, ${process.platform}/${process.arch})`;
  if (json) {
    ctx.out(JSON.stringify({ error: { code: 'E_INTERNAL', category: 'internal', message: err.message, details: { version: VERSION, node: process.version } } }));
  }
  ctx.err(`nestling: internal error: ${err.message}`);
  ctx.err(`This is a bug in ${versions}; please report it with this output (NESTLING_DEBUG=1 adds the stack).`);
  if (ctx.env.NESTLING_DEBUG || ctx.env.NODE_DEBUG?.includes('nestling')) ctx.err(err.stack ?? '');
  return ExitCode.Internal;
}
