/** Privilege rules on a container's HostConfig: Privileged, CapAdd, SecurityOpt, masked paths, OOM score. */
import { asArray, asString, type GoObject } from '../go-json.js';
import { denied } from '../ownership.js';
import type { Denial } from '../match.js';
import type { RouteDef } from '../types.js';

/** Docker's default capability set (moby oci/caps/defaults.go). Adding one of these changes nothing. */
export const DEFAULT_CAPS: ReadonlySet<string> = new Set([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/** Go's strings.ToUpper for the runes that matter (single-rune upper-casing only, as unicode.ToUpper). */
function goToUpper(s: string): string {
  let out = '';
  for (const ch of s) {
    const u = ch.toUpperCase();
    out += [...u].length === 1 ? u : ch;
  }
  return out;
}

/** The daemon's normalisation of a capability name (moby oci/caps: upper-case, `CAP_` prefix added; ALL stays). */
export function normalizeCap(c: string): string {
  const u = goToUpper(c);
  if (u === 'ALL') return 'ALL';
  return u.startsWith('CAP_') ? u : `CAP_${u}`;
}

export function checkPrivileged(hc: GoObject, route: RouteDef, prefix = 'HostConfig.'): Denial | undefined {
  if (hc.Privileged === true) return denied('no-privileged', `${prefix}Privileged`, true, route);
  return undefined;
}

export function checkCaps(hc: GoObject, allowCaps: readonly string[], route: RouteDef): Denial | undefined {
  const allowed = new Set(allowCaps.map(normalizeCap));
  for (const field of ['CapAdd', 'Capabilities'] as const) {
    for (const c of asArray(hc[field])) {
      const raw = asString(c);
      if (raw === '') continue;
      const n = normalizeCap(raw);
      if (field === 'CapAdd' && DEFAULT_CAPS.has(n)) continue;
      if (field === 'Capabilities' && DEFAULT_CAPS.has(n)) continue;
      if (allowed.has(n) || allowed.has('ALL')) continue;
      return denied('cap-add', `HostConfig.${field}`, raw, route);
    }
  }
  return undefined;
}

/**
 * SecurityOpt as the daemon parses it (daemon/create parseSecurityOpt): `no-new-privileges` and `disable` alone,
 * else `key=value` or, when there is no `=`, the deprecated `key:value`. Only tightening options pass:
 * no-new-privileges (true), apparmor=docker-default, seccomp=builtin. Everything else relaxes or is unknown.
 */
export function checkSecurityOpts(opts: readonly string[], field: string, route: RouteDef): Denial | undefined {
  for (const opt of opts) {
    if (opt === 'no-new-privileges') continue;
    let key: string;
    let value: string;
    const eq = opt.indexOf('=');
    const colon = opt.indexOf(':');
    if (eq >= 0) {
      key = opt.slice(0, eq);
      value = opt.slice(eq + 1);
    } else if (colon >= 0) {
      key = opt.slice(0, colon);
      value = opt.slice(colon + 1);
    } else {
      return denied('security-opt', field, opt, route);
    }
    const ok =
      (key === 'no-new-privileges' && ['true', '1', 't', 'T', 'TRUE', 'True'].includes(value)) ||
      (key === 'apparmor' && value === 'docker-default') ||
      (key === 'seccomp' && value === 'builtin');
    if (!ok) return denied('security-opt', field, opt, route);
  }
  return undefined;
}

export function checkMaskedPaths(hc: GoObject, route: RouteDef): Denial | undefined {
  for (const f of ['MaskedPaths', 'ReadonlyPaths'] as const) {
    if (f in hc && hc[f] !== null) return denied('masked-paths', `HostConfig.${f}`, JSON.stringify(asArray(hc[f])), route);
  }
  return undefined;
}

export function checkOomScoreAdj(hc: GoObject, route: RouteDef): Denial | undefined {
  const v = hc.OomScoreAdj;
  if (typeof v === 'bigint' && v < 0n) return denied('oom-score-adj', 'HostConfig.OomScoreAdj', v.toString(), route);
  return undefined;
}
