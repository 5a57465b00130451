import type { Outcome, Severity } from '../../checks/model.js';
import { containerLabel, type AuditCheck } from '../context.js';

const SENSITIVE: [RegExp, Severity, string][] = [
  [/^\/$/, 'critical', 'the whole host filesystem'],
  [/^\/(etc|root|boot)(\/|$)/, 'high', 'host configuration, credentials or boot files'],
  [/^\/(proc|sys)(\/|$)/, 'high', 'host kernel interfaces'],
  [/^\/var\/lib\/(docker|containerd|kubelet)(\/|$)/, 'high', 'the engine state (other containers, their secrets)'],
  [/^\/dev(\/|$)/, 'high', 'host devices'],
  [/^\/home(\/|$)/, 'medium', 'user homes (SSH keys, tokens)'],
];

/** Bind mounts of sensitive host paths. */
export const hostMountsCheck: AuditCheck = {
  id: 'host-mounts',
  group: 'containers',
  title: 'sensitive host path mounted',
  async run(ctx) {
    const out: Outcome[] = [];
    for (const c of await ctx.read.containers()) {
      for (const m of c.Mounts ?? []) {
        if (m.Type !== 'bind') continue;
        const src = m.Source ?? '';
        if (/\.sock$/.test(src)) continue; // socket-mount reports sockets
        const hit = SENSITIVE.find(([re]) => re.test(src));
        if (!hit) continue;
        const [, sev, what] = hit;
        const severity: Severity = m.RW === false && sev !== 'critical' ? (sev === 'high' ? 'medium' : 'low') : sev;
        out.push({
          status: severity === 'low' ? 'warn' : 'fail',
          severity,
          subject: c.Name.replace(/^\//, ''),
          found: `${containerLabel(c)} mounts host ${src} at ${m.Destination ?? '?'}${m.RW === false ? ' read-only' : ' read-write'}`,
          why: `exposes ${what}`,
          fix: 'mount only the directory the workload needs, read-only where possible',
          details: { id: c.Id, source: src, destination: m.Destination, rw: m.RW },
        });
      }
    }
    return out;
  },
};
