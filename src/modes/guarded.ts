/**
 * guarded: DooD through `nestling guard`. The job gets the guard's socket, never the engine's; the guard is the
 * job's owner (ownership labels, list filtering, 404 for others' objects), refuses privilege escalation, attaches
 * the job's containers to the per-job network, and the run reaps everything the owner created.
 * Containers the job starts are siblings on the host engine, labelled io.nestling.owner=<the run's owner>.
 */
import { join } from 'node:path';
import { environmentError } from '../util/errors.js';
import { GUARD_SOCKET_DIR_IN_JOB } from './daemon-plan.js';
import type { HostFacts } from './facts.js';
import { defaultImages, hostEngineFlagNotes, jobBody, labelsFor, runName, workspaceMappings, workspaceTarget } from './job-spec.js';
import { ownerFor } from './reaper.js';
import type { Detection, Mode, ModeContext, Plan, RunOptions } from './types.js';

export function detectGuarded(facts: HostFacts): Detection {
  if (!facts.engineLocal) {
    return {
      mode: 'guarded',
      applicable: false,
      reasons: [`the engine ${facts.engineUrl} is not a unix socket on this machine: the guard's socket could not be mounted into the job`],
      needs: ['run nestling on the engine\'s machine'],
    };
  }
  return { mode: 'guarded', applicable: true, reasons: [`the guard runs here in front of ${facts.engineUrl}`] };
}

export const guarded: Mode = {
  name: 'guarded',
  profile: {
    mode: 'guarded',
    securityRisk: 'host-root-guarded',
    isolation: 'shared host engine behind a fail-closed policy: own objects only, no privilege escalation, binds only under the workspace',
    relationship: 'sibling',
    setupCost: 'none (an in-process proxy); shared image cache',
  },
  detect: detectGuarded,
  plan(opts: RunOptions, ctx: ModeContext): Plan {
    const d = detectGuarded(ctx.facts);
    if (!d.applicable) throw environmentError('E_MODE_NOT_APPLICABLE', `mode guarded is not applicable: ${d.reasons.join('; ')}`, { hint: d.needs?.join('; ') ?? 'run `nestling doctor`' });
    const runId = opts.runId!;
    const owner = ownerFor(runId);
    const net = runName(runId, 'net');
    const socketDir = join(ctx.stateDir, runId);
    // Testcontainers: Ryuk binds the guard's socket by its host path; mapped ports are reached on the host's
    // address, which the job gets as host.docker.internal (the daemon's host-gateway) instead of Testcontainers
    // guessing it from inside a container.
    const jobEnv: Record<string, string> = {
      DOCKER_HOST: `unix://${GUARD_SOCKET_DIR_IN_JOB}/docker.sock`,
      TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE: join(socketDir, 'docker.sock'),
      TESTCONTAINERS_HOST_OVERRIDE: 'host.docker.internal',
    };
    const image = opts.image ?? defaultImages(opts.images, ctx.dockerVersion, opts.imageRefs).cli;
    return {
      mode: 'guarded',
      runId,
      owner,
      relationship: 'sibling',
      networks: [{ name: net, labels: labelsFor(opts, ctx, runId, 'network', 'guarded'), options: { 'com.docker.network.driver.mtu': String(ctx.facts.mtu) } }],
      volumes: [],
      containers: [
        {
          role: 'job',
          name: runName(runId, 'job'),
          body: jobBody({ opts, ctx, runId, mode: 'guarded', image, jobEnv, binds: [`${socketDir}:${GUARD_SOCKET_DIR_IN_JOB}`], extraHostConfig: { ExtraHosts: ['host.docker.internal:host-gateway'] }, network: net }),
        },
      ],
      jobEnv,
      guard: { upstream: 'host', owner, socketDir, jobNetwork: net, allowBind: opts.workspace ? [opts.workspace] : [], mappings: workspaceMappings(opts) },
      preload: [],
      relaxed: [],
      warnings: hostEngineFlagNotes(opts, 'guarded'),
      notes: [
        `the guard (owner ${owner}) is the job's only way to the host engine; it attaches the job's containers to ${net}`,
        !opts.workspace
          ? 'no workspace mounted: bind mounts of host paths are refused by the guard'
          : workspaceTarget(opts) === opts.workspace
            ? `workspace ${opts.workspace} mounted at the same path: binds under it resolve on the host`
            : `workspace ${opts.workspace} mounted at ${workspaceTarget(opts)}: the guard translates binds of ${workspaceTarget(opts)}/... to ${opts.workspace}/...`,
        'everything the job creates is labelled with the owner and removed with the run',
      ],
    };
  },
};
