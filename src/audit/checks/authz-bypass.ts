import type { Outcome } from '../../checks/model.js';
import type { AuditCheck } from '../context.js';

export interface KnownBypass {
  id: string;
  summary: string;
  /** true when this engine version is affected */
  affects(v: [number, number, number]): boolean;
  fixedIn: string;
}

/** Parses "20.10.24+dfsg1", "27.1.1", "v26.1.4-ce" into [major, minor, patch]. */
export function parseEngineVersion(s: string | undefined): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(s ?? '');
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

const cmp = (a: [number, number, number], b: [number, number, number]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/**
 * AuthZ plugin bypasses in moby. CVE-2024-41110 (GHSA-v23v-6jw2-98fq): a request with Content-Length 0 reaches the
 * plugin without its body; fixed in 23.0.15, 25.0.6, 26.1.5 and 27.1.1 (every earlier release, 19.03 and 20.10
 * included, is affected). CVE-2026-34040 (GHSA-x744-4wpc-v9h2): oversized bodies are not forwarded; fixed in 29.3.1.
 */
export const KNOWN_AUTHZ_BYPASSES: KnownBypass[] = [
  {
    id: 'CVE-2024-41110',
    summary: 'a crafted request reaches the authorization plugin without its body (Content-Length: 0), so body-inspecting plugins allow what they would deny',
    fixedIn: '23.0.15, 25.0.6, 26.1.5, 27.1.1',
    affects(v) {
      if (cmp(v, [27, 1, 1]) >= 0) return false;
      const fixed: Record<string, number> = { '23.0': 15, '25.0': 6, '26.1': 5 };
      const f = fixed[`${v[0]}.${v[1]}`];
      return f === undefined || v[2] < f;
    },
  },
  {
    id: 'CVE-2026-34040',
    summary: 'oversized request bodies are not forwarded to the authorization plugin, which then decides without them',
    fixedIn: '29.3.1',
    affects: (v) => cmp(v, [29, 3, 1]) < 0,
  },
];

/** Engines affected by a known AuthZ-plugin bypass when an authorization plugin is configured. */
export const authzBypassCheck: AuditCheck = {
  id: 'authz-bypass',
  group: 'engine',
  title: 'known AuthZ plugin bypass',
  async run(ctx) {
    const info = await ctx.read.info();
    const version = info.ServerVersion;
    const v = parseEngineVersion(version);
    const plugins = info.Plugins?.Authorization ?? [];
    if (!v) return { status: 'unknown', found: `the engine version ${JSON.stringify(version)} cannot be parsed` };
    const hits = KNOWN_AUTHZ_BYPASSES.filter((b) => b.affects(v));
    const distro = /\+|~|dfsg|deb|ubuntu|el\d/.test(version ?? '') ? ' (a distribution build: its maintainers may have backported the fix; check their advisory)' : '';
    const out: Outcome[] = [];
    for (const b of hits) {
      if (plugins.length) {
        out.push({
          status: 'fail',
          severity: 'critical',
          subject: `engine ${version}`,
          found: `engine ${version} with authorization plugin(s) ${plugins.join(', ')} is affected by ${b.id}${distro}`,
          why: `${b.summary}; the plugin is the only thing standing between API clients and root`,
          fix: `upgrade the engine (fixed in ${b.fixedIn}); meanwhile restrict who can reach the API`,
          details: { cve: b.id, version, plugins },
        });
      } else {
        out.push({
          status: 'ok',
          severity: 'info',
          subject: `engine ${version}`,
          found: `engine ${version} is in the range of ${b.id}, but no authorization plugin is configured, so there is nothing to bypass${distro}`,
          details: { cve: b.id, version, plugins },
        });
      }
    }
    return out;
  },
};
