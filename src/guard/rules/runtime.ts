/** Runtime, cgroup parent, sysctls and log driver rules on a HostConfig. */
import { asObject, asString, type GoObject } from '../go-json.js';
import { denied } from '../ownership.js';
import type { Denial } from '../match.js';
import type { EffectivePolicy, RouteDef } from '../types.js';

export const DEFAULT_RUNTIMES: ReadonlySet<string> = new Set(['', 'runc', 'io.containerd.runc.v2']);

export function checkRuntime(hc: GoObject, policy: EffectivePolicy, route: RouteDef): Denial | undefined {
  const r = asString(hc.Runtime);
  if (DEFAULT_RUNTIMES.has(r) || policy.allowRuntimes.includes(r)) return undefined;
  return denied('runtime', 'HostConfig.Runtime', r, route);
}

/** CgroupParent may only be the forced default; with one set, it is applied. */
export function applyCgroupParent(hc: GoObject, policy: EffectivePolicy, route: RouteDef, field = 'HostConfig.CgroupParent'): Denial | undefined {
  const v = asString(hc.CgroupParent);
  const forced = policy.defaults.cgroupParent;
  if (v !== '' && v !== forced) return denied('cgroup-parent', field, v, route);
  if (forced) hc.CgroupParent = forced;
  return undefined;
}

/**
 * Namespaced sysctls Docker itself accepts (moby's runconfig/opts ValidateSysctl): net.* in a private network
 * namespace, and the IPC-namespaced kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall,
 * kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.* in a private IPC namespace. Host namespaces are
 * refused separately, so these can only touch the container's own namespaces.
 */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

export function isNamespacedSysctl(k: string): boolean {
  return (k.startsWith('net.') && k.length > 4) || IPC_SYSCTLS.has(k) || (k.startsWith('fs.mqueue.') && k.length > 10);
}

export function checkSysctls(hc: GoObject, route: RouteDef): Denial | undefined {
  const s = asObject(hc.Sysctls);
  if (!s) return undefined;
  for (const k of Object.keys(s)) {
    if (!isNamespacedSysctl(k)) return denied('sysctl', `HostConfig.Sysctls.${k}`, s[k], route);
  }
  return undefined;
}

/** Log drivers that write to the daemon's own files only; others reach the network or the host's journal. */
export const LOG_DRIVERS: ReadonlySet<string> = new Set(['', 'json-file', 'local', 'none']);

export function checkLogDriver(hc: GoObject, route: RouteDef): Denial | undefined {
  const lc = asObject(hc.LogConfig);
  const t = asString(lc?.Type);
  if (LOG_DRIVERS.has(t)) return undefined;
  return denied('log-driver', 'HostConfig.LogConfig.Type', t, route);
}
