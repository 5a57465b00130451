/** `nestling cache ls | prune [--older-than DUR]`: the named data-root volumes of `--cache KEY`. */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { usageError } from '../../util/errors.js';
import { engineWithoutSignal } from './run.js';

function human(n: number | undefined): string {
  if (n === undefined) return '-';
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < u.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)}${u[i]}`;
}

export function register(program: Command, ctx: CliContext): void {
  const cache = program.command('cache').description('Inner-daemon caches kept by `nestling run --cache KEY`');
  cache
    .command('ls')
    .description('List the caches')
    .option('--size', 'include sizes (asks the engine for disk usage: slower)')
    .option('--json', 'print JSON')
    .action(async (flags: { size?: boolean; json?: boolean }, cmd: Command) => {
      const { listCaches } = await import('../../modes/cache.js');
      const engine = await engineWithoutSignal(ctx, globalOpts(cmd));
      const list = await listCaches(engine, flags.size);
      if (flags.json) {
        ctx.out(JSON.stringify({ caches: list }));
        return;
      }
      ctx.out(['VOLUME', 'MODE', 'KEY', 'CREATED', 'LAST USED', 'IN USE', ...(flags.size ? ['SIZE'] : [])].join('\t'));
      for (const c of list) ctx.out([c.volume, c.mode ?? '-', c.key, c.createdAt ?? '-', c.lastUsed ?? '-', c.inUse ? 'yes' : 'no', ...(flags.size ? [human(c.size)] : [])].join('\t'));
    });
  cache
    .command('prune')
    .description('Remove caches not in use (with --older-than: only those last used, else created, more than DUR ago)')
    .option('--older-than <dur>', 'e.g. 12h, 7d, 2w')
    .option('--json', 'print JSON')
    .action(async (flags: { olderThan?: string; json?: boolean }, cmd: Command) => {
      const { pruneCaches, parseDuration } = await import('../../modes/cache.js');
      let ms: number | undefined;
      if (flags.olderThan !== undefined) {
        ms = parseDuration(flags.olderThan);
        if (ms === undefined) throw usageError('E_CACHE_DURATION', `--older-than ${flags.olderThan}: not a duration`, { hint: 'use a number and a unit: 30m, 12h, 7d, 2w' });
      }
      const engine = await engineWithoutSignal(ctx, globalOpts(cmd));
      const r = await pruneCaches(engine, ms, Date.now());
      if (flags.json) ctx.out(JSON.stringify(r));
      else {
        for (const v of r.removed) ctx.out(`removed ${v}`);
        for (const k of r.kept) ctx.err(`kept ${k.volume}: ${k.why}`);
      }
    });
}
