/**
 * dind: a full dockerd in a container the job talks to over TLS. The daemon container is --privileged, or, where
 * the engine cannot grant --privileged (a capability missing from its bounding set: runc "unable to apply caps"),
 * the explicit equivalent (privilege.ts), and nestling says so. Containers the job starts are children of the
 * inner daemon: invisible to the host engine.
 */
import { environmentError } from '../util/errors.js';
import { loopbackReason, planInnerDaemon } from './daemon-plan.js';
import type { HostFacts } from './facts.js';
import { defaultImages } from './job-spec.js';
import { privilegedEquivalentHostConfig, withWritableCgroups } from './privilege.js';
import type { Detection, Mode, ModeContext, Plan, RunOptions } from './types.js';

export function detectDind(facts: HostFacts): Detection {
  if (facts.osType !== 'linux') return { mode: 'dind', applicable: false, reasons: [`the engine runs ${facts.osType} containers`], needs: ['a Linux engine'] };
  const remote = loopbackReason(facts);
  if (remote) return { mode: 'dind', applicable: false, reasons: [remote], needs: ['run nestling on the engine\'s machine'] };
  if (facts.rootlessEngine) {
    return { mode: 'dind', applicable: false, reasons: ['the engine is rootless: it cannot grant what a nested rootful dockerd needs'], needs: ['a rootful engine, or --mode rootless'] };
  }
  const p = facts.privilege;
  if (!p) return { mode: 'dind', applicable: true, reasons: ['not probed yet: --privileged (or its equivalent) is assumed'] };
  if (p.granted) return { mode: 'dind', applicable: true, reasons: [p.reason] };
  if (!p.caps.includes('SYS_ADMIN')) {
    return { mode: 'dind', applicable: false, reasons: [p.reason, 'CAP_SYS_ADMIN is not grantable either'], needs: ['an engine that can grant CAP_SYS_ADMIN (or --privileged)'] };
  }
  return { mode: 'dind', applicable: true, reasons: [p.reason, 'the explicit equivalent of --privileged is used instead'] };
}

export const dind: Mode = {
  name: 'dind',
  profile: {
    mode: 'dind',
    securityRisk: 'privileged-container',
    isolation: 'own daemon, images and containers; the daemon container is privileged (host root if the job reaches it unguarded)',
    relationship: 'child',
    setupCost: 'an inner dockerd start (about a second) and a cold image cache unless --cache',
  },
  detect: detectDind,
  plan(opts: RunOptions, ctx: ModeContext): Plan {
    const d = detectDind(ctx.facts);
    if (!d.applicable) throw environmentError('E_MODE_NOT_APPLICABLE', `mode dind is not applicable: ${d.reasons.join('; ')}`, { hint: d.needs?.join('; ') ?? 'run `nestling doctor`' });
    const p = ctx.facts.privilege;
    const granted = p?.granted ?? true;
    const hostConfig = granted ? { Privileged: true } : privilegedEquivalentHostConfig(p?.caps ?? []);
    const relaxed = granted
      ? [{ what: '--privileged on the daemon container', why: 'a nested dockerd needs every capability, no seccomp/AppArmor, all devices and writable cgroups' }]
      : [
          {
            what: `the explicit equivalent of --privileged on the daemon container: CapAdd ${(p?.caps ?? []).length} capabilities, seccomp=unconfined, apparmor=unconfined, label=disable, systempaths=unconfined, device rule "a *:* rwm", cgroups remounted read-write`,
            why: `${p?.reason ?? '--privileged is not available'}; a nested dockerd needs the rest`,
          },
          ...(p?.missing.length ? [{ what: `not granted: ${p.missing.map((c) => `CAP_${c}`).join(', ')}`, why: 'the engine cannot grant it; the inner daemon works without it' }] : []),
        ];
    return planInnerDaemon(opts, ctx, {
      mode: 'dind',
      image: opts.daemonImage ?? defaultImages(opts.images, ctx.dockerVersion, opts.imageRefs).dind,
      dataRoot: '/var/lib/docker',
      hostConfig: { ...hostConfig, CgroupnsMode: ctx.facts.cgroupVersion === '2' ? 'private' : undefined },
      // docker:dind and nestling/dind:local both start with dockerd-entrypoint.sh (in PATH)
      entrypoint: granted ? undefined : withWritableCgroups('dockerd-entrypoint.sh'),
      relaxed,
      warnings: [],
      notes: [granted ? 'daemon container: --privileged' : `daemon container: --privileged is not available here (${p?.reason}); used the explicit equivalent`],
      relationship: 'child',
    });
  },
};
