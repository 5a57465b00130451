import { Facts, getFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** Capabilities needed by a daemon here, and the bounding set: a missing capability makes --privileged impossible. */
export const capabilitiesProbe: Probe = {
  id: 'capabilities',
  group: Groups.daemon,
  title: 'capability bounding set',
  async run(ctx) {
    const caps = await getFact(ctx.facts, Facts.capabilities);
    const container = await getFact(ctx.facts, Facts.container);
    if (!caps) return { status: 'unknown', found: 'capabilities unknown (see the privileges probe)' };
    const missing = caps.missingFromBounding;
    const needed = ['SYS_ADMIN', 'NET_ADMIN', 'MKNOD', 'SYS_CHROOT', 'SETUID', 'SETGID', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER'];
    const eff = new Set(caps.effective);
    const lackForDaemon = needed.filter((c) => !eff.has(c));
    const out = [];
    if (missing.length === 0) {
      out.push({ status: 'ok' as const, found: `the bounding set holds all ${caps.all.length} capabilities: --privileged can be granted from here` });
    } else {
      out.push({
        status: 'warn' as const,
        found: `the bounding set lacks ${missing.map((c) => `CAP_${c}`).join(', ')}: --privileged is impossible ${container?.inContainer ? 'inside this container' : 'for containers of an engine running here'}`,
        why: `runc asks for every capability for --privileged and fails with "unable to apply caps" when one is outside the bounding set`,
        fix: `grant the explicit equivalent instead: every capability but ${missing.join(', ')}, with seccomp=unconfined, apparmor=unconfined and systempaths=unconfined (nestling run --mode dind does this)`,
        details: { missingFromBounding: missing, bounding: caps.bounding },
      });
    }
    if (lackForDaemon.length) {
      out.push({
        status: (container?.inContainer ? 'warn' : 'ok') as 'warn' | 'ok',
        found: `this process lacks ${lackForDaemon.map((c) => `CAP_${c}`).join(', ')}: a rootful dockerd cannot run here`,
        why: 'dockerd mounts filesystems and configures networks: it needs CAP_SYS_ADMIN and CAP_NET_ADMIN at least',
        fix: 'use DooD/guarded from here, or run the daemon in its own container (nestling run --mode dind|rootless)',
        details: { lacking: lackForDaemon },
      });
    }
    return out;
  },
};
