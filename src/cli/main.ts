#!/usr/bin/env node
/**
 * Entry point: the only place that touches process.exitCode and signals. One exit policy (docs/exit-codes.md):
 * a NestlingError exits with its category's code after `nestling: <message>` + `hint: <hint>` (JSON with --json);
 * anything else is a bug: exit 1 with "please report" and the versions, never a bare stack trace (the stack is shown
 * with NESTLING_DEBUG=1).
 */
import { CommanderError } from 'commander';
import { createCliContext, type CliContext } from './context.js';
import { buildProgram, fromCommanderError } from './program.js';
import { renderError } from './render/errors.js';
import { injectedFault } from './render/fault.js';

async function main(argv: string[], ctx: CliContext): Promise<number> {
  const json = argv.includes('--json');
  try {
    injectedFault(ctx.env);
    const program = await buildProgram(ctx);
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      const mapped = fromCommanderError(e);
      if (!mapped) return 0;
      return renderError(ctx, mapped, json);
    }
    return renderError(ctx, e, json);
  }
}

const ac = new AbortController();
let signals = 0;
const onSignal = (sig: NodeJS.Signals) => {
  signals++;
  if (signals > 1) process.exit(130); // a second Ctrl-C: the user means it
  ac.abort(Object.assign(new Error(`interrupted by ${sig}`), { name: 'AbortError', signal: sig }));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// A reader that goes away (`nestling guard | head -1`, a CI log collector restarting) closes our stdout or stderr:
// the output is lost, the command goes on. A guard must not die, and take the job's Docker with it, because nobody
// reads its log any more.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') process.nextTick(() => onStray(e));
  });
}
const ctx = createCliContext(ac.signal);
const argv = process.argv.slice(2);
// An error thrown where no one awaits it (a stray callback) is still a bug report, not a stack trace.
const onStray = (e: unknown) => {
  process.exitCode = renderError(ctx, e, argv.includes('--json'));
  process.exit();
};
process.on('uncaughtException', onStray);
process.on('unhandledRejection', onStray);

main(argv, ctx).then(
  (code) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`nestling: fatal: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
