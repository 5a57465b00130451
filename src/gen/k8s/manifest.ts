/**
 * K8sSpec -> Kubernetes objects (pure). One pod per job: the job container, the engine it is given (a daemon as a
 * native sidecar, or the node's engine), and the guard in front of it when asked. Why each field is there is said
 * next to it, and summarised in the `notes` (rendered as comments at the top of the YAML, and in docs/kubernetes.md).
 */
import { Labels } from '../../util/labels.js';
import { hasAppArmorField, PodPaths as P, SOCKET_GID, TLS_PORT } from '../defaults.js';
import type { K8sSpec, ResourceSpec } from './options.js';
import type { ConfigMap, Container, EnvVar, Job, K8sObject, Pod, PodSpec, Probe, ResourceRequirements, Volume, VolumeMount } from './types.js';

export interface K8sManifest {
  objects: K8sObject[];
  /** one line each: what this manifest relaxes or relies on, and why */
  notes: string[];
}

/** The rootless user of docker:dind-rootless and its subordinate IDs inside a 65536-ID pod user namespace. */
export const ROOTLESS_UID = 1000;
export const ROOTLESS_SUBID = `rootless:${ROOTLESS_UID + 1}:${65536 - (ROOTLESS_UID + 1)}\n`;

const DEFAULT_JOB_RESOURCES: ResourceRequirements = { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '2Gi' } };
const DEFAULT_DAEMON_RESOURCES: ResourceRequirements = { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '4Gi' } };
const GUARD_RESOURCES: ResourceRequirements = { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } };

export const configMapName = (spec: Pick<K8sSpec, 'name'>) => `${spec.name}-config`;

function labelsFor(spec: K8sSpec): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'nestling',
    'app.kubernetes.io/instance': spec.name,
    'app.kubernetes.io/component': 'ci-job',
    'app.kubernetes.io/managed-by': 'nestling',
    [Labels.managed]: 'true',
    [Labels.mode]: spec.mode,
  };
}

/** Flags give requests = limits (predictable); the defaults request little and cap memory. */
function resources(given: ResourceSpec, dflt: ResourceRequirements): ResourceRequirements {
  if (given.cpu === undefined && given.memory === undefined) return structuredClone(dflt);
  const q: Record<string, string> = {};
  if (given.cpu !== undefined) q.cpu = given.cpu;
  if (given.memory !== undefined) q.memory = given.memory;
  return { requests: { ...q }, limits: { ...q } };
}

const execProbe = (command: string[]): Probe => ({ exec: { command }, periodSeconds: 1, timeoutSeconds: 5, failureThreshold: 120 });

const dockerMajor = (v: string) => Number.parseInt(v.split('.')[0] ?? '0', 10);

/** Where the daemon listens and how a client in the pod reaches it. */
function daemonEndpoint(spec: K8sSpec): { host: string; clientFlags: string[] } {
  if (spec.tls) {
    const c = P.clientCerts;
    return {
      host: `tcp://127.0.0.1:${TLS_PORT}`,
      clientFlags: [`--host=tcp://127.0.0.1:${TLS_PORT}`, '--tlsverify', `--tlscacert=${c}/ca.pem`, `--tlscert=${c}/cert.pem`, `--tlskey=${c}/key.pem`],
    };
  }
  return { host: `unix://${P.engineSocket}`, clientFlags: [`--host=unix://${P.engineSocket}`] };
}

