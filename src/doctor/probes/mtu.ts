import { defaultRouteMtu } from '../../host/net.js';
import { Facts, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** MTU of the default route: a nested daemon's bridge defaults to 1500, too big on overlay networks and VPNs. */
export const mtuProbe: Probe = {
  id: 'mtu',
  group: Groups.daemon,
  title: 'MTU of the default route',
  provides: [Facts.mtu.name],
  async run(ctx) {
    const r = await defaultRouteMtu(ctx.host);
    setFact(ctx.facts, Facts.mtu, r);
    if (r.mtu === undefined) return { status: r.iface ? 'unknown' : 'ok', found: r.reason };
    if (r.mtu < 1500) {
      return {
        status: 'warn',
        found: `${r.iface} has MTU ${r.mtu}, below Docker's default bridge MTU of 1500`,
        why: 'containers of a nested daemon send 1500-byte packets that are dropped: TLS handshakes and pulls hang',
        fix: `start the inner daemon with --mtu ${r.mtu} (nestling run --mode dind takes the outer MTU)`,
        details: { ...r },
      };
    }
    return { status: 'ok', found: `${r.iface} has MTU ${r.mtu}`, details: { ...r } };
  },
};
