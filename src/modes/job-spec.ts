/**
 * The parts of a plan every mode shares: names, labels, the job container's body, image defaults.
 */
import { localImages, officialImages, type ImageRefs } from '../images/refs.js';
import { Labels } from '../util/labels.js';
import { usageError } from '../util/errors.js';
import { runLabels } from './reaper.js';
import type { ConcreteModeName, ContainerBody, ModeContext, RunOptions } from './types.js';

/**
 * The images of a run: `refs` when the caller resolved them (the CLI: flags > NESTLING_*_IMAGE > the set, by
 * images/refs.ts resolveImages), else the set: official (docker:<v>-cli, -dind, -dind-rootless) or local.
 */
export function defaultImages(images: 'official' | 'local', dockerVersion: string, refs?: ImageRefs | undefined): { cli: string; dind: string; rootless: string } {
  const r = refs ?? (images === 'local' ? localImages : officialImages(dockerVersion || undefined));
  return { cli: r.cli, dind: r.dind, rootless: r.dindRootless };
}

/** Object names of a run: short, unique, and recognisable in `docker ps`. */
export function runName(runId: string, what: string): string {
  return `nestling-${runId}-${what}`;
}

/** KEY=VALUE checks for --env (a bare KEY is refused: we do not read nestling's own environment for the job). */
export function parseEnvList(env: readonly string[]): string[] {
  for (const e of env) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)) {
      throw usageError('E_RUN_ENV', `--env ${e}: expected KEY=VALUE`, { hint: 'e.g. --env FOO=bar' });
    }
  }
  return [...env];
}

export function labelsFor(opts: RunOptions, ctx: ModeContext, runId: string, role: Parameters<typeof runLabels>[1], mode: ConcreteModeName): Record<string, string> {
  const l: Record<string, string> = { ...runLabels(runId, role, ctx.pidLabel), [Labels.mode]: mode };
  if (opts.name) l[Labels.name] = opts.name;
  return l;
}

export interface JobBodyInput {
  opts: RunOptions;
  ctx: ModeContext;
  runId: string;
  mode: ConcreteModeName;
  image: string;
  jobEnv: Record<string, string>;
  binds: string[];
  extraHostConfig?: Record<string, unknown> | undefined;
  network?: string | undefined;
}

/** Where the workspace appears in the job (and an inner daemon): the same path as on the host unless asked. */
export function workspaceTarget(opts: RunOptions): string {
  return opts.workspaceTarget ?? opts.workspace ?? '';
}

/** The guard's path mappings for a run: the workspace, when the job sees it under another path. */
export function workspaceMappings(opts: RunOptions): { jobPath: string; hostPath: string }[] {
  return opts.workspace && workspaceTarget(opts) !== opts.workspace ? [{ jobPath: workspaceTarget(opts), hostPath: opts.workspace }] : [];
}

/** The job container: CMD with the engine's variables set, the workspace mounted, TTY/stdin as asked. */
export function jobBody(i: JobBodyInput): ContainerBody {
  const { opts } = i;
  const env = [...Object.entries(i.jobEnv).map(([k, v]) => `${k}=${v}`), ...parseEnvList(opts.env)];
  const binds = [...i.binds];
  if (opts.workspace) binds.push(`${opts.workspace}:${workspaceTarget(opts)}`);
  const body: ContainerBody = {
    Image: i.image,
    Cmd: opts.cmd.length ? [...opts.cmd] : undefined,
    Env: env,
    Labels: labelsFor(opts, i.ctx, i.runId, 'job', i.mode),
    Tty: opts.tty,
    OpenStdin: opts.interactive,
    StdinOnce: opts.interactive,
    AttachStdin: opts.interactive,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: { Binds: binds, ...(i.extraHostConfig ?? {}) },
  };
  if (opts.user) body.User = opts.user;
  if (opts.workspace) body.WorkingDir = workspaceTarget(opts);
  if (i.network) {
    body.HostConfig.NetworkMode = i.network;
    body.NetworkingConfig = { EndpointsConfig: { [i.network]: {} } };
  }
  return body;
}

/** Flags that only mean something with an inner daemon: refused or noted for the host-engine modes. */
export function hostEngineFlagNotes(opts: RunOptions, mode: 'dood' | 'guarded'): string[] {
  if (opts.dockerd) throw usageError('E_RUN_DOCKERD_MODE', `--dockerd needs an inner daemon; mode ${mode} uses the host engine`, { hint: 'use --mode dind' });
  if (mode === 'dood' && opts.guard) throw usageError('E_RUN_GUARD_MODE', '--guard with dood is --mode guarded', { hint: 'nestling run --mode guarded ...' });
  const w: string[] = [];
  if (opts.preload.length) w.push(`--preload ignored: with ${mode} the job already uses the host engine's images`);
  if (opts.cache) w.push(`--cache ignored: with ${mode} the job uses the host engine's image cache`);
  return w;
}
