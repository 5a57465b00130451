/**
 * Published host ports: below 1024 refused by default; with policy hostPorts ranges, every published host port
 * must be inside one. An empty HostPort (or "0") lets the daemon pick an ephemeral port: always allowed.
 */
import { asArray, asObject, asString, type GoObject } from '../go-json.js';
import { denied } from '../ownership.js';
import type { Denial } from '../match.js';
import type { EffectivePolicy, RouteDef } from '../types.js';

function portAllowed(p: number, policy: EffectivePolicy): boolean {
  if (policy.hostPorts.length === 0) return p >= 1024 && p <= 65535;
  return policy.hostPorts.some((r) => p >= r.from && p <= r.to);
}

export function checkHostPorts(hc: GoObject, policy: EffectivePolicy, route: RouteDef): Denial | undefined {
  const pb = asObject(hc.PortBindings);
  if (!pb) return undefined;
  for (const [cport, bindings] of Object.entries(pb)) {
    for (const b of asArray(bindings)) {
      const hp = asString(asObject(b)?.HostPort).trim();
      if (hp === '' || hp === '0') continue;
      const m = /^(\d+)(?:-(\d+))?$/.exec(hp);
      const field = `HostConfig.PortBindings.${cport}.HostPort`;
      if (!m) return denied('host-port', field, hp, route);
      const from = Number(m[1]);
      const to = m[2] !== undefined ? Number(m[2]) : from;
      if (from === 0 && to === 0) continue;
      if (to < from) return denied('host-port', field, hp, route);
      // a range is allowed when its ends are, with no gap between policy ranges (checked per port, bounded)
      if (to - from > 65535) return denied('host-port', field, hp, route);
      for (let p = from; p <= to; p++) if (!portAllowed(p, policy)) return denied('host-port', field, hp, route);
    }
  }
  return undefined;
}
