import { Facts, getFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** AppArmor / SELinux confinement that blocks a nested daemon. */
export const lsmProbe: Probe = {
  id: 'lsm',
  group: Groups.daemon,
  title: 'security modules',
  async run(ctx) {
    const l = await getFact(ctx.facts, Facts.lsm);
    if (!l) return { status: 'unknown', found: 'LSM facts unknown (see the privileges probe)' };
    const active = l.active ? `active LSMs: ${l.active.join(', ')}` : `AppArmor ${l.apparmorEnabled === undefined ? 'unknown' : l.apparmorEnabled ? 'enabled' : 'disabled'}, SELinux ${l.selinuxEnforcing === undefined ? 'not present' : l.selinuxEnforcing ? 'enforcing' : 'permissive'}`;
    const out = [];
    if (l.apparmorProfile && /\(enforce\)/.test(l.apparmorProfile) && !/unconfined/.test(l.apparmorProfile)) {
      out.push({
        status: 'warn' as const,
        found: `${active}; this process is confined by AppArmor profile ${l.apparmorProfile}`,
        why: "docker-default denies mount(2) and writes to /proc/sys: a daemon started here cannot set up its containers",
        fix: 'run the daemon container with --security-opt apparmor=unconfined (nestling dind and rootless modes do)',
      });
    }
    if (l.selinuxLabel && /container_t/.test(l.selinuxLabel) && l.selinuxEnforcing) {
      out.push({
        status: 'warn' as const,
        found: `${active}; SELinux confines this process as ${l.selinuxLabel}`,
        why: 'container_t may not mount filesystems or relabel: a nested daemon fails',
        fix: 'use --security-opt label=disable for the daemon container, or the container_engine_t type (udica)',
      });
    }
    if (out.length) return out;
    return { status: 'ok', found: `${active}; no confinement that blocks a nested daemon${l.apparmorProfile ? ` (AppArmor: ${l.apparmorProfile})` : ''}` };
  },
};
