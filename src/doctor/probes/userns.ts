import { userNamespaceFacts } from '../../host/userns.js';
import type { Outcome } from '../../checks/model.js';
import { Facts, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** User namespaces: rootless daemons (and Sysbox) need to create them. */
export const usernsProbe: Probe = {
  id: 'userns',
  group: Groups.daemon,
  title: 'user namespaces',
  provides: [Facts.userns.name],
  async run(ctx) {
    const u = await userNamespaceFacts(ctx.host);
    setFact(ctx.facts, Facts.userns, u);
    const where = u.inUserNamespace === undefined ? 'uid_map unreadable' : u.inUserNamespace ? `inside a user namespace (uid_map ${u.uidMap?.map((m) => `${m.inside} ${m.outside} ${m.count}`).join('; ')})` : 'in the initial user namespace';
    const parts = [where];
    const problems: Outcome[] = [];
    const max = u.maxUserNamespaces;
    if (max.ok) {
      parts.push(`user.max_user_namespaces=${max.value}`);
      if (max.value === 0) {
        problems.push({
          status: 'warn',
          found: 'user.max_user_namespaces=0: no user namespace can be created',
          why: 'rootless dockerd (rootlesskit) and Sysbox need user namespaces',
          fix: 'sysctl -w user.max_user_namespaces=15000 on the host',
        });
      }
    } else parts.push(`user.max_user_namespaces unreadable (${max.code})`);
    const clone = u.unprivilegedUsernsClone;
    if (clone.ok) {
      parts.push(`kernel.unprivileged_userns_clone=${clone.value}`);
      if (clone.value === 0) {
        problems.push({
          status: 'warn',
          found: 'kernel.unprivileged_userns_clone=0: unprivileged users cannot create user namespaces',
          why: 'rootless dockerd runs as an unprivileged user and fails with "operation not permitted"',
          fix: 'sysctl -w kernel.unprivileged_userns_clone=1 on the host',
        });
      }
    } else if (clone.code !== 'ENOENT') parts.push(`kernel.unprivileged_userns_clone unreadable (${clone.code})`);
    const aa = u.apparmorRestrictUnprivilegedUserns;
    if (aa.ok) {
      parts.push(`kernel.apparmor_restrict_unprivileged_userns=${aa.value}`);
      if (aa.value === 1) {
        problems.push({
          status: 'warn',
          found: 'kernel.apparmor_restrict_unprivileged_userns=1: AppArmor restricts unprivileged user namespaces',
          why: 'rootlesskit gets "permission denied" creating its namespace unless an AppArmor profile allows userns',
          fix: 'add an AppArmor profile granting "userns," to rootlesskit, or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0',
        });
      }
    }
    if (problems.length) return problems.map((p) => ({ ...p, found: `${p.found} (${parts.join(', ')})` }));
    return { status: 'ok', found: `${parts.join(', ')}: user namespaces can be created`, details: { ...u } };
  },
};