/** docker:dind / sysbox daemon: dockerd on a unix socket (or TLS on localhost), MTU from the pod's eth0. */
function dindDaemon(spec: K8sSpec, image: string, notes: string[]): Container {
  const ep = daemonEndpoint(spec);
  const listen = spec.tls
    ? [`--host=${ep.host}`, '--tlsverify', `--tlscacert=${P.certs}/server/ca.pem`, `--tlscert=${P.certs}/server/cert.pem`, `--tlskey=${P.certs}/server/key.pem`]
    : // dockerd chowns its socket to --group (default: a `docker` group, root when there is none); the pod's fsGroup
      // makes every container a member of this one.
      [`--host=${ep.host}`, `--group=${SOCKET_GID}`];
  // The first argument `dockerd` keeps docker:dind's entrypoint from adding its default listeners (which include
  // tcp://0.0.0.0:2375 without TLS when DOCKER_TLS_CERTDIR is empty): we listen only where we say.
  // The MTU script avoids `$(...)`: Kubernetes expands $(VAR) in commands.
  const script = [
    'mtu="${NESTLING_MTU:-}"',
    '[ -n "$mtu" ] || read -r mtu < /sys/class/net/eth0/mtu || mtu=1500',
    // --mtu covers the default bridge; user-defined networks (compose, testcontainers) take the default network
    // option, which dockerd has from 24.0 on.
    `exec dockerd-entrypoint.sh dockerd ${listen.join(' ')} --mtu="$mtu"${dockerMajor(spec.dockerVersion) >= 24 ? ' --default-network-opt=bridge=com.docker.network.driver.mtu="$mtu"' : ''}`,
  ].join('\n');
  const env: EnvVar[] = [{ name: 'DOCKER_TLS_CERTDIR', value: '' }];
  if (spec.mtu !== undefined) env.push({ name: 'NESTLING_MTU', value: String(spec.mtu) });
  notes.push(
    spec.mtu !== undefined
      ? `inner MTU ${spec.mtu} (--mtu): inner bridges must not exceed the pod network's MTU, or large packets (TLS, pulls) stall`
      : `inner MTU: read from the pod's eth0 at start (overlays such as VXLAN 1450 or WireGuard 1420 are below Docker's 1500; too large an inner MTU stalls TLS and pulls); --mtu fixes it`,
  );
  const mounts: VolumeMount[] = [
    { name: 'docker-data', mountPath: P.dockerData },
    { name: 'workspace', mountPath: spec.workspace },
  ];
  if (spec.tls) mounts.push({ name: 'certs', mountPath: P.certs, readOnly: true });
  else mounts.push({ name: 'engine', mountPath: P.engineDir });
  const c: Container = {
    name: 'dockerd',
    image,
    restartPolicy: 'Always',
    command: ['sh', '-c', script],
    env,
    volumeMounts: mounts,
    resources: resources(spec.daemonResources, DEFAULT_DAEMON_RESOURCES),
    startupProbe: execProbe(['docker', ...ep.clientFlags, 'info']),
  };
  if (spec.mode === 'dind') c.securityContext = { privileged: true };
  return c;
}

