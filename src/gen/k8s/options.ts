/**
 * `nestling k8s` input: what the user asked for (strings from flags) -> a validated, fully defaulted K8sSpec.
 * Every refusal is a usage error (exit 2) with a hint; nothing here reads the environment.
 */
import { parse as parseYaml } from 'yaml';
import { usageError } from '../../util/errors.js';
import { DEFAULT_KUBE_VERSION, DOCKER_VERSION, dockerImages, isKubeVersion, nestlingImage, type KubeVersion } from '../defaults.js';

export const K8S_MODES = ['dind', 'guarded', 'rootless', 'sysbox'] as const;
export type K8sMode = (typeof K8S_MODES)[number];
export const K8S_KINDS = ['pod', 'job'] as const;
export type K8sKind = (typeof K8S_KINDS)[number];

export interface K8sInput {
  mode: string;
  name?: string | undefined;
  namespace?: string | undefined;
  kind?: string | undefined;
  /** the job's image */
  image?: string | undefined;
  daemonImage?: string | undefined;
  guardImage?: string | undefined;
  /** exec form; default: a smoke test of the engine */
  command?: string[] | undefined;
  tls?: boolean | undefined;
  mtu?: string | number | undefined;
  /** undefined: the mode's default (on for dind and guarded, off for rootless and sysbox) */
  guard?: boolean | undefined;
  cpu?: string | undefined;
  memory?: string | undefined;
  daemonCpu?: string | undefined;
  daemonMemory?: string | undefined;
  kubeVersion?: string | undefined;
  dockerVersion?: string | undefined;
  /** the nestling version, for the default guard image tag */
  nestlingVersion: string;
  activeDeadlineSeconds?: string | number | undefined;
  ttlSecondsAfterFinished?: string | number | undefined;
  /** guarded: the node's engine socket */
  engineSocket?: string | undefined;
  /** guarded: the kubelet's root dir, to map the job's workspace emptyDir to its path on the node */
  kubeletDir?: string | undefined;
  /** the guard's policy file content (YAML, version: 1) */
  policy?: string | undefined;
  /** where the policy came from, for messages */
  policySource?: string | undefined;
  /** rootless: the extended resource that gives the pod /dev/net/tun (a device plugin), or '' for none */
  tunResource?: string | undefined;
  /** where the job's workspace emptyDir is mounted (in the job and the daemon, the same path) */
  workspace?: string | undefined;
}

export interface ResourceSpec {
  cpu?: string;
  memory?: string;
}

export interface K8sSpec {
  mode: K8sMode;
  kind: K8sKind;
  name: string;
  namespace: string | undefined;
  image: string;
  daemonImage: string | undefined;
  guardImage: string;
  command: string[];
  tls: boolean;
  /** undefined: read the pod's eth0 MTU when the daemon starts */
  mtu: number | undefined;
  guard: boolean;
  /** the Docker release line of the daemon image (decides which dockerd flags exist) */
  dockerVersion: string;
  jobResources: ResourceSpec;
  daemonResources: ResourceSpec;
  kubeVersion: KubeVersion;
  activeDeadlineSeconds: number;
  ttlSecondsAfterFinished: number;
  engineSocket: string;
  kubeletDir: string;
  policy: string;
  tunResource: string;
  workspace: string;
}

