/** Facts about one process from /proc/<pid>/status and friends: ids, capabilities, seccomp, no_new_privs. */
import { allCaps, decodeCapMask } from './caps.js';
import { procPath, readText, readTrimmed, type HostRoot } from './fs.js';

export interface ProcessStatus {
  uid: number;
  gid: number;
  groups: number[];
  capEff: string[];
  capBnd: string[];
  capPrm: string[];
  capAmb: string[];
  /** 0 disabled, 1 strict, 2 filter */
  seccomp: number | undefined;
  noNewPrivs: boolean | undefined;
}

export function parseStatus(text: string): ProcessStatus {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const ids = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean).map(Number);
  const caps = (k: string) => {
    const v = fields.get(k);
    return v === undefined ? [] : decodeCapMask(v);
  };
  const num = (k: string) => {
    const v = fields.get(k);
    return v === undefined || !/^\d+$/.test(v) ? undefined : Number(v);
  };
  const uid = ids('Uid')[1];
  const gid = ids('Gid')[1];
  if (uid === undefined || gid === undefined) throw new Error('no Uid/Gid lines in status');
  const nnp = num('NoNewPrivs');
  return {
    uid,
    gid,
    groups: ids('Groups'),
    capEff: caps('CapEff'),
    capBnd: caps('CapBnd'),
    capPrm: caps('CapPrm'),
    capAmb: caps('CapAmb'),
    seccomp: num('Seccomp'),
    noNewPrivs: nnp === undefined ? undefined : nnp === 1,
  };
}

export async function readProcessStatus(h: HostRoot): Promise<ProcessStatus> {
  const r = await readText(h, procPath(h, 'status'));
  if (!r.ok) throw new Error(`cannot read ${procPath(h, 'status')}: ${r.error}`);
  return parseStatus(r.value);
}

/** cap_last_cap, or the highest capability this build knows when the file cannot be read. */
export async function readLastCap(h: HostRoot): Promise<{ lastCap: number; source: string }> {
  const r = await readTrimmed(h, '/proc/sys/kernel/cap_last_cap');
  if (r.ok && /^\d+$/.test(r.value)) return { lastCap: Number(r.value), source: '/proc/sys/kernel/cap_last_cap' };
  return { lastCap: 40, source: `assumed 40 (${r.ok ? 'unparsable cap_last_cap' : r.error})` };
}

export interface CapabilityFacts {
  effective: string[];
  bounding: string[];
  /** Capabilities the kernel knows that the bounding set lacks: the container runtime cannot grant them. */
  missingFromBounding: string[];
  /** The kernel's full set. */
  all: string[];
}

export function capabilityFacts(st: ProcessStatus, lastCap: number): CapabilityFacts {
  const all = allCaps(lastCap);
  const bnd = new Set(st.capBnd);
  return { effective: st.capEff, bounding: st.capBnd, all, missingFromBounding: all.filter((c) => !bnd.has(c)) };
}
