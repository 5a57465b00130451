/**
 * Bind-source translation: a job sees its workspace at JOB_PATH, the host has it at HOST_PATH (`--map`, or
 * discovered from the job container's mounts). `docker run -v $PWD:/src` inside the job names a job path; the
 * daemon resolves bind sources on the host, so the guard rewrites the source before checking it.
 */
import { goPathClean } from './match.js';
import type { PathMapping } from './types.js';

/** True when p is `dir` itself or below it (segment-wise, both clean absolute paths). */
export function isPathWithin(p: string, dir: string): boolean {
  if (dir === '/') return p.startsWith('/');
  return p === dir || p.startsWith(dir + '/');
}

/** Cleans an absolute path lexically (`..`, `//`, `.`, trailing `/`), as Go's path.Clean. */
export function cleanHostPath(p: string): string {
  return goPathClean(p);
}

/**
 * Maps a clean absolute job path to the host path through the longest matching mapping (segment boundaries only).
 * Returns the path unchanged when no mapping applies.
 */
export function mapJobPath(p: string, mappings: readonly PathMapping[]): { path: string; mapping: PathMapping | undefined } {
  let best: PathMapping | undefined;
  let bestLen = -1;
  for (const m of mappings) {
    const jp = cleanHostPath(m.jobPath);
    if (isPathWithin(p, jp) && jp.length > bestLen) {
      best = m;
      bestLen = jp.length;
    }
  }
  if (!best) return { path: p, mapping: undefined };
  const jp = cleanHostPath(best.jobPath);
  const rest = jp === '/' ? p.slice(1) : p.slice(jp.length + 1);
  const hp = cleanHostPath(best.hostPath);
  return { path: rest ? cleanHostPath(`${hp}/${rest}`) : hp, mapping: best };
}
