/**
 * `nestling run`: reap what dead runs left, learn the host, resolve the mode, plan, deploy, run the job, tear down.
 * The library entry point; the CLI (cli/commands/run.ts) adds signals, the TTY and the kill -9 watcher.
 */
import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine/client.js';
import { environmentError, usageError } from '../util/errors.js';
import type { ProgressFn } from '../util/log.js';
import { deploy, runJob, teardown, type Deployment, type GuardHandle, type JobIO } from './apply.js';
import type { IssueCerts } from './certs.js';
import { imageExists } from './engine-ops.js';
import { gatherFacts, type HostFacts, type ProbeCache } from './facts.js';
import { defaultImages } from './job-spec.js';
import { reapDeadRuns, type ReapRunReport } from './reaper.js';
import { resolveMode, type ModeChoice } from './resolve.js';
import type { ConcreteModeName, ModeContext, Plan, RunOptions } from './types.js';

/** The Docker version of the official images nestling defaults to (docker:<v>-cli, -dind, -dind-rootless). */
export const DEFAULT_DOCKER_VERSION = '28';

export interface RunDeps {
  progress: ProgressFn;
  signal?: AbortSignal | undefined;
  hostname: string;
  /** "<hostname>:<pid>:<start>" of this process, or "none" for `up` */
  pidLabel: string;
  stateDir: string;
  issueCerts?: IssueCerts | undefined;
  startGuard?: ((plan: Plan, upstream: Engine) => Promise<GuardHandle>) | undefined;
  dockerVersion?: string | undefined;
  cacheWaitMs?: number | undefined;
  /** remember probe results between runs (the CLI passes a file cache under stateDir) */
  probeCache?: ProbeCache | undefined;
  /** started at the beginning of a run, awaited never: loads what later steps need (the TLS library) */
  warmUp?: (() => Promise<unknown>) | undefined;
}

export interface RunSummary {
  runId: string;
  mode: ConcreteModeName;
  choice: ModeChoice;
  exitCode: number;
  interrupted?: string | undefined;
  timings: Record<string, number>;
  relaxed: Plan['relaxed'];
  warnings: string[];
  notes: string[];
  reaped: ReapRunReport;
}

export function newRunId(): string {
  return randomBytes(5).toString('hex');
}

/** Facts, the mode, and its plan: everything up to (not including) touching the engine's objects. */
export async function prepareRun(engine: Engine, opts: RunOptions, deps: RunDeps): Promise<{ facts: HostFacts; choice: ModeChoice; plan: Plan; ctx: ModeContext }> {
  if (opts.cmd.length === 0 && !opts.name) throw usageError('E_RUN_NO_COMMAND', 'no command to run', { hint: 'nestling run --mode dind -- docker version' });
  const runId = opts.runId ?? newRunId();
  const dockerVersion = deps.dockerVersion ?? DEFAULT_DOCKER_VERSION;
  const facts = await gatherFacts(engine, deps.signal);
  const ctx: ModeContext = { engine, facts, pidLabel: deps.pidLabel, stateDir: deps.stateDir, progress: deps.progress, dockerVersion, probeCache: deps.probeCache };
  const choice = await resolveMode(engine, { ...opts, runId }, ctx, deps.signal);
  const plan = choice.mode.plan({ ...opts, runId, guard: choice.guard }, ctx);
  return { facts, choice, plan, ctx };
}

/** Refuses to start when an image is missing: nestling never pulls behind the user's back on air-gapped hosts. */
export async function checkImages(engine: Engine, plan: Plan, images: 'official' | 'local', signal?: AbortSignal): Promise<void> {
  const refs = [...new Set([...plan.containers.map((c) => c.body.Image), ...plan.preload])];
  for (const ref of refs) {
    if (await imageExists(engine, ref, signal)) continue;
    const local = Object.values(defaultImages('local', '')).includes(ref);
    throw environmentError('E_RUN_IMAGE_MISSING', `the image ${ref} is not on the engine`, {
      hint: local ? '`nestling images build` builds the local images' : images === 'official' ? `docker pull ${ref}, or use --images local (\`nestling images build\`)` : `build or load ${ref} first`,
      details: { image: ref },
    });
  }
}

export async function runWithMode(engine: Engine, opts: RunOptions, io: JobIO, deps: RunDeps): Promise<RunSummary> {
  if (opts.mode !== 'dood' && opts.mode !== 'guarded') deps.warmUp?.().catch(() => {});
  try {
    const reaped = await reapDeadRuns(engine, deps.hostname);
    for (const r of reaped) deps.progress({ task: 'reap', message: `removed what the dead run ${r.runId} left: ${r.containers.length} container(s), ${r.networks.length} network(s), ${r.volumes.length} volume(s)` });
  } catch {
    /* best effort: reaping dead runs must not stop a new one */
  }
  const { choice, plan } = await prepareRun(engine, opts, deps);
  deps.progress({ task: 'mode', message: `mode ${plan.mode}${opts.mode === 'auto' ? ` (auto: ${choice.reasons[0] ?? ''})` : ''}, run ${plan.runId}` });
  for (const w of plan.warnings) deps.progress({ task: 'warning', message: w });
  for (const r of plan.relaxed) deps.progress({ task: 'relaxed', message: `${r.what}: ${r.why}` });
  await checkImages(engine, plan, opts.images, deps.signal);
  let dep: Deployment | undefined;
  let exitCode = -1;
  let interrupted: string | undefined;
  let reaped: ReapRunReport | undefined;
  try {
    dep = await deploy(engine, plan, {
      progress: deps.progress,
      signal: deps.signal,
      issueCerts: deps.issueCerts,
      startGuard: deps.startGuard,
      hostname: deps.hostname,
      cacheWaitMs: deps.cacheWaitMs,
    });
    deps.signal?.throwIfAborted();
    const shown = opts.cmd.join(' ');
    const firstLine = shown.split('\n')[0] ?? '';
    deps.progress({ task: 'job', message: `starting the job: ${firstLine.length < shown.length ? `${firstLine} ...` : shown}` });
    const r = await runJob(engine, dep, io, deps.signal);
    exitCode = r.exitCode;
    interrupted = r.interrupted;
  } finally {
    reaped = await teardown(engine, dep ?? { plan });
    deps.progress({
      task: 'teardown',
      message: `removed ${reaped.containers.length} container(s), ${reaped.networks.length} network(s), ${reaped.volumes.length} volume(s), ${reaped.images.length} image(s)${reaped.errors.length ? `; errors: ${reaped.errors.join('; ')}` : ''}`,
    });
  }
  return {
    runId: plan.runId,
    mode: plan.mode,
    choice,
    exitCode,
    ...(interrupted ? { interrupted } : {}),
    timings: dep?.timings ?? {},
    relaxed: plan.relaxed,
    warnings: plan.warnings,
    notes: plan.notes,
    reaped,
  };
}
