/**
 * Path translation discovery: the job container's mounts say where each job path lives on the host, so a bind
 * source the job names (`-v $PWD:/src`) can be rewritten to the host path the daemon must mount.
 */
import type { Engine } from '../engine/client.js';
import { usageError } from '../util/errors.js';
import type { PathMapping } from './types.js';

interface MountInfo {
  Type?: string;
  Source?: string;
  Destination?: string;
}

/** Reads the job container's bind and volume mounts from upstream: job path (Destination) -> host path (Source). */
export async function discoverMappings(engine: Engine, jobContainer: string, signal?: AbortSignal): Promise<PathMapping[]> {
  const j = await engine.json<{ Mounts?: MountInfo[] | null }>({
    method: 'GET',
    path: `/containers/${encodeURIComponent(jobContainer)}/json`,
    signal,
  });
  const out: PathMapping[] = [];
  for (const m of j.Mounts ?? []) {
    if ((m.Type === 'bind' || m.Type === 'volume') && m.Source && m.Destination) {
      out.push({ jobPath: normalise(m.Destination), hostPath: normalise(m.Source) });
    }
  }
  return out;
}

/** Parses `--map JOB_PATH=HOST_PATH`; both sides must be absolute. */
export function parseMapping(spec: string): PathMapping {
  const i = spec.indexOf('=');
  const jobPath = i > 0 ? spec.slice(0, i) : '';
  const hostPath = i > 0 ? spec.slice(i + 1) : '';
  if (!jobPath.startsWith('/') || !hostPath.startsWith('/')) {
    throw usageError('E_GUARD_MAP', `invalid --map ${JSON.stringify(spec)}`, { hint: 'use --map /job/path=/host/path (both absolute)' });
  }
  return { jobPath: normalise(jobPath), hostPath: normalise(hostPath) };
}

/**
 * Explicit mappings first (they win over discovered ones for the same job path); then longest job path first, so
 * the most specific mapping applies.
 */
export function mergeMappings(explicit: readonly PathMapping[], discovered: readonly PathMapping[]): PathMapping[] {
  const byJob = new Map<string, PathMapping>();
  for (const m of discovered) byJob.set(m.jobPath, m);
  for (const m of explicit) byJob.set(m.jobPath, m);
  return [...byJob.values()].sort((a, b) => b.jobPath.length - a.jobPath.length);
}

/** Applies the most specific mapping to a job path (used by tests and by callers without the decider). */
export function translatePath(p: string, mappings: readonly PathMapping[]): string | undefined {
  const n = normalise(p);
  for (const m of [...mappings].sort((a, b) => b.jobPath.length - a.jobPath.length)) {
    if (n === m.jobPath) return m.hostPath;
    if (m.jobPath === '/') return normalise(`${m.hostPath}/${n}`);
    if (n.startsWith(`${m.jobPath}/`)) return normalise(m.hostPath + n.slice(m.jobPath.length));
  }
  return undefined;
}

function normalise(p: string): string {
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return `/${parts.join('/')}`;
}
