/**
 * `nestling run --mode M [...] -- CMD [ARGS...]`: a job container with a working Docker engine.
 * This file owns the process-level parts: flags, the TTY (raw mode, resize), signals, the exit code, and the
 * detached watcher that reaps the run when nestling itself is killed with SIGKILL.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadStream, WriteStream } from 'node:tty';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { usageError } from '../../util/errors.js';
import { resolveImages } from '../../images/refs.js';
import type { Engine } from '../../engine/client.js';
import type { ModeName, RunOptions } from '../../modes/types.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export interface RunFlags {
  mode: string;
  image?: string;
  daemonImage?: string;
  images?: string;
  preload: string[];
  workspace?: string;
  env: string[];
  cache?: string;
  guard?: boolean;
  dockerd?: string;
  user?: string;
  daemonUser?: string;
  interactive?: boolean;
  tty?: boolean;
  rsa?: boolean;
  explain?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** Flags shared by `run` and `up`. */
export function addModeOptions(cmd: Command): Command {
  return cmd
    .option('--mode <mode>', 'dood | guarded | dind | rootless | sysbox | auto', 'auto')
    .option('--daemon-image <image>', 'image of the inner daemon (dind, rootless, sysbox)')
    .option('--images <which>', 'official (docker:<v>-*) or local (nestling/*:local); default: $NESTLING_IMAGES or official; each image also from NESTLING_CLI_IMAGE, NESTLING_DIND_IMAGE, NESTLING_DIND_ROOTLESS_IMAGE')
    .option('--preload <image>', 'copy an image from the host engine into the inner daemon before the job starts (repeatable)', collect, [])
    .option('--cache <key>', 'keep the inner daemon\'s data root in a named volume for this key (a concurrent run with the same key waits)')
    .option('--guard', 'put the guard in front of the engine (dind; auto does it for dind)')
    .option('--no-guard', 'no guard in front of the inner daemon')
    .option('--dockerd <path>', 'run this locally built dockerd binary as the inner daemon (dind)')
    .option('--daemon-user <uid[:gid]>', 'rootless: remap the image\'s rootless user to this uid/gid')
    .option('--rsa', 'RSA-2048 keys instead of ECDSA P-256 for the DinD TLS certificates')
    .option('--explain', 'print the chosen mode, the reasons and the plan, and exit without running anything')
    .option('--json', 'machine-readable summary on stdout (the job\'s output then goes to stderr)')
    .option('-q, --quiet', 'no progress lines on stderr');
}

export function toRunOptions(flags: RunFlags, cmd: string[], ctx: CliContext): RunOptions {
  const { isModeName } = { isModeName: (s: string): s is ModeName => ['dood', 'guarded', 'dind', 'rootless', 'sysbox', 'auto'].includes(s) };
  if (!isModeName(flags.mode)) throw usageError('E_RUN_MODE', `unknown mode ${flags.mode}`, { hint: 'choose dood, guarded, dind, rootless, sysbox or auto' });
  // flags > NESTLING_CLI_IMAGE / NESTLING_DIND_IMAGE / NESTLING_DIND_ROOTLESS_IMAGE > the set (--images / NESTLING_IMAGES)
  const refs = resolveImages({
    images: flags.images,
    overrides: { cli: flags.image, dind: flags.daemonImage, dindRootless: flags.daemonImage },
    env: ctx.env,
  });
  const images = refs.set;
  const stdinTty = Boolean(ctx.stdin.isTTY);
  const stdoutTty = Boolean(ctx.stdout.isTTY);
  const tty = flags.tty ?? (stdinTty && stdoutTty && !flags.json);
  const interactive = flags.interactive ?? tty;
  // --workspace DIR[:PATH]: DIR on the host, at PATH in the job (default: the same path)
  let workspace: string | undefined;
  let workspaceTarget: string | undefined;
  if (flags.workspace) {
    const [dir = '', target] = flags.workspace.split(':');
    workspace = dir.startsWith('/') ? dir : join(ctx.cwd, dir);
    if (target !== undefined && !target.startsWith('/')) throw usageError('E_RUN_WORKSPACE', `--workspace ${flags.workspace}: the path in the job must be absolute`, { hint: '--workspace .:/work' });
    workspaceTarget = target;
  }
  if (flags.dockerd && !flags.dockerd.startsWith('/')) throw usageError('E_RUN_DOCKERD', '--dockerd needs an absolute path', { hint: `--dockerd ${join(ctx.cwd, flags.dockerd)}` });
  return {
    mode: flags.mode,
    image: flags.image,
    daemonImage: flags.daemonImage,
    images,
    imageRefs: { cli: refs.cli, dind: refs.dind, dindRootless: refs.dindRootless },
    preload: flags.preload ?? [],
    workspace,
    workspaceTarget,
    env: flags.env ?? [],
    cmd,
    cache: flags.cache,
    guard: flags.guard,
    dockerd: flags.dockerd,
    user: flags.user,
    daemonUser: flags.daemonUser,
    tty,
    interactive,
    rsa: flags.rsa,
  };
}

/** Per-user runtime state (guard sockets, the probe cache): short, for unix socket paths. */
export function stateDirFor(): string {
  return join(tmpdir(), `nestling-${process.getuid?.() ?? 0}`);
}

