/** Linux security modules: which are active, and the AppArmor profile or SELinux context of this process. */
import { procPath, readTrimmed, type HostRoot } from './fs.js';

export interface LsmFacts {
  /** /sys/kernel/security/lsm (often not mounted inside containers). */
  active: string[] | undefined;
  apparmorEnabled: boolean | undefined;
  selinuxEnforcing: boolean | undefined;
  /** AppArmor profile with its mode ("docker-default (enforce)", "unconfined"), or undefined. */
  apparmorProfile: string | undefined;
  /** SELinux context (system_u:system_r:container_t:s0:c1,c2), or undefined. */
  selinuxLabel: string | undefined;
}

export async function lsmFacts(h: HostRoot): Promise<LsmFacts> {
  const lsm = await readTrimmed(h, '/sys/kernel/security/lsm');
  const aa = await readTrimmed(h, '/sys/module/apparmor/parameters/enabled');
  const se = await readTrimmed(h, '/sys/fs/selinux/enforce');
  // /proc/<pid>/attr/apparmor/current is the stacking-aware file (5.8+); attr/current is shared by every LSM.
  let apparmorProfile: string | undefined;
  let selinuxLabel: string | undefined;
  const aaCur = await readTrimmed(h, procPath(h, 'attr/apparmor/current'));
  const cur = await readTrimmed(h, procPath(h, 'attr/current'));
  const label = (aaCur.ok ? aaCur.value : undefined) ?? (cur.ok ? cur.value : undefined);
  const active = lsm.ok ? lsm.value.split(',').filter(Boolean) : undefined;
  const apparmorEnabled = aa.ok ? aa.value === 'Y' : active ? active.includes('apparmor') : undefined;
  const selinuxEnforcing = se.ok ? se.value === '1' : undefined;
  if (label !== undefined) {
    const l = label.replace(/\0/g, '');
    if (/^[a-z_]+:[a-z_]+:[a-z_]+:s\d/.test(l)) selinuxLabel = l;
    else if (l) apparmorProfile = l;
  }
  return { active, apparmorEnabled, selinuxEnforcing, apparmorProfile, selinuxLabel };
}
