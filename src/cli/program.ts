/**
 * The one place that declares every command. Each command lives in commands/<name>.ts and exports
 * `register(program, ctx)`; heavy modules are imported lazily inside actions, so `nestling --help` stays fast.
 */
import { Command, CommanderError } from 'commander';
import type { CliContext } from './context.js';
import { VERSION } from './version.js';
import { usageError } from '../util/errors.js';

export type Register = (program: Command, ctx: CliContext) => void;

/** Commands, in help order. Add a line here when a command file is added. */
const COMMANDS: (() => Promise<{ register: Register }>)[] = [
  () => import('./commands/demo.js'),
  () => import('./commands/images.js'),
  () => import('./commands/certs.js'),
  () => import('./commands/k8s.js'),
  () => import('./commands/ci.js'),
  () => import('./commands/doctor.js'),
  () => import('./commands/audit.js'),
  () => import('./commands/verify.js'),
  () => import('./commands/guard.js'),
  () => import('./commands/reap.js'),
  () => import('./commands/run.js'),
  () => import('./commands/up.js'),
  () => import('./commands/down.js'),
  () => import('./commands/cache.js'),
];

export async function buildProgram(ctx: CliContext): Promise<Command> {
  const program = new Command('nestling')
    .description('A working, safe Docker engine for CI job containers: DooD, guarded DooD, DinD, rootless, Sysbox.')
    .version(VERSION, '-V, --version')
    .option('-H, --host <url>', 'Docker engine endpoint (overrides DOCKER_HOST and contexts)')
    .option('--context <name>', 'Docker CLI context to use')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride();
  for (const load of COMMANDS) (await load()).register(program, ctx);
  return program;
}

/** Maps commander's own failures to our usage errors (exit 2); help and version exit 0. */
export function fromCommanderError(e: CommanderError): Error | undefined {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return undefined;
  return usageError('E_USAGE', e.message.replace(/^error: /, ''), { hint: 'run `nestling --help`' });
}

/** Global options as the commands see them. */
export function globalOpts(cmd: Command): { host?: string; context?: string } {
  let root = cmd;
  while (root.parent) root = root.parent;
  return root.opts<{ host?: string; context?: string }>();
}
