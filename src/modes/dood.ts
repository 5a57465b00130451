/**
 * dood: the host engine's socket mounted into the job as is. Fast and simple; the job is root on the host.
 * Containers the job starts are siblings on the host engine: bind paths resolve on the host, which is why the
 * workspace is mounted at the same path in the job.
 */
import { environmentError } from '../util/errors.js';
import { defaultImages, hostEngineFlagNotes, jobBody, runName, workspaceTarget } from './job-spec.js';
import { ownerFor } from './reaper.js';
import type { HostFacts } from './facts.js';
import type { Detection, Mode, ModeContext, Plan, RunOptions } from './types.js';

export const DOOD_WARNING =
  'dood: the job is root on the host: through the mounted socket it can run `docker run --privileged -v /:/host` (use --mode guarded to put the guard in front)';

export function detectDood(facts: HostFacts): Detection {
  if (!facts.engineLocal) {
    return {
      mode: 'dood',
      applicable: false,
      reasons: [`the engine ${facts.engineUrl} is not a unix socket on this machine: there is no socket to mount`],
      needs: ['a local engine socket (DOCKER_HOST=unix:///var/run/docker.sock)'],
    };
  }
  return { mode: 'dood', applicable: true, reasons: [`the engine socket ${facts.socketPath} is on this machine`] };
}

export const dood: Mode = {
  name: 'dood',
  profile: {
    mode: 'dood',
    securityRisk: 'host-root',
    isolation: 'none: the job controls the host engine (every container, every host path)',
    relationship: 'sibling',
    setupCost: 'none (a bind mount)',
  },
  detect: detectDood,
  plan(opts: RunOptions, ctx: ModeContext): Plan {
    const d = detectDood(ctx.facts);
    if (!d.applicable) {
      throw environmentError('E_MODE_NOT_APPLICABLE', `mode dood is not applicable: ${d.reasons.join('; ')}`, {
        hint: 'run nestling on the machine of the engine, or use --mode dind',
        details: { detection: d },
      });
    }
    const runId = opts.runId!;
    const socket = ctx.facts.socketPath!;
    const jobEnv: Record<string, string> = {
      DOCKER_HOST: 'unix:///var/run/docker.sock',
      // Testcontainers' Ryuk mounts the socket itself: it must use the host's path
      TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE: socket,
    };
    const image = opts.image ?? defaultImages(opts.images, ctx.dockerVersion, opts.imageRefs).cli;
    const groupAdd = ctx.facts.socketGid !== undefined ? [String(ctx.facts.socketGid)] : [];
    return {
      mode: 'dood',
      runId,
      owner: ownerFor(runId),
      relationship: 'sibling',
      networks: [],
      volumes: [],
      containers: [
        {
          role: 'job',
          name: runName(runId, 'job'),
          body: jobBody({ opts, ctx, runId, mode: 'dood', image, jobEnv, binds: [`${socket}:/var/run/docker.sock`], extraHostConfig: { GroupAdd: groupAdd } }),
        },
      ],
      jobEnv,
      preload: [],
      relaxed: [{ what: `the host engine socket ${socket} mounted into the job`, why: 'dood is the socket, by definition' }],
      warnings: [
        DOOD_WARNING,
        ...hostEngineFlagNotes(opts, 'dood'),
        ...(opts.workspace && workspaceTarget(opts) !== opts.workspace
          ? [`the workspace is at ${workspaceTarget(opts)} in the job but ${opts.workspace} on the host: \`docker run -v ${workspaceTarget(opts)}:...\` in the job mounts the host's ${workspaceTarget(opts)} (dood translates nothing; guarded does)`]
          : []),
      ],
      notes: [
        groupAdd.length ? `the socket's group ${groupAdd[0]} is added to the job, so a non-root job user can use it` : 'socket group unknown',
        opts.workspace ? `workspace ${opts.workspace} mounted at ${workspaceTarget(opts)}` : 'no workspace mounted',
        'containers the job starts are siblings on the host engine and are NOT labelled with the run (no proxy sees them): the job must remove its own; use --mode guarded for ownership and reaping',
      ],
    };
  },
};