export const DEFAULT_NAME = 'nestling-job';
export const DEFAULT_COMMAND = ['sh', '-c', 'docker version && docker info'];
export const DEFAULT_ACTIVE_DEADLINE_SECONDS = 3600;
export const DEFAULT_TTL_SECONDS_AFTER_FINISHED = 600;
export const DEFAULT_ENGINE_SOCKET = '/var/run/docker.sock';
export const DEFAULT_KUBELET_DIR = '/var/lib/kubelet';
export const DEFAULT_WORKSPACE = '/workspace';
/** The generic-device-plugin resource name commonly used to hand out /dev/net/tun without privileges. */
export const DEFAULT_TUN_RESOURCE = 'squat.ai/tun';
export const DEFAULT_POLICY = `# nestling guard policy. The built-in baseline refuses every privilege escalation (privileged, added
# capabilities, host namespaces, devices, binds outside the allowed dirs, ...); this file can only relax it.
# Bind dirs are passed as --allow-bind flags by the manifest. See docs/policy.md.
version: 1
`;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** <name>-policy must still be a valid label (63), so the name itself is at most 56 characters. */
export const MAX_NAME_LENGTH = 56;
/** Kubernetes resource.Quantity, as the API server parses it. */
const QUANTITY = /^([+]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const QUANTITY_STRICT = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/;
/** An extended resource name: a domain-qualified name (vendor.example/thing). */
const EXTENDED_RESOURCE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** docker reference grammar, loosely: no spaces, no uppercase repository, optional tag/digest. */
const IMAGE_REF = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-]{1,2}[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

export function validateDnsLabel(what: string, value: string, max = 63): string {
  if (value.length === 0 || value.length > max || !DNS1123_LABEL.test(value)) {
    throw usageError('E_GEN_INVALID_NAME', `invalid ${what} ${JSON.stringify(value)}: must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most ${max} characters)`, {
      hint: `e.g. --${what} ${suggestLabel(value, max) || 'nestling-job'}`,
    });
  }
  return value;
}

function suggestLabel(value: string, max: number): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/g, '');
}

export function validateImage(what: string, ref: string): string {
  if (!IMAGE_REF.test(ref)) {
    throw usageError('E_GEN_INVALID_IMAGE', `invalid ${what} ${JSON.stringify(ref)}: not an image reference`, {
      hint: 'use [registry/]repository[:tag][@sha256:digest], e.g. docker:28-cli',
    });
  }
  return ref;
}

export function validateQuantity(what: string, q: string): string {
  if (!QUANTITY.test(q) || !QUANTITY_STRICT.test(q) || Number.parseFloat(q) <= 0) {
    throw usageError('E_GEN_INVALID_QUANTITY', `invalid ${what} ${JSON.stringify(q)}: not a positive Kubernetes quantity`, {
      hint: `e.g. --${what} ${what.includes('memory') ? '512Mi' : '500m'}`,
    });
  }
  return q;
}

function positiveInt(what: string, v: string | number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const s = String(v);
  const n = /^\d+$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usageError('E_GEN_INVALID_NUMBER', `invalid --${what} ${JSON.stringify(s)}: must be an integer from ${min} to ${max}`, {
      hint: `e.g. --${what} ${dflt}`,
    });
  }
  return n;
}

