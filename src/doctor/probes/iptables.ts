import { iptablesFacts } from '../../host/iptables.js';
import { Facts, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** iptables legacy vs nf_tables. */
export const iptablesProbe: Probe = {
  id: 'iptables',
  group: Groups.daemon,
  title: 'iptables backend',
  provides: [Facts.iptables.name],
  async run(ctx) {
    const bin = await ctx.read.which('iptables');
    let version: string | undefined;
    if (bin) {
      const r = await ctx.exec(bin, ['--version'], { env: ctx.env, timeoutMs: 3000, signal: ctx.signal });
      if (r.code === 0) version = r.stdout || r.stderr;
    }
    const f = await iptablesFacts(ctx.host, version);
    setFact(ctx.facts, Facts.iptables, f);
    const legacy = f.legacyTables === undefined ? 'legacy tables unknown (/proc/net/ip_tables_names unreadable)' : f.legacyTables.length ? `legacy tables loaded: ${f.legacyTables.join(', ')}` : 'no legacy tables loaded';
    const found = `local iptables: ${f.binary} (${f.binarySource}); ${legacy}`;
    if (f.binary === 'nf_tables' && f.legacyTables?.length) {
      return {
        status: 'warn',
        found,
        why: 'rules already live in legacy iptables while the local binary writes nf_tables: a daemon here adds NAT rules the existing ones never see, and container networking breaks',
        fix: 'make the daemon use the same backend: update-alternatives --set iptables /usr/sbin/iptables-legacy (or set DOCKER_IPTABLES_LEGACY=1 for docker:dind images)',
        details: { ...f },
      };
    }
    return { status: 'ok', found, details: { ...f } };
  },
};
