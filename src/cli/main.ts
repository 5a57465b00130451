#!/usr/bin/env node
/** Entry point: the only place that touches process.exitCode and signals. */
import { CommanderError } from 'commander';
import { createCliContext } from './context.js';
import { buildProgram, fromCommanderError } from './program.js';
import { renderError } from './render/errors.js';

async function main(argv: string[]): Promise<number> {
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(130); // a second Ctrl-C: the user means it
    ac.abort(Object.assign(new Error(`interrupted by ${sig}`), { name: 'AbortError', signal: sig }));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ctx = createCliContext(ac.signal);
  const json = argv.includes('--json');
  try {
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
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`nestling: fatal: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
