import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { usageError } from '../../util/errors.js';

export function register(program: Command, ctx: CliContext): void {
  const images = program.command('images').description('Build the local images nestling uses on air-gapped hosts (no registry needed)');
  images
    .command('build')
    .description('Build nestling/*:local images from Debian packages (cached by content key)')
    .argument('[names...]', 'images to build (default: all)')
    .option('--force', 'rebuild even when up to date')
    .option('--json', 'print the result as JSON')
    .action(async (names: string[], opts: { force?: boolean; json?: boolean }, cmd: Command) => {
      const { IMAGE_BUILDERS } = await import('../../images/index.js');
      const unknown = names.filter((n) => !IMAGE_BUILDERS.some((b) => b.name === n));
      if (unknown.length) {
        throw usageError('E_USAGE_IMAGE', `unknown image ${unknown.join(', ')}`, { hint: `choose from ${IMAGE_BUILDERS.map((b) => b.name).join(', ')}` });
      }
      const engine = ctx.engine(globalOpts(cmd));
      const results: { name: string; ref: string; result: string; ms: number }[] = [];
      for (const b of IMAGE_BUILDERS) {
        if (names.length && !names.includes(b.name)) continue;
        const t0 = Date.now();
        if (!opts.json) ctx.err(`building ${b.ref} (${b.description})`);
        const result = await b.build(engine, {
          force: opts.force,
          signal: ctx.signal,
          env: ctx.env,
          progress: (p) => {
            if (!opts.json) ctx.err(`  ${p.task}: ${p.message}${p.total ? ` (${p.current ?? 0}/${p.total})` : ''}`);
          },
        });
        results.push({ name: b.name, ref: b.ref, result, ms: Date.now() - t0 });
        if (!opts.json) ctx.out(`${b.ref}\t${result}\t${((Date.now() - t0) / 1000).toFixed(1)}s`);
      }
      if (opts.json) ctx.out(JSON.stringify({ images: results }));
    });
}
