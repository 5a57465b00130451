import type { Outcome, Severity } from '../../checks/model.js';
import { containerLabel, type AuditCheck } from '../context.js';

const NAMESPACES: { field: 'PidMode' | 'NetworkMode' | 'IpcMode' | 'UTSMode' | 'UsernsMode'; flag: string; severity: Severity; why: string }[] = [
  { field: 'PidMode', flag: '--pid=host', severity: 'high', why: 'sees and signals every host process; with CAP_SYS_PTRACE it can enter them' },
  { field: 'NetworkMode', flag: '--network=host', severity: 'medium', why: 'binds host ports and reaches services listening on the host loopback (an unauthenticated dockerd on 127.0.0.1:2375, for one)' },
  { field: 'IpcMode', flag: '--ipc=host', severity: 'medium', why: 'reads and writes host shared memory segments' },
  { field: 'UTSMode', flag: '--uts=host', severity: 'low', why: 'can change the host name (with CAP_SYS_ADMIN)' },
  { field: 'UsernsMode', flag: '--userns=host', severity: 'low', why: 'opts out of the daemon user-namespace remapping: root inside is root outside' },
];

/** Containers sharing host namespaces. */
export const hostNamespacesCheck: AuditCheck = {
  id: 'host-namespaces',
  group: 'containers',
  title: 'host namespace',
  async run(ctx) {
    const out: Outcome[] = [];
    for (const c of await ctx.read.containers()) {
      for (const ns of NAMESPACES) {
        if (c.HostConfig?.[ns.field] !== 'host') continue;
        out.push({
          status: ns.severity === 'low' ? 'warn' : 'fail',
          severity: ns.severity,
          subject: c.Name.replace(/^\//, ''),
          found: `${containerLabel(c)} shares the host's ${ns.field.replace(/Mode$/, '').toLowerCase()} namespace (${ns.flag})`,
          why: ns.why,
          fix: `drop ${ns.flag} unless the workload truly needs it`,
          details: { id: c.Id, image: c.Config?.Image, field: `HostConfig.${ns.field}` },
        });
      }
    }
    return out;
  },
};
