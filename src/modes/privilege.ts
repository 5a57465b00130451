/**
 * `--privileged`, and its explicit equivalent for hosts that cannot grant it.
 *
 * On some hosts the engine's bounding set lacks a capability (here CAP_SYS_RESOURCE), so runc fails every
 * `--privileged` container with "unable to apply caps: operation not permitted". What a nested dockerd actually
 * needs from `--privileged` is, explicitly:
 *   - every capability the engine can grant (CapAdd: the bounding set, intersected with what this engine knows);
 *   - no seccomp filter, no AppArmor profile (seccomp=unconfined, apparmor=unconfined, label=disable);
 *   - unmasked /proc and /sys (systempaths=unconfined);
 *   - access to every device in the devices cgroup (DeviceCgroupRules "a *:* rwm");
 *   - writable cgroups: the container remounts its own (namespaced) cgroup mounts read-write at start, which
 *     CAP_SYS_ADMIN without seccomp allows (see dind-script.ts), exactly what --privileged mounts.
 * Nothing more is granted than --privileged grants; less (the missing capability) is.
 */
import { CAP_NAMES } from '../host/caps.js';

/** Capability names in kernel bit order (include/uapi/linux/capability.h), from the host facts module. */
export const CAPABILITIES = CAP_NAMES;
export type Capability = (typeof CAPABILITIES)[number];

/**
 * The capabilities an engine of this version accepts in CapAdd: Docker 20.10 refuses CAP_PERFMON, CAP_BPF and
 * CAP_CHECKPOINT_RESTORE ("invalid CapAdd: unknown capability"), which 23.0 accepts.
 */
export function knownCapabilities(serverVersion: string): Capability[] {
  const major = Number(/^(\d+)/.exec(serverVersion)?.[1] ?? '0');
  const last = major >= 23 ? CAPABILITIES.length : CAPABILITIES.indexOf('AUDIT_READ') + 1;
  return CAPABILITIES.slice(0, last);
}

/** Decodes a CapBnd/CapEff hex mask (from /proc/<pid>/status) into capability names. */
export function decodeCapMask(hex: string): Capability[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/** The capabilities missing from a bounding set, for the message that says what was not granted. */
export function missingCapabilities(bounding: readonly string[], known: readonly Capability[]): Capability[] {
  return known.filter((c) => !bounding.includes(c));
}

/** HostConfig fields equivalent to --privileged, minus capabilities the engine cannot grant. */
export function privilegedEquivalentHostConfig(caps: readonly string[]): Record<string, unknown> {
  return {
    CapAdd: [...caps],
    SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined', 'label=disable'],
    MaskedPaths: [],
    ReadonlyPaths: [],
    DeviceCgroupRules: ['a *:* rwm'],
  };
}

export function isCapsFailure(message: string | undefined): boolean {
  return /unable to apply caps|apply caps/i.test(message ?? '');
}

/**
 * Run before the image's own entrypoint when --privileged is replaced by its equivalent: makes the container's
 * cgroup mounts writable, as --privileged mounts them (Docker mounts them read-only otherwise). Needs
 * CAP_SYS_ADMIN without seccomp/AppArmor, which the equivalent grants; harmless where they are writable already.
 * (No `test -w` here: busybox's answers from the mode bits and ignores a read-only mount.)
 * docker:dind's own entrypoint does not do this for cgroup v1; the local image's does (this keeps both working).
 */
export const WRITABLE_CGROUPS_PRELUDE = `if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mount -o remount,rw /sys/fs/cgroup || echo "nestling: cannot make /sys/fs/cgroup writable" >&2
else
  for c in /sys/fs/cgroup/*; do
    [ -d "$c" ] || continue
    mount -o remount,bind,rw "$c" || echo "nestling: cannot make $c writable" >&2
  done
fi`;

/** Entrypoint that runs the prelude, then the image's entrypoint with the same arguments. */
export function withWritableCgroups(imageEntrypoint: string): string[] {
  return ['sh', '-c', `${WRITABLE_CGROUPS_PRELUDE}\nexec ${imageEntrypoint} "$@"`, 'nestling-cgroups'];
}
