/** cgroups: which version is mounted, where this process sits, whether a nested daemon could manage cgroups. */
import { hostPath, procPath, readText, type HostRoot } from './fs.js';
import { access, constants } from 'node:fs/promises';
import { isReadOnly, type MountEntry } from './mountinfo.js';

export interface CgroupLine {
  hierarchy: string;
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): CgroupLine[] {
  const out: CgroupLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    if (a < 0 || b < 0) continue;
    const ctl = line.slice(a + 1, b);
    out.push({ hierarchy: line.slice(0, a), controllers: ctl ? ctl.split(',') : [], path: line.slice(b + 1) });
  }
  return out;
}

export async function readProcCgroup(h: HostRoot): Promise<CgroupLine[]> {
  const r = await readText(h, procPath(h, 'cgroup'));
  if (!r.ok) throw new Error(`cannot read ${procPath(h, 'cgroup')}: ${r.error}`);
  return parseProcCgroup(r.value);
}

export type CgroupVersion = 'v1' | 'v2' | 'hybrid' | 'none';

export interface CgroupFacts {
  version: CgroupVersion;
  /** cgroup paths of this process, per hierarchy */
  paths: string[];
  /** cgroup mounts under /sys/fs/cgroup */
  mounts: { mountPoint: string; fsType: string; readOnly: boolean }[];
  /** All cgroup mounts are read-only for us (a default container): a nested daemon cannot create cgroups. */
  readOnly: boolean;
  /** v2: the cgroup root here is writable (we could create child cgroups). */
  writable: boolean;
  /** v2 only: controllers enabled at our root. */
  controllers: string[];
  /** v2 namespaced root with processes in it: a nested daemon must first move them to a child (dind's entrypoint does). */
  rootHasProcesses: boolean | undefined;
}

export function cgroupVersionFromMounts(mounts: MountEntry[]): CgroupVersion {
  const cg = mounts.filter((m) => m.mountPoint === '/sys/fs/cgroup' || m.mountPoint.startsWith('/sys/fs/cgroup/'));
  const v2 = cg.some((m) => m.fsType === 'cgroup2');
  const v1 = cg.some((m) => m.fsType === 'cgroup');
  if (v1 && v2) return 'hybrid';
  if (v2) return 'v2';
  if (v1) return 'v1';
  return 'none';
}

export async function cgroupFacts(h: HostRoot, mounts: MountEntry[], lines: CgroupLine[]): Promise<CgroupFacts> {
  const version = cgroupVersionFromMounts(mounts);
  const cg = mounts.filter((m) => (m.fsType === 'cgroup' || m.fsType === 'cgroup2') && m.mountPoint.startsWith('/sys/fs/cgroup'));
  const readOnly = cg.length > 0 && cg.every(isReadOnly);
  let writable = false;
  let controllers: string[] = [];
  let rootHasProcesses: boolean | undefined;
  if (version === 'v2') {
    const c = await readText(h, '/sys/fs/cgroup/cgroup.controllers');
    if (c.ok) controllers = c.value.trim().split(/\s+/).filter(Boolean);
    const p = await readText(h, '/sys/fs/cgroup/cgroup.procs');
    if (p.ok) rootHasProcesses = p.value.trim().length > 0;
    try {
      await access(hostPath(h, '/sys/fs/cgroup'), constants.W_OK);
      writable = !readOnly;
    } catch {
      writable = false;
    }
  } else if (version === 'v1' || version === 'hybrid') writable = !readOnly;
  return {
    version,
    paths: [...new Set(lines.map((l) => l.path))],
    mounts: cg.map((m) => ({ mountPoint: m.mountPoint, fsType: m.fsType, readOnly: isReadOnly(m) })),
    readOnly,
    writable,
    controllers,
    rootHasProcesses,
  };
}

/** Container runtimes leave their mark in cgroup paths. */
export function containerHintFromCgroup(paths: string[]): { runtime: string; id?: string } | undefined {
  for (const p of paths) {
    let m = /\/docker[-/]([0-9a-f]{12,64})(?:\.scope)?/.exec(p);
    if (m?.[1]) return { runtime: 'docker', id: m[1] };
    m = /libpod-(?:conmon-)?([0-9a-f]{12,64})/.exec(p);
    if (m?.[1]) return { runtime: 'podman', id: m[1] };
    if (/\/kubepods/.test(p)) {
      const id = /(?:cri-containerd-|crio-|docker-)?([0-9a-f]{64})/.exec(p)?.[1];
      return id ? { runtime: 'kubernetes', id } : { runtime: 'kubernetes' };
    }
    m = /\/lxc(?:\.payload)?[./]([^/]+)/.exec(p);
    if (m?.[1]) return { runtime: 'lxc', id: m[1] };
    if (/\/actions_job\//.test(p)) return { runtime: 'github-actions' };
  }
  return undefined;
}
