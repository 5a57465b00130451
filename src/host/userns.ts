/** User namespaces: whether this process is in one, and whether new ones may be created (rootless daemons need it). */
import { procPath, readText, readTrimmed, type HostRoot, type Read } from './fs.js';

export interface IdMapLine {
  inside: number;
  outside: number;
  count: number;
}

export function parseIdMap(text: string): IdMapLine[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((a) => a.length === 3 && a.every((n) => Number.isFinite(n)))
    .map(([inside, outside, count]) => ({ inside: inside!, outside: outside!, count: count! }));
}

/** The initial user namespace maps 0..2^32-1 onto itself. */
export function isInitialUserNamespace(map: IdMapLine[]): boolean {
  return map.length === 1 && map[0]!.inside === 0 && map[0]!.outside === 0 && map[0]!.count === 4294967295;
}

export interface UserNamespaceFacts {
  uidMap: IdMapLine[] | undefined;
  /** false: the initial namespace; true: inside a user namespace (rootless engine, userns-remap, Sysbox). */
  inUserNamespace: boolean | undefined;
  maxUserNamespaces: Read<number>;
  /** Debian/Ubuntu knob; absent (ENOENT) on kernels without the patch, which means allowed. */
  unprivilegedUsernsClone: Read<number>;
  /** Ubuntu 23.10+: AppArmor restricts unprivileged user namespaces. */
  apparmorRestrictUnprivilegedUserns: Read<number>;
}

async function readInt(h: HostRoot, p: string): Promise<Read<number>> {
  const r = await readTrimmed(h, p);
  if (!r.ok) return r;
  if (!/^-?\d+$/.test(r.value)) return { ok: false, code: 'EPARSE', error: `${p} holds ${JSON.stringify(r.value.slice(0, 40))}, not a number` };
  return { ok: true, value: Number(r.value) };
}

export async function userNamespaceFacts(h: HostRoot): Promise<UserNamespaceFacts> {
  const m = await readText(h, procPath(h, 'uid_map'));
  const uidMap = m.ok ? parseIdMap(m.value) : undefined;
  return {
    uidMap,
    inUserNamespace: uidMap ? !isInitialUserNamespace(uidMap) : undefined,
    maxUserNamespaces: await readInt(h, '/proc/sys/user/max_user_namespaces'),
    unprivilegedUsernsClone: await readInt(h, '/proc/sys/kernel/unprivileged_userns_clone'),
    apparmorRestrictUnprivilegedUserns: await readInt(h, '/proc/sys/kernel/apparmor_restrict_unprivileged_userns'),
  };
}
