import type { Outcome } from '../../checks/model.js';
import { containerLabel, type AuditCheck } from '../context.js';

/** Privileged containers. */
export const privilegedCheck: AuditCheck = {
  id: 'privileged',
  group: 'containers',
  title: 'privileged container',
  async run(ctx) {
    const out: Outcome[] = [];
    for (const c of await ctx.read.containers()) {
      if (c.HostConfig?.Privileged !== true) continue;
      out.push({
        status: 'fail',
        severity: c.State?.Running ? 'critical' : 'high',
        subject: c.Name.replace(/^\//, ''),
        found: `${containerLabel(c)} runs --privileged`,
        why: 'every capability, every device, no seccomp or AppArmor: mounting the host disk or loading a kernel module is one command away',
        fix: 'grant only the capabilities it needs (--cap-add), or use rootless/Sysbox for nested daemons',
        details: { id: c.Id, image: c.Config?.Image },
      });
    }
    return out;
  },
};
