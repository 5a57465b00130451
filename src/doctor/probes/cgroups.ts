import { cgroupFacts } from '../../host/cgroup.js';
import { Facts, getFact, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** cgroup v1 or v2, and whether a daemon started here could create its own cgroups (nesting). */
export const cgroupsProbe: Probe = {
  id: 'cgroups',
  group: Groups.daemon,
  title: 'cgroups',
  provides: [Facts.cgroup.name],
  async run(ctx) {
    const mounts = await ctx.read.mounts();
    const lines = await ctx.read.cgroups();
    const c = await cgroupFacts(ctx.host, mounts, lines);
    setFact(ctx.facts, Facts.cgroup, c);
    const container = await getFact(ctx.facts, Facts.container);
    const desc = `cgroup ${c.version}${c.version === 'v2' && c.controllers.length ? ` (controllers: ${c.controllers.join(' ')})` : ''}, mounted ${c.readOnly ? 'read-only' : 'read-write'}`;
    if (c.version === 'none') return { status: 'warn', found: 'no cgroup filesystem mounted at /sys/fs/cgroup', why: 'dockerd needs cgroups to run containers', fix: 'mount cgroup2 at /sys/fs/cgroup' };
    if (c.readOnly) {
      return {
        status: container?.inContainer ? 'warn' : 'ok',
        found: `${desc}: a daemon started here cannot create cgroups for its containers`,
        why: 'an inner dockerd fails to start containers (cgroup mkdir: read-only file system); this is normal in an unprivileged container',
        fix: 'run the daemon container with --privileged or its explicit equivalent (nestling run --mode dind), or use rootless/Sysbox',
        details: { ...c },
      };
    }
    if (c.version === 'v2' && c.rootHasProcesses && container?.inContainer) {
      return {
        status: 'ok',
        found: `${desc}; processes sit in the namespace root: a nested dockerd must move them to a child cgroup first (docker:dind's entrypoint does)`,
        details: { ...c },
      };
    }
    return { status: 'ok', found: `${desc}: nesting possible`, details: { ...c } };
  },
};
