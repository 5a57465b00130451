/** "Where am I": evidence that this process runs in a container, and which runtime or orchestrator made it. */
import type { Env } from '../util/env.js';
import { exists, readText, type HostRoot } from './fs.js';
import { containerHintFromCgroup, type CgroupLine } from './cgroup.js';
import type { MountEntry } from './mountinfo.js';

export interface ContainerFacts {
  inContainer: boolean;
  /** docker, podman, kubernetes, lxc, sysbox, github-actions, unknown, or undefined on a host */
  runtime: string | undefined;
  containerId: string | undefined;
  kubernetes: boolean;
  /** Podman's /run/.containerenv says rootless=1 */
  podmanRootless: boolean | undefined;
  evidence: string[];
}

export async function containerFacts(h: HostRoot, env: Env, cgroups: CgroupLine[] | undefined, mounts: MountEntry[] | undefined): Promise<ContainerFacts> {
  const evidence: string[] = [];
  let runtime: string | undefined;
  let containerId: string | undefined;
  let podmanRootless: boolean | undefined;
  if (await exists(h, '/.dockerenv')) {
    evidence.push('/.dockerenv exists');
    runtime = 'docker';
  }
  const ce = await readText(h, '/run/.containerenv', 64 * 1024);
  if (ce.ok) {
    evidence.push('/run/.containerenv exists');
    runtime = 'podman';
    const rl = /^rootless=(\d)/m.exec(ce.value);
    if (rl) podmanRootless = rl[1] === '1';
    containerId = /^id="([^"]+)"/m.exec(ce.value)?.[1] ?? containerId;
  }
  const hint = cgroups ? containerHintFromCgroup(cgroups.map((c) => c.path)) : undefined;
  if (hint) {
    evidence.push(`cgroup path names ${hint.runtime}${hint.id ? ` container ${hint.id.slice(0, 12)}` : ''}`);
    runtime ??= hint.runtime;
    containerId ??= hint.id;
  }
  if (mounts) {
    const host = mounts.find((m) => m.mountPoint === '/etc/hostname');
    const m = host ? /\/containers\/([0-9a-f]{64})\/hostname$/.exec(host.root) : null;
    if (m?.[1]) {
      evidence.push(`/etc/hostname is bound from a container directory (${host!.root})`);
      containerId ??= m[1];
      runtime ??= 'docker';
    }
    const pod = host ? /overlay-containers\/([0-9a-f]{64})\/userdata/.exec(host.root) : null;
    if (pod?.[1]) {
      evidence.push('/etc/hostname is bound from Podman storage');
      containerId ??= pod[1];
      runtime ??= 'podman';
    }
    const root = mounts.find((x) => x.mountPoint === '/');
    if (root && (root.fsType === 'overlay' || root.fsType === 'fuse-overlayfs') && evidence.length > 0) evidence.push(`root filesystem is ${root.fsType}`);
    if (mounts.some((x) => x.source === 'sysboxfs' || x.fsType === 'fuse.sysbox-fs' || /sysboxfs/.test(x.source))) {
      evidence.push('sysbox-fs mounts present');
      runtime = 'sysbox';
    }
  }
  const sa = await exists(h, '/var/run/secrets/kubernetes.io/serviceaccount/token');
  const k8sEnv = Boolean(env.KUBERNETES_SERVICE_HOST);
  if (sa) evidence.push('Kubernetes service account token mounted');
  if (k8sEnv) evidence.push('KUBERNETES_SERVICE_HOST is set');
  const kubernetes = sa || k8sEnv || runtime === 'kubernetes';
  if (kubernetes && !runtime) runtime = 'kubernetes';
  const inContainer = evidence.length > 0;
  return { inContainer, runtime: inContainer ? (runtime ?? 'unknown') : undefined, containerId, kubernetes, podmanRootless, evidence };
}