/** docker:dind-rootless: rootlesskit + dockerd as uid 1000, with exactly the relaxations it needs (see notes). */
function rootlessDaemon(spec: K8sSpec, image: string, notes: string[]): Container {
  const ep = daemonEndpoint(spec);
  const appArmorField = hasAppArmorField(spec.kubeVersion);
  const c: Container = {
    name: 'dockerd',
    image,
    restartPolicy: 'Always',
    // `dockerd` first: the entrypoint runs rootlesskit + dockerd and adds no TCP listener of its own.
    args: ['dockerd', `--host=${ep.host}`],
    volumeMounts: [
      { name: 'engine', mountPath: P.engineDir },
      { name: 'docker-data', mountPath: P.rootlessData },
      { name: 'workspace', mountPath: spec.workspace },
      { name: 'config', mountPath: '/etc/subuid', subPath: 'subuid', readOnly: true },
      { name: 'config', mountPath: '/etc/subgid', subPath: 'subgid', readOnly: true },
    ],
    resources: resources(spec.daemonResources, DEFAULT_DAEMON_RESOURCES),
    securityContext: {
      runAsUser: ROOTLESS_UID,
      runAsGroup: ROOTLESS_UID,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: true,
      seccompProfile: { type: 'Unconfined' },
      ...(appArmorField ? { appArmorProfile: { type: 'Unconfined' as const } } : {}),
      procMount: 'Unmasked',
    },
    startupProbe: execProbe(['docker', ...ep.clientFlags, 'info']),
  };
  if (spec.tunResource) {
    c.resources = { ...c.resources, limits: { ...(c.resources?.limits ?? {}), [spec.tunResource]: '1' } };
  }
  notes.push(
    'rootless: runAsUser 1000 (the image\'s rootless user), no privileged, no added capability; relaxed, and why:',
    '  seccompProfile Unconfined: the default profile refuses unshare(CLONE_NEWUSER), mount and pivot_root without CAP_SYS_ADMIN, which rootlesskit needs',
    `  AppArmor unconfined (${appArmorField ? 'securityContext.appArmorProfile' : 'annotation, Kubernetes 1.29'}): the runtime's default profile denies mount`,
    '  procMount Unmasked: rootlesskit mounts a fresh /proc for its pid namespace, which the kernel refuses over a masked /proc (Docker: systempaths=unconfined)',
    '  hostUsers false: the API server accepts procMount Unmasked only in a user-namespaced pod; the pod\'s 65536 IDs bound the subordinate range',
    `  /etc/subuid, /etc/subgid = ${ROOTLESS_SUBID.trim()} (from the ConfigMap): the image's 100000:65536 lies outside the pod's user namespace`,
    '  allowPrivilegeEscalation true: newuidmap/newgidmap are setuid; no_new_privs would disable them',
    spec.tunResource
      ? `  /dev/net/tun from the extended resource ${spec.tunResource} (a device plugin): the user-mode network (vpnkit/slirp4netns) needs a TAP device, and an unprivileged container gets no device otherwise`
      : '  /dev/net/tun: --tun-resource \'\' given, so the runtime must already give the container /dev/net/tun',
  );
  return c;
}

function guardContainer(spec: K8sSpec, upstream: string, notes: string[]): Container {
  const env: EnvVar[] = [{ name: 'NESTLING_OWNER', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } }];
  // A TLS upstream is given the way the docker CLI takes it (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH):
  // `nestling guard` reads the upstream's TLS material from there when --upstream is not given.
  const tlsUpstream = spec.tls && spec.mode !== 'guarded';
  const args = ['guard', ...(tlsUpstream ? [] : ['--upstream', upstream]), '--listen', `unix://${P.guardSocket}`, '--owner', '$(NESTLING_OWNER)'];
  const mounts: VolumeMount[] = [
    { name: 'guard', mountPath: P.guardDir },
    { name: 'config', mountPath: P.policyFile, subPath: 'policy.yaml', readOnly: true },
  ];
  if (spec.mode === 'guarded') {
    // The job's workspace emptyDir, as the node sees it: the guard rewrites `-v /workspace/x:...` to it.
    const hostWorkspace = `${spec.kubeletDir}/pods/$(NESTLING_OWNER)/volumes/kubernetes.io~empty-dir/workspace`;
    args.push('--allow-bind', hostWorkspace, '--map', `${spec.workspace}=${hostWorkspace}`);
    mounts.push({ name: 'host-engine', mountPath: `${P.hostEngineDir}/docker.sock` });
    // The guard resolves symlinks in bind sources as the node will: it must see the node's paths. The kubelet's
    // pods dir, read-only, at the same path (the guard already holds the node's engine, so this adds no power).
    mounts.push({ name: 'kubelet-pods', mountPath: `${spec.kubeletDir}/pods`, readOnly: true });
    notes.push(
      `guarded: the guard is the only container that sees the node's engine (${spec.engineSocket}); the job gets the guard's socket`,
      `guarded: binds are allowed under the job's workspace only, mapped to its path on the node (${spec.kubeletDir}/pods/<pod uid>/volumes/kubernetes.io~empty-dir/workspace)`,
      'guarded: --reap-on-exit removes what the job made on the node engine when the pod ends; after a SIGKILL of the guard, `nestling reap --owner <pod uid>` on the node does it',
    );
  } else {
    args.push('--allow-bind', spec.workspace);
    // The daemon sees the workspace at this path; the guard too, read-only, so that it resolves a symlink the job
    // plants there (`ln -s / evil; docker run -v $PWD/evil:/host`) exactly as the daemon would, and refuses it.
    mounts.push({ name: 'workspace', mountPath: spec.workspace, readOnly: true });
    if (spec.tls) mounts.push({ name: 'certs', mountPath: P.clientCerts, subPath: 'client', readOnly: true });
    else mounts.push({ name: 'engine', mountPath: P.engineDir });
  }
  args.push('--policy', P.policyFile, '--reap-on-exit', '--log-format', 'json');
  if (tlsUpstream) {
    env.push({ name: 'DOCKER_HOST', value: upstream }, { name: 'DOCKER_TLS_VERIFY', value: '1' }, { name: 'DOCKER_CERT_PATH', value: P.clientCerts });
  }
  // Ready when a request goes through: GET /_ping via the guard's own socket (node is in the image; no shell needed).
  const ping = `require('http').get({socketPath:'${P.guardSocket}',path:'/_ping'},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))`;
  return {
    name: 'guard',
    image: spec.guardImage,
    restartPolicy: 'Always',
    args,
    env,
    volumeMounts: mounts,
    resources: structuredClone(GUARD_RESOURCES),
    // root only to open the engine socket (root-owned, 0660); every capability dropped.
    securityContext: { runAsUser: 0, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    startupProbe: execProbe(['node', '-e', ping]),
  };
}

