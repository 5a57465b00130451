/**
 * sysbox: the dind image under the sysbox-runc runtime, which gives the container a user namespace, a virtualised
 * /proc and /sys and nested-container support without --privileged. Detected in `docker info` Runtimes; without
 * it, a clear error (exit 3) that says what the host needs. Sysbox cannot be installed on the machines nestling is
 * developed on: the plan and the error path are tested, a real run is not (docs/modes.md says so).
 */
import { environmentError } from '../util/errors.js';
import { loopbackReason, planInnerDaemon } from './daemon-plan.js';
import type { HostFacts } from './facts.js';
import { defaultImages } from './job-spec.js';
import type { Detection, Mode, ModeContext, Plan, RunOptions } from './types.js';

export const SYSBOX_RUNTIME = 'sysbox-runc';
export const SYSBOX_NEEDS = [
  'Sysbox installed on the host (https://github.com/nestybox/sysbox: the sysbox-ce package, which registers the sysbox-runc runtime in /etc/docker/daemon.json and restarts dockerd)',
  'a kernel >= 5.12 with shiftfs or idmapped mounts',
  'a rootful engine that lists sysbox-runc under `docker info` Runtimes',
];

export function detectSysbox(facts: HostFacts): Detection {
  const remote = loopbackReason(facts);
  if (remote) return { mode: 'sysbox', applicable: false, reasons: [remote], needs: ['run nestling on the engine\'s machine'] };
  if (!facts.runtimes.includes(SYSBOX_RUNTIME)) {
    return {
      mode: 'sysbox',
      applicable: false,
      reasons: [`the engine has no ${SYSBOX_RUNTIME} runtime (docker info Runtimes: ${facts.runtimes.join(', ') || 'none'})`],
      needs: SYSBOX_NEEDS,
      code: 'E_MODE_SYSBOX_MISSING',
    };
  }
  return { mode: 'sysbox', applicable: true, reasons: [`the engine lists the ${SYSBOX_RUNTIME} runtime`] };
}

export const sysbox: Mode = {
  name: 'sysbox',
  profile: {
    mode: 'sysbox',
    securityRisk: 'vm-like',
    isolation: 'own daemon in a sysbox system container: user namespace, virtualised /proc and /sys, no --privileged',
    relationship: 'child',
    setupCost: 'an inner dockerd start, as dind; needs Sysbox installed on the host',
  },
  detect: detectSysbox,
  plan(opts: RunOptions, ctx: ModeContext): Plan {
    const d = detectSysbox(ctx.facts);
    if (!d.applicable) {
      throw environmentError('E_MODE_SYSBOX_MISSING', `mode sysbox is not available: ${d.reasons.join('; ')}`, {
        hint: `the host needs ${SYSBOX_NEEDS[0]}; or use --mode rootless / --mode dind --guard`,
        details: { detection: d },
      });
    }
    return planInnerDaemon(opts, ctx, {
      mode: 'sysbox',
      image: opts.daemonImage ?? defaultImages(opts.images, ctx.dockerVersion, opts.imageRefs).dind,
      dataRoot: '/var/lib/docker',
      hostConfig: { Runtime: SYSBOX_RUNTIME },
      relaxed: [{ what: `runtime ${SYSBOX_RUNTIME}`, why: 'Sysbox runs the inner dockerd without --privileged in a user-namespaced system container' }],
      warnings: [],
      notes: ['no --privileged, no added capability: Sysbox virtualises what the inner daemon needs'],
      relationship: 'child',
    });
  },
};