function absolutePath(what: string, p: string): string {
  if (!p.startsWith('/') || p.includes('\0') || /(^|\/)\.\.?(\/|$)/.test(p) || /\s/.test(p)) {
    throw usageError('E_GEN_INVALID_PATH', `invalid --${what} ${JSON.stringify(p)}: must be an absolute, normalised path`, {
      hint: `e.g. --${what} ${what === 'kubelet-dir' ? DEFAULT_KUBELET_DIR : what === 'workspace' ? DEFAULT_WORKSPACE : DEFAULT_ENGINE_SOCKET}`,
    });
  }
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** Checks what can be checked here about a policy file: YAML 1.2, a mapping, `version: 1`. */
export function checkPolicyText(text: string, source = 'policy'): string {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw usageError('E_GEN_INVALID_POLICY', `${source}: not valid YAML: ${(e as Error).message.split('\n')[0] ?? ''}`, {
      hint: 'the guard policy is YAML with `version: 1` (see docs/policy.md)',
      cause: e,
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || (doc as Record<string, unknown>).version !== 1) {
    throw usageError('E_GEN_INVALID_POLICY', `${source}: a guard policy must be a YAML mapping with \`version: 1\``, {
      hint: 'start the file with `version: 1` (see docs/policy.md)',
    });
  }
  return text.endsWith('\n') ? text : `${text}\n`;
}

const isMode = (s: string): s is K8sMode => (K8S_MODES as readonly string[]).includes(s);
const isKind = (s: string): s is K8sKind => (K8S_KINDS as readonly string[]).includes(s);

export function resolveK8sSpec(input: K8sInput): K8sSpec {
  const mode = input.mode;
  if (!isMode(mode)) {
    throw usageError('E_GEN_UNKNOWN_MODE', `unknown mode ${JSON.stringify(mode)} for Kubernetes`, {
      hint: `choose one of ${K8S_MODES.join(', ')} (dood has no Kubernetes form: use guarded)`,
    });
  }
  const kind = input.kind ?? 'job';
  if (!isKind(kind)) {
    throw usageError('E_GEN_UNKNOWN_KIND', `unknown --kind ${JSON.stringify(kind)}`, { hint: 'choose pod or job' });
  }
  const name = validateDnsLabel('name', input.name ?? DEFAULT_NAME, MAX_NAME_LENGTH);
  const namespace = input.namespace === undefined ? undefined : validateDnsLabel('namespace', input.namespace);
  const kubeVersion = input.kubeVersion ?? DEFAULT_KUBE_VERSION;
  if (!isKubeVersion(kubeVersion)) {
    throw usageError('E_GEN_KUBE_VERSION', `unsupported --kube-version ${JSON.stringify(kubeVersion)}`, {
      hint: 'choose 1.29, 1.30, 1.31, 1.32 or 1.33 (native sidecars need 1.29 or later)',
    });
  }
  const dockerVersion = input.dockerVersion ?? DOCKER_VERSION;
  if (!/^[0-9]+(\.[0-9]+){0,2}$/.test(dockerVersion)) {
    throw usageError('E_GEN_DOCKER_VERSION', `invalid --docker-version ${JSON.stringify(dockerVersion)}`, { hint: `e.g. --docker-version ${DOCKER_VERSION}` });
  }
  const images = dockerImages(dockerVersion);

  // Combinations that make no sense are refused rather than silently ignored.
  const guardDefault = mode === 'dind' || mode === 'guarded';
  if (mode === 'guarded' && input.guard === false) {
    throw usageError('E_GEN_FLAG_CONFLICT', 'guarded mode is the guard: --no-guard contradicts it', {
      hint: 'for an unguarded engine use --mode dind --no-guard (and read docs/kubernetes.md on what that costs)',
    });
  }
  if ((mode === 'sysbox' || mode === 'rootless') && input.guard === false) {
    throw usageError('E_GEN_FLAG_CONFLICT', `--no-guard makes no sense with --mode ${mode}: its daemon is unprivileged and the guard is off by default`, {
      hint: `drop --no-guard, or add --guard to put the guard in front of the ${mode} daemon anyway`,
    });
  }
  if (input.daemonImage !== undefined && mode === 'guarded') {
    throw usageError('E_GEN_FLAG_CONFLICT', '--daemon-image makes no sense with --mode guarded: it uses the engine the node already has', {
      hint: 'use --engine-socket to point the guard at it, or --mode dind for a daemon in the pod',
    });
  }
  if (input.tls && mode !== 'dind' && mode !== 'sysbox') {
    throw usageError('E_GEN_FLAG_CONFLICT', `--tls is for a daemon sidecar (dind, sysbox), not --mode ${mode}`, {
      hint: mode === 'guarded' ? 'the guard talks to the node engine over its unix socket' : 'the rootless daemon is reached over a unix socket on an emptyDir',
    });
  }
  if (input.mtu !== undefined && (mode === 'guarded' || mode === 'rootless')) {
    throw usageError('E_GEN_FLAG_CONFLICT', `--mtu makes no sense with --mode ${mode}`, {
      hint:
        mode === 'guarded'
          ? 'the node engine owns its networks'
          : 'the rootless daemon reaches the pod network through a user-space stack that terminates TCP, so the pod MTU does not reach its containers',
    });
  }
  if ((input.engineSocket !== undefined || input.kubeletDir !== undefined) && mode !== 'guarded') {
    throw usageError('E_GEN_FLAG_CONFLICT', '--engine-socket and --kubelet-dir are for --mode guarded', { hint: 'drop them, or use --mode guarded' });
  }
  if (input.tunResource !== undefined && mode !== 'rootless') {
    throw usageError('E_GEN_FLAG_CONFLICT', '--tun-resource is for --mode rootless', { hint: 'drop it, or use --mode rootless' });
  }
  const guard = input.guard ?? guardDefault;
  if (input.policy !== undefined && !guard) {
    throw usageError('E_GEN_FLAG_CONFLICT', '--policy configures the guard, which is off here', { hint: `add --guard, or drop --policy` });
  }
  const tunResource = input.tunResource ?? DEFAULT_TUN_RESOURCE;
  if (tunResource !== '' && !EXTENDED_RESOURCE.test(tunResource)) {
    throw usageError('E_GEN_INVALID_RESOURCE', `invalid --tun-resource ${JSON.stringify(tunResource)}: not an extended resource name`, {
      hint: `e.g. --tun-resource ${DEFAULT_TUN_RESOURCE}, or --tun-resource '' when the runtime already gives /dev/net/tun`,
    });
  }
  const command = input.command && input.command.length ? input.command : DEFAULT_COMMAND;
  if (command.some((a) => a.includes('\0'))) throw usageError('E_GEN_INVALID_COMMAND', 'the command contains a NUL byte', { hint: 'remove it' });

  const res = (cpu: string | undefined, memory: string | undefined, prefix: string): ResourceSpec => ({
    ...(cpu !== undefined ? { cpu: validateQuantity(`${prefix}cpu`, cpu) } : {}),
    ...(memory !== undefined ? { memory: validateQuantity(`${prefix}memory`, memory) } : {}),
  });
  if (mode === 'guarded' && (input.daemonCpu !== undefined || input.daemonMemory !== undefined)) {
    throw usageError('E_GEN_FLAG_CONFLICT', '--daemon-cpu/--daemon-memory make no sense with --mode guarded: there is no daemon in the pod', { hint: 'drop them' });
  }

  return {
    mode,
    kind,
    name,
    namespace,
    image: validateImage('--image', input.image ?? images.cli),
    daemonImage: mode === 'guarded' ? undefined : validateImage('--daemon-image', input.daemonImage ?? (mode === 'rootless' ? images.dindRootless : images.dind)),
    guardImage: validateImage('--guard-image', input.guardImage ?? nestlingImage(input.nestlingVersion)),
    command,
    tls: Boolean(input.tls),
    mtu: input.mtu === undefined ? undefined : positiveInt('mtu', input.mtu, 1500, 576, 9216),
    guard,
    dockerVersion,
    jobResources: res(input.cpu, input.memory, ''),
    daemonResources: res(input.daemonCpu, input.daemonMemory, 'daemon-'),
    kubeVersion,
    activeDeadlineSeconds: positiveInt('active-deadline', input.activeDeadlineSeconds, DEFAULT_ACTIVE_DEADLINE_SECONDS, 1, 7 * 24 * 3600),
    ttlSecondsAfterFinished: positiveInt('ttl', input.ttlSecondsAfterFinished, DEFAULT_TTL_SECONDS_AFTER_FINISHED, 0, 30 * 24 * 3600),
    engineSocket: absolutePath('engine-socket', input.engineSocket ?? DEFAULT_ENGINE_SOCKET),
    kubeletDir: absolutePath('kubelet-dir', input.kubeletDir ?? DEFAULT_KUBELET_DIR),
    policy: input.policy === undefined ? DEFAULT_POLICY : checkPolicyText(input.policy, input.policySource),
    tunResource,
    workspace: workspacePath(input.workspace ?? DEFAULT_WORKSPACE),
  };
}

/** The workspace must not shadow what the pod relies on (the sockets, certificates, the daemon's data). */
function workspacePath(p: string): string {
  const w = absolutePath('workspace', p);
  const reserved = ['/', '/nestling', '/var/run/nestling', '/certs', '/etc', '/var/lib/docker', '/home/rootless', '/proc', '/sys', '/dev', '/run', '/var/run', '/tmp', '/usr', '/bin', '/sbin', '/lib'];
  if (reserved.some((r) => w === r || (r !== '/' && (w.startsWith(`${r}/`) || r.startsWith(`${w}/`))))) {
    throw usageError('E_GEN_INVALID_PATH', `--workspace ${w} would shadow a path the pod needs`, { hint: `use a directory of its own, e.g. --workspace ${DEFAULT_WORKSPACE}` });
  }
  return w;
}