/**
 * CA, server and client certificates in docker:dind's layout (ca/, server/, client/), made by openssl from the
 * daemon image itself (docker:dind ships it for its own certificates): ECDSA P-256, valid for the job's deadline
 * plus a day, the server certificate for 127.0.0.1 and localhost only. Keys are 0600; the CA key stays in this
 * emptyDir (the job and the guard get client/ only).
 */
export function certsScript(days: number): string {
  const d = P.certs;
  return [
    'set -eu',
    'umask 077',
    `mkdir -p ${d}/ca ${d}/server ${d}/client`,
    `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${d}/ca/key.pem`,
    `openssl req -new -x509 -sha256 -days ${days} -key ${d}/ca/key.pem -subj /CN=nestling-dind-ca -out ${d}/ca/cert.pem`,
    `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > ${d}/server/ext.cnf`,
    `printf 'extendedKeyUsage=clientAuth\\n' > ${d}/client/ext.cnf`,
    'for who in server client; do',
    `  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${d}/$who/key.pem`,
    `  openssl req -new -sha256 -key ${d}/$who/key.pem -subj /CN=nestling-dind-$who -out ${d}/$who/csr.pem`,
    `  openssl x509 -req -sha256 -days ${days} -in ${d}/$who/csr.pem -CA ${d}/ca/cert.pem -CAkey ${d}/ca/key.pem -CAcreateserial -extfile ${d}/$who/ext.cnf -out ${d}/$who/cert.pem`,
    `  cp ${d}/ca/cert.pem ${d}/$who/ca.pem`,
    `  rm ${d}/$who/csr.pem ${d}/$who/ext.cnf`,
    'done',
    `chmod 0644 ${d}/*/cert.pem ${d}/*/ca.pem`,
  ].join('\n');
}

