/**
 * Leaving nothing behind. Every object a run creates carries
 *   io.nestling.managed=true, io.nestling.run=<run id>, io.nestling.role=<role>, io.nestling.pid=<host:pid:start>
 * and every object the job creates through the guard carries io.nestling.owner=<owner> (= the run's owner).
 *
 * Three layers remove them:
 *   1. normal exit, Ctrl-C and SIGTERM: the run tears down in a `finally` (reapRun);
 *   2. `kill -9` of nestling: a detached watcher process (`nestling run` spawns it; see cli/commands/run.ts) notices
 *      the pid is gone and calls reapRun for that run;
 *   3. belt and braces: every `nestling run`/`up`/`down --dead` first reaps runs whose pid label names a dead
 *      process on this host (reapDeadRuns), so even a killed watcher cannot leave a run behind for long.
 * Long-lived engines from `nestling up` carry pid "none" and are only removed by `nestling down`.
 * Named cache volumes (role=cache) are never reaped; `nestling cache prune` removes them.
 */
import { processStartTime } from '../util/proc.js';
import type { Engine } from '../engine/client.js';
import { EngineError } from '../util/errors.js';
import { Labels } from '../util/labels.js';
import { listContainers, listNetworks, listVolumes, removeContainer, removeNetwork, removeVolume } from './engine-ops.js';
import type { Role } from './types.js';

export const NO_PID = 'none';

export function runLabels(runId: string, role: Role | 'probe' | 'cache' | 'data' | 'network' | 'tls', pidLabel: string): Record<string, string> {
  return { [Labels.managed]: 'true', [Labels.run]: runId, [Labels.role]: role, [Labels.pid]: pidLabel };
}

/** The start time of a process (field 22 of /proc/<pid>/stat), to tell a live process from a reused pid. */
export { processStartTime };

/** "<hostname>:<pid>:<start time>" */
export function pidLabelFor(hostname: string, pid: number, procRoot = '/proc'): string {
  return `${hostname}:${pid}:${processStartTime(pid, procRoot) ?? '0'}`;
}

export type Liveness = 'alive' | 'dead' | 'unknown';

/** Whether the process named by a pid label still runs; "unknown" for other hosts and long-lived runs. */
export function pidLiveness(label: string | undefined, hostname: string, procRoot = '/proc'): Liveness {
  if (!label || label === NO_PID) return 'unknown';
  const m = /^(.*):(\d+):(\d+)$/.exec(label);
  if (!m) return 'unknown';
  if (m[1] !== hostname) return 'unknown';
  const start = processStartTime(Number(m[2]), procRoot);
  if (start === undefined) return 'dead';
  return start === m[3] || m[3] === '0' ? 'alive' : 'dead';
}

export interface ReapRunReport {
  runId: string;
  containers: string[];
  networks: string[];
  volumes: string[];
  /** images the job built or tagged through the guard (owner label) */
  images: string[];
  errors: string[];
}

/**
 * Removes everything of one run: its containers (forced, with anonymous volumes) and whatever its owner created
 * through the guard, then networks, then volumes except named caches, then the owner's images.
 */
export async function reapRun(engine: Engine, runId: string, owner?: string): Promise<ReapRunReport> {
  const report: ReapRunReport = { runId, containers: [], networks: [], volumes: [], images: [], errors: [] };
  const selectors = [`${Labels.run}=${runId}`];
  if (owner) selectors.push(`${Labels.owner}=${owner}`);
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      report.errors.push(`${what}: ${(e as Error).message}`);
    }
  };
  // containers first (job and siblings before the daemon: nothing to gain from order, but it reads well in logs)
  for (const sel of selectors) {
    const cs = await listContainers(engine, [sel]);
    await Promise.all(
      cs.map((c) =>
        attempt(`container ${c.Id.slice(0, 12)}`, async () => {
          await removeContainer(engine, c.Id);
          report.containers.push(c.Id);
        }),
      ),
    );
  }
  for (const sel of selectors) {
    for (const n of await listNetworks(engine, [sel])) {
      await attempt(`network ${n.Name}`, async () => {
        await removeNetwork(engine, n.Id);
        report.networks.push(n.Name);
      });
    }
  }
  for (const sel of selectors) {
    for (const v of await listVolumes(engine, [sel])) {
      if (v.Labels?.[Labels.role] === 'cache') continue;
      await attempt(`volume ${v.Name}`, async () => {
        await removeVolume(engine, v.Name);
        report.volumes.push(v.Name);
      });
    }
  }
  if (owner) {
    const imgs = await engine.json<{ Id: string }[]>({ method: 'GET', path: '/images/json', query: { filters: JSON.stringify({ label: [`${Labels.owner}=${owner}`] }) } });
    for (const i of imgs) {
      await attempt(`image ${i.Id.slice(7, 19)}`, async () => {
        try {
          await engine.call({ method: 'DELETE', path: `/images/${encodeURIComponent(i.Id)}`, query: { force: true } });
          report.images.push(i.Id);
        } catch (e) {
          if (!(e instanceof EngineError && e.statusCode === 404)) throw e;
        }
      });
    }
  }
  return report;
}

export interface RunListing {
  runId: string;
  pid: string;
  liveness: Liveness;
  roles: string[];
  names: string[];
  /** the mode, from the job or daemon container label */
  mode?: string | undefined;
}

/** Runs known to the engine (from container, network and volume labels), with whether their nestling still lives. */
export async function listRuns(engine: Engine, hostname: string, procRoot = '/proc'): Promise<RunListing[]> {
  const runs = new Map<string, RunListing>();
  const note = (labels: Record<string, string> | null, name: string) => {
    const runId = labels?.[Labels.run];
    if (!runId) return;
    if (labels[Labels.role] === 'cache') return;
    const pid = labels[Labels.pid] ?? NO_PID;
    let r = runs.get(runId);
    if (!r) {
      r = { runId, pid, liveness: pidLiveness(pid, hostname, procRoot), roles: [], names: [] };
      runs.set(runId, r);
    }
    const role = labels[Labels.role];
    if (role && !r.roles.includes(role)) r.roles.push(role);
    r.names.push(name);
    if (labels[MODE_LABEL]) r.mode = labels[MODE_LABEL];
  };
  const managed = [`${Labels.managed}=true`];
  for (const c of await listContainers(engine, managed)) note(c.Labels, (c.Names[0] ?? c.Id).replace(/^\//, ''));
  for (const n of await listNetworks(engine, managed)) note(n.Labels, n.Name);
  for (const v of await listVolumes(engine, managed)) note(v.Labels, v.Name);
  return [...runs.values()];
}

/** Label with the mode of a run, on its containers (for `nestling down` and listings). */
export const MODE_LABEL = Labels.mode;
/** Label with the name given to `nestling up`. */
export const NAME_LABEL = Labels.name;

/** Reaps every run whose nestling process is dead on this host. */
export async function reapDeadRuns(engine: Engine, hostname: string, procRoot = '/proc'): Promise<ReapRunReport[]> {
  const out: ReapRunReport[] = [];
  for (const r of await listRuns(engine, hostname, procRoot)) {
    if (r.liveness !== 'dead') continue;
    out.push(await reapRun(engine, r.runId, ownerFor(r.runId)));
  }
  return out;
}

/** The guard owner of a run: what its siblings are labelled with. */
export function ownerFor(runId: string): string {
  return `nestling-run-${runId}`;
}
