/** /proc/<pid>/mountinfo: parsing, lookup of the mount that holds a path, and the paths the runtime masked. */
import { procPath, readText, type HostRoot } from './fs.js';

export interface MountEntry {
  id: number;
  parent: number;
  /** major:minor */
  device: string;
  /** the path inside the mounted filesystem that is mounted here (bind mounts: the source path) */
  root: string;
  mountPoint: string;
  options: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const parts = line.split(' ');
    const sep = parts.indexOf('-', 6);
    if (sep < 0 || parts.length < sep + 3) continue;
    out.push({
      id: Number(parts[0]),
      parent: Number(parts[1]),
      device: parts[2] ?? '',
      root: unescape(parts[3] ?? ''),
      mountPoint: unescape(parts[4] ?? ''),
      options: (parts[5] ?? '').split(','),
      fsType: parts[sep + 1] ?? '',
      source: unescape(parts[sep + 2] ?? ''),
      superOptions: (parts[sep + 3] ?? '').split(','),
    });
  }
  return out;
}

export async function readMountInfo(h: HostRoot): Promise<MountEntry[]> {
  const r = await readText(h, procPath(h, 'mountinfo'));
  if (!r.ok) throw new Error(`cannot read ${procPath(h, 'mountinfo')}: ${r.error}`);
  return parseMountInfo(r.value);
}

/** The mount that holds `path` (longest mount point prefix; the later of equal mount points wins). */
export function mountFor(mounts: MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const under = mp === '/' || path === mp || path.startsWith(`${mp}/`);
    if (!under) continue;
    if (!best || mp.length >= best.mountPoint.length) best = m;
  }
  return best;
}

export function isReadOnly(m: MountEntry): boolean {
  return m.options.includes('ro');
}

/** The paths Docker, Podman and containerd mask by default (moby oci/defaults.go). */
export const DEFAULT_MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * Paths masked the way runtimes mask them (a tmpfs, or the /dev/null device node, mounted over a /proc or /sys
 * path), and /proc paths bound read-only from proc itself. cgroup mounts are not masks.
 */
export function maskedPaths(mounts: MountEntry[]): { masked: string[]; readOnly: string[] } {
  const masked = new Set<string>();
  const readOnly = new Set<string>();
  for (const m of mounts) {
    const mp = m.mountPoint;
    if (!(mp.startsWith('/proc/') || mp.startsWith('/sys/'))) continue;
    if (mp.startsWith('/sys/fs/cgroup')) continue;
    if (m.fsType === 'tmpfs' || m.root === '/null' || m.root.endsWith('/dev/null')) masked.add(mp);
    else if (m.fsType === 'proc' && isReadOnly(m)) readOnly.add(mp);
  }
  return { masked: [...masked].sort(), readOnly: [...readOnly].sort() };
}
