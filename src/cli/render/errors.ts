import { findNestlingError, ExitCode } from '../../util/errors.js';
import type { CliContext } from '../context.js';
import { VERSION } from '../version.js';

/** Prints an error the way users should see it: message + hint, or JSON; a bug gets "please report". */
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
  const err = e instanceof Error ? e : new Error(String(e));
  if (json) ctx.out(JSON.stringify({ error: { code: 'E_INTERNAL', message: err.message } }));
  ctx.err(`nestling: internal error: ${err.message}`);
  ctx.err(`This is a bug in nestling ${VERSION} (node ${process.version}, ${process.platform}); please report it with this output.`);
  if (ctx.env.NESTLING_DEBUG || ctx.env.NODE_DEBUG?.includes('nestling')) ctx.err(err.stack ?? '');
  return ExitCode.Internal;
}
