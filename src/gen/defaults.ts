/**
 * Image references and version constants the generators default to. Every one of them is overridable by a flag;
 * they live here so that docs, goldens and CLI help agree.
 */

/** The Docker release line of the official images (`docker:<v>-dind`, `-dind-rootless`, `-cli`). */
export const DOCKER_VERSION = '28';

/** Repository of the image that runs `nestling guard` (and `nestling certs`): images/nestling/Dockerfile. */
export const NESTLING_IMAGE_REPO = 'docker.io/nestling/nestling';

export const dockerImages = (version: string = DOCKER_VERSION) =>
  ({
    dind: `docker:${version}-dind`,
    dindRootless: `docker:${version}-dind-rootless`,
    cli: `docker:${version}-cli`,
  }) as const;

/** The nestling image for a given nestling version (the CLI passes its own version). */
export const nestlingImage = (nestlingVersion: string) => `${NESTLING_IMAGE_REPO}:${nestlingVersion}`;

/**
 * Kubernetes minor versions the manifests are generated for. 1.29 is the floor: native sidecars (init containers
 * with `restartPolicy: Always`) are beta and on by default from 1.29.
 */
export const KUBE_VERSIONS = ['1.29', '1.30', '1.31', '1.32', '1.33'] as const;
export type KubeVersion = (typeof KUBE_VERSIONS)[number];
export const DEFAULT_KUBE_VERSION: KubeVersion = '1.30';

export function isKubeVersion(s: string): s is KubeVersion {
  return (KUBE_VERSIONS as readonly string[]).includes(s);
}

/** `securityContext.appArmorProfile` exists from 1.30; 1.29 takes the (now deprecated) per-container annotation. */
export const hasAppArmorField = (v: KubeVersion) => v !== '1.29';

/** Paths inside the pod. One place, so the generators, docs and tests agree. */
export const PodPaths = {
  /** emptyDir with the inner daemon's socket (daemon and guard only when the guard is on). */
  engineDir: '/nestling/engine',
  engineSocket: '/nestling/engine/docker.sock',
  /** emptyDir with the guard's socket (guard and job). */
  guardDir: '/nestling/guard',
  guardSocket: '/nestling/guard/docker.sock',
  /** where the job sees whichever socket it is given */
  jobSocketDir: '/var/run/nestling',
  jobSocket: '/var/run/nestling/docker.sock',
  /** the job's workspace, the same path in the job and in the inner daemon, so `-v $PWD:/src` resolves */
  workspace: '/workspace',
  /** TLS material in docker:dind's layout (ca/, server/, client/) */
  certs: '/certs',
  clientCerts: '/certs/client',
  /** the policy ConfigMap in the guard */
  policyDir: '/etc/nestling',
  policyFile: '/etc/nestling/policy.yaml',
  /** the node's engine socket, as mounted into the guard (guarded mode) */
  hostEngineDir: '/nestling/host-engine',
  dockerData: '/var/lib/docker',
  /** the parent of the rootless daemon's data root: dockerd creates (and chmods) `docker` in it itself, which it
   * cannot do to a root-owned emptyDir mount point */
  rootlessData: '/home/rootless/.local/share',
} as const;

/**
 * The group of the engine and guard sockets in the pod (pod `fsGroup`, dockerd `--group`): every container of the
 * pod gets it as a supplementary group, so a job that runs as a non-root user can connect. 123 is the `docker` group
 * of GitHub's runner image, so the Actions runner (uid 1001) connects too.
 */
export const SOCKET_GID = 123;

/** The TCP port of the inner daemon with --tls; it listens on 127.0.0.1 only. */
export const TLS_PORT = 2376;
