/** `nestling up --mode M --name N`: a long-lived inner engine for a runner; prints the environment to export. */
import type { Command } from 'commander';
import { join } from 'node:path';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { addModeOptions, engineWithoutSignal, runDeps, toRunOptions, type RunFlags } from './run.js';

/** Where `up` keeps the client certificates of engine `name`. */
export function upCertDir(ctx: CliContext, name: string): string {
  const base = ctx.env.XDG_STATE_HOME || join(ctx.home, '.local', 'state');
  return join(base, 'nestling', 'up', name);
}

export function register(program: Command, ctx: CliContext): void {
  addModeOptions(
    program
      .command('up')
      .description('Start a long-lived inner Docker engine (dind, rootless, sysbox) for a runner; print the env to export')
      .option('--name <name>', 'name of the engine (for `nestling down --name`)', 'default')
      .option('--list', 'list the engines that are up'),
  ).action(async (flags: RunFlags & { name: string; list?: boolean }, cmd: Command) => {
    const g = globalOpts(cmd);
    const engine = await engineWithoutSignal(ctx, g);
    const { upEngine, listUp } = await import('../../modes/up.js');
    if (flags.list) {
      const ups = await listUp(engine);
      if (flags.json) ctx.out(JSON.stringify({ engines: ups }));
      else for (const u of ups) ctx.out(`${u.name}\t${u.mode ?? '?'}\t${u.containers.join(',')}`);
      return;
    }
    const opts = { ...toRunOptions(flags, [], ctx), name: flags.name, tty: false, interactive: false };
    const { NO_PID } = await import('../../modes/reaper.js');
    const deps = await runDeps(ctx, flags, NO_PID);
    const r = await upEngine(engine, opts, { ...deps, certDir: upCertDir(ctx, flags.name) });
    if (flags.json) {
      ctx.out(JSON.stringify(r));
      return;
    }
    for (const w of r.warnings) ctx.err(`nestling: WARNING: ${w}`);
    for (const x of r.relaxed) ctx.err(`nestling: ${x.what}: ${x.why}`);
    for (const [k, v] of Object.entries(r.env)) ctx.out(`export ${k}=${v}`);
    ctx.err(`nestling: engine ${r.name} (${r.mode}) is up after ${r.readyMs} ms; containers can join --network ${r.network} and use tcp://docker:2376 with the same certificates`);
    ctx.err(`nestling: remove it with: nestling down --name ${r.name}`);
  });
}
