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
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      // Commander's own error line is not printed: main.ts renders the mapped usage error once, with a hint.
      outputError: () => {},
    })
    // Subcommands inherit this (they are added after it). `this` is the command that failed: remember its path
    // for the hint.
    .exitOverride(function (this: Command, err: CommanderError) {
      failedCommand.set(err, commandPath(this));
      throw err;
    });
  for (const load of COMMANDS) (await load()).register(program, ctx);
  return program;
}

const failedCommand = new WeakMap<CommanderError, string>();

function commandPath(cmd: Command | undefined): string {
  const names: string[] = [];
  for (let c = cmd; c; c = c.parent ?? undefined) names.unshift(c.name());
  return names.length ? names.join(' ') : 'nestling';
}

/** Commander's error codes and our stable usage codes (docs/errors.md). */
const COMMANDER_CODES: Readonly<Record<string, string>> = {
  'commander.unknownCommand': 'E_USAGE_UNKNOWN_COMMAND',
  'commander.unknownOption': 'E_USAGE_UNKNOWN_OPTION',
  'commander.missingArgument': 'E_USAGE_MISSING_ARGUMENT',
  'commander.optionMissingArgument': 'E_USAGE_OPTION_ARGUMENT',
  'commander.missingMandatoryOptionValue': 'E_USAGE_OPTION_ARGUMENT',
  'commander.invalidArgument': 'E_USAGE_INVALID_ARGUMENT',
  'commander.excessArguments': 'E_USAGE_EXCESS_ARGUMENTS',
  'commander.conflictingOption': 'E_USAGE_CONFLICTING_OPTIONS',
};

/** Maps commander's own failures to our usage errors (exit 2); help and version exit 0. */
export function fromCommanderError(e: CommanderError): Error | undefined {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return undefined;
  const path = failedCommand.get(e) ?? 'nestling';
  return usageError(COMMANDER_CODES[e.code] ?? 'E_USAGE', e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim(), {
    hint: `run \`${path} --help\``,
    details: { commander: e.code },
  });
}

/** Global options as the commands see them. */
export function globalOpts(cmd: Command): { host?: string; context?: string } {
  let root = cmd;
  while (root.parent) root = root.parent;
  return root.opts<{ host?: string; context?: string }>();
}