function certsInit(spec: K8sSpec, image: string): Container {
  return {
    name: 'certs',
    image,
    command: ['sh', '-c', certsScript(Math.ceil(spec.activeDeadlineSeconds / 86400) + 1)],
    volumeMounts: [{ name: 'certs', mountPath: P.certs }],
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
}

function jobContainer(spec: K8sSpec, env: EnvVar[], mounts: VolumeMount[]): Container {
  return {
    name: 'job',
    image: spec.image,
    command: spec.command,
    workingDir: spec.workspace,
    env,
    volumeMounts: [{ name: 'workspace', mountPath: spec.workspace }, ...mounts],
    resources: resources(spec.jobResources, DEFAULT_JOB_RESOURCES),
  };
}

/** Lets the CI generators reuse the pod: Jenkins and the Actions runner put their own container in the job's place. */
export interface PodSpecOptions {
  job?: ((job: Container) => Container) | undefined;
}

export function buildPodSpec(spec: K8sSpec, opts: PodSpecOptions = {}): { podSpec: PodSpec; annotations: Record<string, string>; configData: Record<string, string>; notes: string[] } {
  const notes: string[] = [];
  const annotations: Record<string, string> = {};
  const configData: Record<string, string> = {};
  const volumes: Volume[] = [{ name: 'workspace', emptyDir: {} }];
  const init: Container[] = [];
  const jobEnv: EnvVar[] = [];
  const jobMounts: VolumeMount[] = [];

  const hasDaemon = spec.mode !== 'guarded';
  if (hasDaemon) {
    if (spec.daemonImage === undefined) throw new Error('a daemon mode without a daemon image'); // resolveK8sSpec sets it
    volumes.push({ name: 'docker-data', emptyDir: {} });
    if (spec.tls) {
      volumes.push({ name: 'certs', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
      init.push(certsInit(spec, spec.daemonImage));
      notes.push(`TLS: the daemon listens on 127.0.0.1:${TLS_PORT} only, with client certificates made by openssl in an init container from the daemon image (ECDSA P-256, docker:dind's layout, in memory, valid for the deadline + 1 day)`);
    } else {
      volumes.push({ name: 'engine', emptyDir: {} });
      notes.push('engine: a unix socket on an emptyDir; no TCP listener at all (job and daemon share the pod, so TLS adds nothing; --tls if you want it)');
    }
    init.push(spec.mode === 'rootless' ? rootlessDaemon(spec, spec.daemonImage, notes) : dindDaemon(spec, spec.daemonImage, notes));
    notes.push(`daemon: a native sidecar (init container with restartPolicy Always, Kubernetes 1.29+): the job starts only once \`docker info\` answers, and the daemon stops when the job ends`);
    notes.push(`daemon data root on an emptyDir (overlay on overlay fails); it goes with the pod`);
  } else {
    volumes.push({ name: 'host-engine', hostPath: { path: spec.engineSocket, type: 'Socket' } });
    volumes.push({ name: 'kubelet-pods', hostPath: { path: `${spec.kubeletDir}/pods`, type: 'Directory' } });
  }

  if (spec.mode === 'dind') {
    notes.push('dind: the daemon container is privileged (dockerd needs mounts, cgroups, iptables and devices)');
    notes.push(
      spec.guard
        ? 'dind: the guard stands between the job and the privileged daemon; without it the job could `docker run --privileged -v /:/host` and own the node'
        : 'WARNING dind --no-guard: the job talks to a privileged daemon directly and can `docker run --privileged -v /:/host`, that is, own the node',
    );
  }
  if (spec.mode === 'sysbox') {
    notes.push('sysbox: runtimeClassName sysbox-runc and hostUsers false; no container is privileged (Sysbox virtualises what dockerd needs); needs Sysbox installed on the nodes');
  }

  if (spec.guard) {
    volumes.push({ name: 'guard', emptyDir: {} });
    configData['policy.yaml'] = spec.policy;
    const upstream = spec.mode === 'guarded' ? `unix://${P.hostEngineDir}/docker.sock` : daemonEndpoint(spec).host;
    init.push(guardContainer(spec, upstream, notes));
    jobEnv.push({ name: 'DOCKER_HOST', value: `unix://${P.jobSocket}` });
    jobMounts.push({ name: 'guard', mountPath: P.jobSocketDir });
    notes.push(`guard: owner = the pod's uid; policy from ConfigMap ${configMapName(spec)} (policy.yaml); the job never sees the engine's own socket`);
  } else if (spec.tls) {
    jobEnv.push(
      { name: 'DOCKER_HOST', value: `tcp://127.0.0.1:${TLS_PORT}` },
      { name: 'DOCKER_TLS_VERIFY', value: '1' },
      { name: 'DOCKER_CERT_PATH', value: P.clientCerts },
    );
    jobMounts.push({ name: 'certs', mountPath: P.clientCerts, subPath: 'client', readOnly: true });
  } else {
    jobEnv.push({ name: 'DOCKER_HOST', value: `unix://${P.jobSocket}` });
    jobMounts.push({ name: 'engine', mountPath: P.jobSocketDir });
  }
  // Testcontainers: the inner daemon (or the guard's reaper) removes what a job made, so Ryuk is not needed; on the
  // node engine, published ports are on the node's address, not on localhost.
  jobEnv.push({ name: 'TESTCONTAINERS_RYUK_DISABLED', value: 'true' });
  if (spec.mode === 'guarded') jobEnv.push({ name: 'TESTCONTAINERS_HOST_OVERRIDE', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } });

  if (spec.mode === 'rootless') {
    configData.subuid = ROOTLESS_SUBID;
    configData.subgid = ROOTLESS_SUBID;
    if (!hasAppArmorField(spec.kubeVersion)) annotations['container.apparmor.security.beta.kubernetes.io/dockerd'] = 'unconfined';
  }
  if (Object.keys(configData).length) volumes.push({ name: 'config', configMap: { name: configMapName(spec) } });
  if (spec.mode === 'sysbox') annotations['io.kubernetes.cri-o.userns-mode'] = 'auto:size=65536';

  const podSpec: PodSpec = {
    restartPolicy: 'Never',
    ...(spec.kind === 'pod' ? { activeDeadlineSeconds: spec.activeDeadlineSeconds } : {}),
    // Time for the guard to drain and reap, and for dockerd to stop its containers.
    terminationGracePeriodSeconds: 30,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // emptyDirs get this group with the setgid bit, so sockets created in them (the guard's) are in it, and every
    // container has it as a supplementary group: a non-root job can connect. Not for rootless: its dockerd, root
    // only inside its user namespace, cannot chown a socket that inherited a group it does not map (EPERM).
    ...(spec.mode === 'rootless' ? {} : { securityContext: { fsGroup: SOCKET_GID } }),
    ...(spec.mode === 'sysbox' ? { runtimeClassName: 'sysbox-runc' } : {}),
    ...(spec.mode === 'sysbox' || spec.mode === 'rootless' ? { hostUsers: false } : {}),
    initContainers: init,
    containers: [(opts.job ?? ((c: Container) => c))(jobContainer(spec, jobEnv, jobMounts))],
    volumes,
  };
  notes.push('cleanup: every volume is an emptyDir (or the policy ConfigMap), so deleting the pod removes what the job made in it' + (spec.kind === 'job' ? `; the Job is deleted ${spec.ttlSecondsAfterFinished}s after it finishes (ttlSecondsAfterFinished)` : ''));
  return { podSpec, annotations, configData, notes };
}

export function buildK8sManifest(spec: K8sSpec): K8sManifest {
  const labels = labelsFor(spec);
  const { podSpec, annotations, configData, notes } = buildPodSpec(spec);
  const ns = spec.namespace === undefined ? {} : { namespace: spec.namespace };
  const objects: K8sObject[] = [];
  if (Object.keys(configData).length) {
    const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: configMapName(spec), ...ns, labels: { ...labels } }, data: configData };
    objects.push(cm);
  }
  const podMeta = { labels: { ...labels }, ...(Object.keys(annotations).length ? { annotations } : {}) };
  if (spec.kind === 'pod') {
    const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: spec.name, ...ns, ...podMeta }, spec: podSpec };
    objects.push(pod);
  } else {
    const job: Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: spec.name, ...ns, labels: { ...labels } },
      spec: {
        // A CI job is not retried behind the user's back: one attempt, bounded in time, then garbage-collected.
        backoffLimit: 0,
        activeDeadlineSeconds: spec.activeDeadlineSeconds,
        ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished,
        template: { metadata: podMeta, spec: podSpec },
      },
    };
    objects.push(job);
  }
  return { objects, notes };
}
