import { containerFacts } from '../../host/container.js';
import { Facts, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** In a container or not, and which runtime or orchestrator made it. */
export const containerProbe: Probe = {
  id: 'container',
  group: Groups.where,
  title: 'container',
  provides: [Facts.container.name],
  async run(ctx) {
    const cgroups = await ctx.read.cgroups().catch(() => undefined);
    const mounts = await ctx.read.mounts().catch(() => undefined);
    const c = await containerFacts(ctx.host, ctx.env, cgroups, mounts);
    setFact(ctx.facts, Facts.container, c);
    const unread = [cgroups ? '' : '/proc/self/cgroup', mounts ? '' : '/proc/self/mountinfo'].filter(Boolean);
    const found = c.inContainer
      ? `in a container (${c.runtime}${c.containerId ? ` ${c.containerId.slice(0, 12)}` : ''}${c.kubernetes ? ', Kubernetes pod' : ''}): ${c.evidence.join('; ')}`
      : 'not in a container: no /.dockerenv, /run/.containerenv, container cgroup path, or Kubernetes service account';
    return {
      status: 'ok',
      found: unread.length ? `${found} (could not read ${unread.join(', ')})` : found,
      details: { ...c },
    };
  },
};
