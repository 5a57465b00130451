/**
 * rootless: a rootless dockerd (rootlesskit, slirp4netns, subuid/subgid) inside the container, with NO added
 * capability and no --privileged. What it needs relaxed, and nothing else:
 *   - seccomp=unconfined and apparmor=unconfined, each only where the engine applies that module: the default
 *     profiles block the unshare/mount calls rootlesskit makes to build its user namespace;
 *   - systempaths=unconfined (MaskedPaths/ReadonlyPaths empty): rootlesskit mounts a fresh /proc, which the kernel
 *     refuses while parts of /proc are masked by over-mounts;
 *   - /dev/net/tun: slirp4netns gives the daemon its network through a tap device;
 *   - a volume at the daemon's data root (~rootless/.local/share/docker): overlay on overlay fails.
 * The container starts as uid 0 with Docker's default capabilities only so the entrypoint can hand /dev/net/tun
 * and the data root to the rootless user (and remap its uid/gid); it then drops every privilege (setpriv).
 */
import { environmentError } from '../util/errors.js';
import { loopbackReason, planInnerDaemon } from './daemon-plan.js';
import type { HostFacts } from './facts.js';
import { defaultImages } from './job-spec.js';
import type { Detection, Mode, ModeContext, Plan, RunOptions } from './types.js';

export const ROOTLESS_DATA_ROOT = '/home/rootless/.local/share/docker';

export function detectRootless(facts: HostFacts): Detection {
  if (facts.osType !== 'linux') return { mode: 'rootless', applicable: false, reasons: [`the engine runs ${facts.osType} containers`], needs: ['a Linux engine'] };
  const remote = loopbackReason(facts);
  if (remote) return { mode: 'rootless', applicable: false, reasons: [remote], needs: ['run nestling on the engine\'s machine'] };
  const u = facts.userns;
  if (!u) return { mode: 'rootless', applicable: true, reasons: ['not probed yet: user namespaces and /dev/net/tun are assumed'] };
  if (!u.ok) {
    return {
      mode: 'rootless',
      applicable: false,
      reasons: [u.reason],
      needs: ['unprivileged user namespaces (user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1)', '/dev/net/tun on the host'],
    };
  }
  return { mode: 'rootless', applicable: true, reasons: [u.reason] };
}

/** "UID[:GID]" for the rootless user (--daemon-user). */
function remap(user: string | undefined): { uid: number; gid: number } | undefined {
  const m = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  return m ? { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) } : undefined;
}

export const rootless: Mode = {
  name: 'rootless',
  profile: {
    mode: 'rootless',
    securityRisk: 'unprivileged',
    isolation: 'own daemon in a user namespace: root inside is an unprivileged uid on the host; no added capability',
    relationship: 'child',
    setupCost: 'an inner rootless dockerd start (rootlesskit + slirp4netns: a few seconds); slower networking',
  },
  detect: detectRootless,
  plan(opts: RunOptions, ctx: ModeContext): Plan {
    const d = detectRootless(ctx.facts);
    if (!d.applicable) throw environmentError('E_MODE_NOT_APPLICABLE', `mode rootless is not applicable: ${d.reasons.join('; ')}`, { hint: d.needs?.join('; ') ?? 'run `nestling doctor`' });
    const ids = remap(opts.daemonUser);
    const owner = ids ?? { uid: 1000, gid: 1000 };
    // relax only the security modules this engine actually applies (docker info SecurityOptions)
    const lsm = (name: string) => ctx.facts.securityOptions.some((o) => o.startsWith(`name=${name}`));
    const securityOpt: string[] = [];
    const lsmRelaxed: { what: string; why: string }[] = [];
    const lsmNotes: string[] = [];
    const u = ctx.facts.userns;
    if (!lsm('seccomp')) lsmNotes.push('seccomp is not enabled on this engine: nothing to relax');
    else if (u?.needsSeccompUnconfined === false) lsmNotes.push("probed: Docker's default seccomp profile allows what rootlesskit needs on this host: seccomp not relaxed");
    else {
      securityOpt.push('seccomp=unconfined');
      lsmRelaxed.push({
        what: 'seccomp=unconfined',
        why: `Docker's default seccomp profile refuses unshare(CLONE_NEWUSER), which rootlesskit needs to build the user namespace${u?.needsSeccompUnconfined ? ' (probed on this host)' : ''}`,
      });
    }
    const systempaths = u?.needsSystempaths !== false;
    if (!systempaths) lsmNotes.push('probed: masked /proc paths do not stop a new /proc on this host: systempaths not relaxed');
    if (lsm('apparmor')) {
      securityOpt.push('apparmor=unconfined');
      lsmRelaxed.push({ what: 'apparmor=unconfined', why: 'the docker-default AppArmor profile denies the mount calls rootlesskit makes (a new /proc, its bind mounts)' });
    } else lsmNotes.push('AppArmor is not enabled on this engine: nothing to relax');
    if (lsm('selinux')) lsmNotes.push('SELinux is enabled on this engine: rootless under SELinux was not tested here');
    return planInnerDaemon(opts, ctx, {
      mode: 'rootless',
      image: opts.daemonImage ?? defaultImages(opts.images, ctx.dockerVersion, opts.imageRefs).rootless,
      dataRoot: ROOTLESS_DATA_ROOT,
      user: '0',
      certOwner: owner,
      extraEnv: ids ? [`NESTLING_ROOTLESS_UID=${ids.uid}`, `NESTLING_ROOTLESS_GID=${ids.gid}`] : [],
      hostConfig: {
        SecurityOpt: securityOpt,
        ...(systempaths ? { MaskedPaths: [], ReadonlyPaths: [] } : {}),
        Devices: [{ PathOnHost: '/dev/net/tun', PathInContainer: '/dev/net/tun', CgroupPermissions: 'rwm' }],
      },
      relaxed: [
        ...lsmRelaxed,
        ...(systempaths
          ? [
              {
                what: 'systempaths=unconfined (no masked or read-only /proc, /sys paths)',
                why: `rootlesskit mounts a new /proc, which the kernel refuses while /proc has masking over-mounts${u?.needsSystempaths ? ' (probed on this host)' : ''}`,
              },
            ]
          : []),
        { what: '/dev/net/tun', why: 'slirp4netns gives the rootless daemon its network through a tap device' },
        { what: 'no capability added, no --privileged; the container starts as uid 0 with Docker\'s default set only', why: 'to hand /dev/net/tun and the data root to the rootless user, then drop every privilege (setpriv)' },
      ],
      warnings: [],
      notes: [
        `rootless user uid:gid ${owner.uid}:${owner.gid}${ids ? ' (remapped with --daemon-user)' : ''}`,
        ctx.facts.userns ? `probe: ${ctx.facts.userns.reason}` : 'user namespaces not probed',
        ...lsmNotes,
      ],
      relationship: 'child',
    });
  },
};
