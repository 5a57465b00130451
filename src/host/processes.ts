/** Processes visible in /proc: command lines (bounded), and which process owns a socket inode. */
import { listDir, readBinary, readLink, type HostRoot } from './fs.js';

export interface ProcessInfo {
  pid: number;
  argv: string[];
}

/** Lists processes whose argv[0] basename matches `name` (at most `limit` processes scanned). */
export async function findProcesses(h: HostRoot, match: (argv: string[]) => boolean, limit = 4096): Promise<ProcessInfo[]> {
  const d = await listDir(h, '/proc');
  if (!d.ok) return [];
  const out: ProcessInfo[] = [];
  let n = 0;
  for (const e of d.value) {
    if (!/^\d+$/.test(e)) continue;
    if (++n > limit) break;
    const c = await readBinary(h, `/proc/${e}/cmdline`);
    if (!c.ok || c.value.length === 0) continue;
    const argv = c.value.toString('utf8').replace(/\0$/, '').split('\0');
    if (match(argv)) out.push({ pid: Number(e), argv });
  }
  return out;
}

/** Socket inodes held open by a process (/proc/<pid>/fd/* -> socket:[inode]); bounded. */
export async function socketInodes(h: HostRoot, pid: number, limit = 4096): Promise<Set<number>> {
  const out = new Set<number>();
  const d = await listDir(h, `/proc/${pid}/fd`);
  if (!d.ok) return out;
  for (const fd of d.value.slice(0, limit)) {
    const l = await readLink(h, `/proc/${pid}/fd/${fd}`);
    const m = l.ok ? /^socket:\[(\d+)\]$/.exec(l.value) : null;
    if (m?.[1]) out.add(Number(m[1]));
  }
  return out;
}

export function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}
