import type { Command } from 'commander';
import { tmpdir } from 'node:os';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { usageError, environmentError } from '../../util/errors.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .description('Run each mode with a probe job and measure, side by side: daemon location, relationship, job privileges, isolation, time to ready, shared image cache')
    .option('--mode <mode>', 'dood | guarded | dind | rootless | sysbox | all', 'all')
    .option('--images <which>', 'official or local daemon/job images (default: $NESTLING_IMAGES or official)')
    .option('--host-image <image>', 'an image on the host engine for the sentinel container and the cache check', 'nestling/busybox:local')
    .option('--json', 'print the measurements as JSON (schema nestling.verify/v1)')
    .option('-v, --verbose', "show the runs' progress on stderr")
    .action(async (opts: { mode: string; images?: string; hostImage: string; json?: boolean; verbose?: boolean }, cmd: Command) => {
      const { VERIFY_MODES, verifyModes, renderVerifyTable } = await import('../../verify/verify.js');
      const modes = opts.mode === 'all' ? [...VERIFY_MODES] : VERIFY_MODES.filter((m) => m === opts.mode);
      if (!modes.length) throw usageError('E_USAGE', `--mode ${opts.mode}: expected ${VERIFY_MODES.join(', ')} or all`);
      const images = opts.images ?? (ctx.env.NESTLING_IMAGES || 'official');
      if (images !== 'official' && images !== 'local') throw usageError('E_USAGE', `--images ${images}: expected official or local`);
      const g = globalOpts(cmd);
      const { engineWithoutSignal, runDeps } = await import('./run.js');
      const { runWithMode } = await import('../../modes/run.js');
      const engine = await engineWithoutSignal(ctx, g);
      await engine.negotiate(ctx.signal);
      const deps = await runDeps(ctx, { quiet: !opts.verbose });
      const results = await verifyModes(
        engine,
        modes,
        async (req) => {
          const s = await runWithMode(engine, { mode: req.mode, images, preload: [], env: [], cmd: req.cmd, tty: false, interactive: false }, req.io, deps);
          return { exitCode: s.exitCode, timings: s.timings };
        },
        { markerDir: tmpdir(), hostImage: opts.hostImage, signal: ctx.signal },
      );
      if (opts.json) ctx.out(JSON.stringify({ schema: 'nestling.verify/v1', engine: engine.endpoint.url, images, modes: results }, null, 2));
      else for (const l of renderVerifyTable(results)) ctx.out(l);
      if (modes.length === 1 && !results[0]?.ran) {
        throw environmentError('E_VERIFY_NOT_RUN', `mode ${modes[0]} could not run: ${results[0]?.error ?? 'unknown reason'}`, { hint: 'run `nestling doctor` for what the host needs' });
      }
    });
}
