/** `nestling ci` input -> a validated CiSpec. Refusals are usage errors (exit 2) with a hint. */
import { usageError } from '../../util/errors.js';
import { DOCKER_VERSION, dockerImages, nestlingImage } from '../defaults.js';
import { validateDnsLabel, validateImage } from '../k8s/options.js';

export const CI_PLATFORMS = ['gitlab', 'github', 'jenkins'] as const;
export type CiPlatform = (typeof CI_PLATFORMS)[number];
export const CI_MODES = ['dind', 'guarded', 'rootless', 'sysbox'] as const;
export type CiMode = (typeof CI_MODES)[number];

export interface CiInput {
  platform: string;
  mode: string;
  name?: string | undefined;
  image?: string | undefined;
  daemonImage?: string | undefined;
  guardImage?: string | undefined;
  dockerVersion?: string | undefined;
  /** shell command line the job runs */
  script?: string | undefined;
  /** undefined: the platform/mode default */
  guard?: boolean | undefined;
  /** github: the Actions Runner Controller values.yaml instead of a workflow */
  arc?: boolean | undefined;
  /** jenkins: a Kubernetes pod template (default) or a docker agent */
  agent?: string | undefined;
  nestlingVersion: string;
}

export interface CiSpec {
  platform: CiPlatform;
  mode: CiMode;
  name: string;
  image: string;
  daemonImage: string;
  guardImage: string;
  dockerVersion: string;
  script: string;
  guard: boolean;
  arc: boolean;
  agent: 'kubernetes' | 'docker';
  nestlingVersion: string;
}

export const DEFAULT_CI_SCRIPT = 'docker version && docker info';

/** Quotes an argv for a POSIX shell (what the CI platforms run `script:`/`run:`/`sh` lines with). */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function resolveCiSpec(input: CiInput): CiSpec {
  const platform = input.platform;
  if (!(CI_PLATFORMS as readonly string[]).includes(platform)) {
    throw usageError('E_GEN_UNKNOWN_PLATFORM', `unknown CI platform ${JSON.stringify(platform)}`, { hint: `choose one of ${CI_PLATFORMS.join(', ')}` });
  }
  const mode = input.mode;
  if (!(CI_MODES as readonly string[]).includes(mode)) {
    throw usageError('E_GEN_UNKNOWN_MODE', `unknown mode ${JSON.stringify(mode)} for CI configuration`, {
      hint: `choose one of ${CI_MODES.join(', ')} (plain dood is what nestling exists to avoid: use guarded)`,
    });
  }
  const p = platform as CiPlatform;
  const m = mode as CiMode;
  const dockerVersion = input.dockerVersion ?? DOCKER_VERSION;
  if (!/^[0-9]+(\.[0-9]+){0,2}$/.test(dockerVersion)) {
    throw usageError('E_GEN_DOCKER_VERSION', `invalid --docker-version ${JSON.stringify(dockerVersion)}`, { hint: `e.g. --docker-version ${DOCKER_VERSION}` });
  }
  const images = dockerImages(dockerVersion);
  if (input.arc && p !== 'github') {
    throw usageError('E_GEN_FLAG_CONFLICT', '--arc is the GitHub Actions Runner Controller: only with `nestling ci github`', { hint: 'drop --arc' });
  }
  const agent = input.agent ?? 'kubernetes';
  if (agent !== 'kubernetes' && agent !== 'docker') {
    throw usageError('E_GEN_FLAG_CONFLICT', `unknown --agent ${JSON.stringify(agent)}`, { hint: 'choose kubernetes or docker' });
  }
  if (input.agent !== undefined && p !== 'jenkins') {
    throw usageError('E_GEN_FLAG_CONFLICT', '--agent is for `nestling ci jenkins`', { hint: 'drop --agent' });
  }
  if (p === 'jenkins' && agent === 'docker' && m !== 'guarded') {
    throw usageError('E_GEN_FLAG_CONFLICT', `a Jenkins docker agent supports --mode guarded only (a ${m} daemon needs a sidecar: use the kubernetes agent)`, {
      hint: `use --agent kubernetes with --mode ${m}, or --mode guarded with --agent docker`,
    });
  }
  if (m === 'guarded' && input.guard === false) {
    throw usageError('E_GEN_FLAG_CONFLICT', 'guarded mode is the guard: --no-guard contradicts it', { hint: 'use --mode dind --no-guard for an unguarded engine' });
  }
  // Where a guard can sit in front of a daemon: in a pod (Kubernetes agent, ARC). On GitLab's docker executor and
  // GitHub service containers the job shares the TLS client certificates with any guard, so it could go around it.
  const podBased = (p === 'jenkins' && agent === 'kubernetes') || (p === 'github' && Boolean(input.arc));
  if (input.guard === true && !podBased && m !== 'guarded') {
    throw usageError('E_GEN_FLAG_CONFLICT', `--guard with --mode ${m} is not possible on ${p === 'github' ? 'GitHub service containers' : p === 'gitlab' ? "GitLab's services" : 'a docker agent'}: the job gets the daemon's client certificates and could go around the guard`, {
      hint: p === 'github' ? 'use --arc (a runner pod with the guard as a sidecar), or --mode guarded' : p === 'gitlab' ? 'use --mode guarded, or the Kubernetes executor with `nestling k8s`' : 'use --agent kubernetes',
    });
  }
  if ((m === 'rootless' || m === 'sysbox') && input.guard === false) {
    throw usageError('E_GEN_FLAG_CONFLICT', `--no-guard makes no sense with --mode ${m}: its daemon is unprivileged and the guard is off by default`, { hint: 'drop --no-guard' });
  }
  const guard = m === 'guarded' ? true : (input.guard ?? (podBased && m === 'dind'));
  if (input.daemonImage !== undefined && m === 'guarded') {
    throw usageError('E_GEN_FLAG_CONFLICT', '--daemon-image makes no sense with --mode guarded: it uses the engine the host already has', { hint: 'drop --daemon-image' });
  }
  const script = input.script ?? DEFAULT_CI_SCRIPT;
  if (script.trim() === '' || script.includes('\0')) throw usageError('E_GEN_INVALID_COMMAND', 'the job command is empty or contains a NUL byte', { hint: `e.g. --command '${DEFAULT_CI_SCRIPT}'` });
  return {
    platform: p,
    mode: m,
    name: validateDnsLabel('name', input.name ?? 'nestling-job', 56),
    image: validateImage('--image', input.image ?? images.cli),
    daemonImage: validateImage('--daemon-image', input.daemonImage ?? (m === 'rootless' ? images.dindRootless : images.dind)),
    guardImage: validateImage('--guard-image', input.guardImage ?? nestlingImage(input.nestlingVersion)),
    dockerVersion,
    script,
    guard,
    arc: Boolean(input.arc),
    agent,
    nestlingVersion: input.nestlingVersion,
  };
}
