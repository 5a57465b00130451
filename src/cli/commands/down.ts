/** `nestling down --name N`: remove an engine started by `nestling up`; `--dead`: reap runs whose nestling died. */
import type { Command } from 'commander';
import { hostname } from 'node:os';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { usageError } from '../../util/errors.js';
import { engineWithoutSignal } from './run.js';
import { upCertDir } from './up.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('down')
    .description('Remove an engine started by `nestling up` (containers, network, volumes; named caches stay)')
    .option('--name <name>', 'the engine to remove')
    .option('--dead', 'remove what runs left whose nestling process died on this host')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { name?: string; dead?: boolean; json?: boolean }, cmd: Command) => {
      if (!flags.name && !flags.dead) throw usageError('E_USAGE', 'nothing to do', { hint: 'nestling down --name NAME, or nestling down --dead' });
      const engine = await engineWithoutSignal(ctx, globalOpts(cmd));
      const out: unknown[] = [];
      if (flags.dead) {
        const { reapDeadRuns } = await import('../../modes/reaper.js');
        for (const r of await reapDeadRuns(engine, hostname())) {
          out.push(r);
          if (!flags.json) ctx.out(`reaped run ${r.runId}: ${r.containers.length} container(s), ${r.networks.length} network(s), ${r.volumes.length} volume(s)`);
        }
      }
      if (flags.name) {
        const { downEngine } = await import('../../modes/up.js');
        const r = await downEngine(engine, flags.name, upCertDir(ctx, flags.name));
        out.push(r);
        if (!flags.json) ctx.out(`removed ${flags.name}: ${r.containers.length} container(s), ${r.networks.length} network(s), ${r.volumes.length} volume(s)`);
      }
      if (flags.json) ctx.out(JSON.stringify({ removed: out }));
    });
}
