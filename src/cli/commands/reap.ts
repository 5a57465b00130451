import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { usageError } from '../../util/errors.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('reap')
    .description('Remove everything a job (owner) created through the guard: containers, networks, volumes, optionally images')
    .requiredOption('--owner <id>', 'the job id (the io.nestling.owner label)')
    .option('--images', 'remove the owner\'s images too')
    .option('--pin-dir <dir>', 'where the guard pinned bind sources (default /run/nestling/pins): the owner\'s pins are unmounted')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { owner: string; images?: boolean; json?: boolean; pinDir?: string }, cmd: Command) => {
      if (!opts.owner.trim()) throw usageError('E_REAP_OWNER', '--owner is empty', { hint: 'give the job id: --owner JOB_ID' });
      const { reapOwner } = await import('../../guard/reaper.js');
      const engine = ctx.engine(globalOpts(cmd));
      const r = await reapOwner(engine, opts.owner, { images: opts.images, pinDir: opts.pinDir, signal: ctx.signal });
      if (opts.json) ctx.out(JSON.stringify(r));
      else {
        ctx.out(
          `reaped owner ${r.owner} in ${r.ms} ms: ${r.containers.length} containers, ${r.networks.length} networks, ${r.volumes.length} volumes, ${r.images.length} images${r.pins ? `, ${r.pins} bind pins released` : ''}`,
        );
        for (const e of r.errors) ctx.err(`nestling reap: could not remove ${e.kind} ${e.id}: ${e.message}`);
      }
      if (r.errors.length) process.exitCode = 4;
    });
}