/** The pieces of RunDeps that come from the process. */
export async function runDeps(ctx: CliContext, flags: { json?: boolean; quiet?: boolean }, pidLabel?: string) {
  const { pidLabelFor } = await import('../../modes/reaper.js');
  const { issueDindCerts } = await import('../../modes/tls.js');
  const { startRunGuard } = await import('../../modes/guard-wiring.js');
  const { fileProbeCache } = await import('../../modes/facts.js');
  const host = hostname();
  const stateDir = stateDirFor();
  return {
    probeCache: fileProbeCache(stateDir),
    warmUp: async () => (await import('../../modes/tls.js')).warmUpTls(),
    hostname: host,
    pidLabel: pidLabel ?? pidLabelFor(host, process.pid),
    stateDir,
    signal: ctx.signal,
    issueCerts: issueDindCerts,
    startGuard: startRunGuard,
    progress: (p: { task: string; message: string }) => {
      if (!flags.quiet) ctx.err(`nestling: ${p.task === 'warning' ? 'WARNING: ' : ''}${p.message}`);
    },
  };
}

/**
 * The engine for a run: without the CLI's abort signal as a default, because after Ctrl-C the run must still stop
 * the job and tear down (setup steps get the signal explicitly).
 */
export async function engineWithoutSignal(ctx: CliContext, g: { host?: string; context?: string }): Promise<Engine> {
  const { Engine: EngineClass } = await import('../../engine/client.js');
  return new EngineClass(ctx.resolveEngine(g).endpoint, { apiVersion: ctx.env.DOCKER_API_VERSION || undefined });
}

/** Spawns the detached watcher that reaps this run if nestling dies without tearing down (kill -9). */
function spawnWatcher(runId: string, g: { host?: string; context?: string }): void {
  const main = process.argv[1];
  if (!main) return;
  const args = [main];
  if (g.host) args.push('--host', g.host);
  if (g.context) args.push('--context', g.context);
  args.push('__watch-run', '--run', runId, '--pid', String(process.pid));
  const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore', env: process.env });
  child.unref();
}

export function register(program: Command, ctx: CliContext): void {
  addModeOptions(
    program
      .command('run')
      .description('Run CMD in a job container with a working Docker engine (DOCKER_HOST and TLS variables set)')
      .argument('<cmd...>', 'the command (after --)')
      .option('--image <image>', 'job image (default: the docker CLI image)')
      .option('--workspace <dir[:path]>', 'host directory mounted into the job (and the inner daemon), at the same path or at PATH')
      .option('-e, --env <K=V>', 'environment variable for the job (repeatable)', collect, [])
      .option('-u, --user <user>', 'run the job as this user (uid[:gid])')
      .option('-i, --interactive', 'keep stdin open (default: when stdin is a terminal)')
      .option('-t, --tty', 'allocate a TTY (default: when stdin and stdout are terminals)'),
  ).action(async (cmdArgs: string[], flags: RunFlags, cmd: Command) => {
    const opts = toRunOptions(flags, cmdArgs, ctx);
    const g = globalOpts(cmd);
    const engine = await engineWithoutSignal(ctx, g);
    const { newRunId, runWithMode, prepareRun } = await import('../../modes/run.js');
    opts.runId = newRunId();
    const deps = await runDeps(ctx, flags);
    if (flags.explain) {
      const { plan, choice, facts } = await prepareRun(engine, opts, deps);
      const { explainText, planForDisplay } = await import('../../modes/explain.js');
      if (flags.json) ctx.out(JSON.stringify({ mode: plan.mode, reasons: choice.reasons, considered: choice.considered, facts, plan: planForDisplay(plan) }));
      else ctx.out(explainText(choice, plan));
      return;
    }
    spawnWatcher(opts.runId, g);
    const stdin = ctx.stdin as unknown as ReadStream;
    const stdout = ctx.stdout as unknown as WriteStream;
    const raw = opts.tty && opts.interactive && stdin.isTTY;
    if (raw) stdin.setRawMode(true);
    try {
      const summary = await runWithMode(
        engine,
        opts,
        {
          stdin: opts.interactive ? (stdin as unknown as NodeJS.ReadableStream & import('node:stream').Readable) : undefined,
          stdout: flags.json ? ctx.stderr : ctx.stdout,
          stderr: ctx.stderr,
          size: () => (stdout.isTTY ? { rows: stdout.rows, cols: stdout.columns } : undefined),
          onResize: (cb) => {
            stdout.on('resize', cb);
            return () => stdout.off('resize', cb);
          },
        },
        deps,
      );
      if (flags.json) ctx.out(JSON.stringify(summary, (k, v: unknown) => (k === 'mode' && typeof v === 'object' && v !== null ? (v as { name: string }).name : v)));
      process.exitCode = summary.exitCode >= 0 && summary.exitCode < 256 ? summary.exitCode : 1;
    } catch (e) {
      // interrupted before the job ran (during setup): everything was torn down; exit as a shell would
      if (ctx.signal.aborted && (e as Error).name === 'AbortError') {
        ctx.err('nestling: interrupted during setup; everything the run created was removed');
        process.exitCode = 130;
        return;
      }
      throw e;
    } finally {
      if (raw) stdin.setRawMode(false);
      stdin.pause();
    }
  });

  program
    .command('__watch-run', { hidden: true })
    .description('internal: reap a run when its nestling process dies')
    .requiredOption('--run <id>')
    .requiredOption('--pid <pid>')
    .action(async (o: { run: string; pid: string }, cmd: Command) => {
      const pid = Number(o.pid);
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch (e) {
          return (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      };
      while (alive()) await sleep(300);
      const engine: Engine = await engineWithoutSignal(ctx, globalOpts(cmd));
      const { reapRun, ownerFor } = await import('../../modes/reaper.js');
      // twice: a container being created while nestling died can appear after the first sweep
      await reapRun(engine, o.run, ownerFor(o.run)).catch(() => {});
      await sleep(1000);
      await reapRun(engine, o.run, ownerFor(o.run)).catch(() => {});
      // the guard's socket directory (guarded, dind --guard)
      if (/^[0-9a-f]{10}$/.test(o.run)) rmSync(join(stateDirFor(), o.run), { recursive: true, force: true });
    });
}
