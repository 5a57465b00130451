/**
 * Published host ports: below 1024 refused by default; with policy hostPorts ranges, every published host port
 * must be inside one. An empty HostPort (or "0") lets the daemon pick an ephemeral port: always allowed.
 * Each published port is a listener (a docker-proxy process, iptables rules) on the host: a container publishes at
 * most quotas.publishedPorts (default 1024) of them, counting ranges port by port and `-P` (PublishAllPorts) as
 * every exposed port of the request and the image.
 */
import { asArray, asObject, asString, type GoObject } from '../go-json.js';
import { denied } from '../ownership.js';
import type { Denial } from '../match.js';
import type { EffectivePolicy, RouteDef } from '../types.js';

function portAllowed(p: number, policy: EffectivePolicy): boolean {
  if (policy.hostPorts.length === 0) return p >= 1024 && p <= 65535;
  return policy.hostPorts.some((r) => p >= r.from && p <= r.to);
}

export const DEFAULT_MAX_PUBLISHED_PORTS = 1024;

export function maxPublishedPorts(policy: EffectivePolicy): number {
  return policy.quotas.publishedPorts ?? DEFAULT_MAX_PUBLISHED_PORTS;
}

/** Refuses more published host ports than the quota (the daemon starts a listener for each). */
export function checkPublishedCount(n: number, field: string, policy: EffectivePolicy, route: RouteDef): Denial | undefined {
  const max = maxPublishedPorts(policy);
  if (n > max) return denied('quota', field, `${n} host ports (at most ${max} per container: quotas.publishedPorts)`, route);
  return undefined;
}

/** Host listeners the PortBindings ask for: one per binding, a range port by port (valid bindings only). */
export function countBindings(hc: GoObject): number {
  let n = 0;
  for (const bindings of Object.values(asObject(hc.PortBindings) ?? {})) {
    for (const b of asArray(bindings)) {
      const m = /^(\d+)-(\d+)$/.exec(asString(asObject(b)?.HostPort).trim());
      n += m ? Math.max(Number(m[2]) - Number(m[1]), 0) + 1 : 1;
    }
  }
  return n;
}

export function checkHostPorts(hc: GoObject, policy: EffectivePolicy, route: RouteDef): Denial | undefined {
  const pb = asObject(hc.PortBindings);
  if (!pb) return undefined;
  let count = 0;
  for (const [cport, bindings] of Object.entries(pb)) {
    for (const b of asArray(bindings)) {
      const hp = asString(asObject(b)?.HostPort).trim();
      count++;
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
      count += to - from;
    }
  }
  return checkPublishedCount(count, 'HostConfig.PortBindings', policy, route);
}
