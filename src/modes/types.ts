/**
 * The mode framework: every way of giving a job a Docker engine is a Mode with
 *   detect(facts)  -> is it applicable on this host, and why (or why not);
 *   plan(opts)     -> a Plan: pure data (containers, networks, volumes, env, what is relaxed and why), printable
 *                     by `--explain` and `--json`, with no secrets in it;
 *   apply/teardown -> shared by all modes (apply.ts): the plan is what runs.
 */
import type { Engine } from '../engine/client.js';
import type { ImageRefs } from '../images/refs.js';
import type { ProgressFn } from '../util/log.js';
import type { HostFacts, ProbeCache } from './facts.js';

export const MODE_NAMES = ['dood', 'guarded', 'dind', 'rootless', 'sysbox', 'auto'] as const;
export type ModeName = (typeof MODE_NAMES)[number];
/** A mode that actually runs (auto resolves to one of these). */
export type ConcreteModeName = Exclude<ModeName, 'auto'>;

export function isModeName(s: string): s is ModeName {
  return (MODE_NAMES as readonly string[]).includes(s);
}

/** How the job relates to the containers it starts. */
export type Relationship = 'sibling' | 'child';

export interface Detection {
  mode: ConcreteModeName;
  applicable: boolean;
  /** why it is (or is not) applicable, one fact per line */
  reasons: string[];
  /** what the host needs for this mode when it is not applicable */
  needs?: string[] | undefined;
  /** the error code when the user asked for this mode and it is not applicable (default E_MODE_NOT_APPLICABLE) */
  code?: string | undefined;
}

/** Security/isolation profile of a mode, in the terms `--explain` uses. */
export interface ModeProfile {
  mode: ConcreteModeName;
  /** what a job can do to the host through the engine it is given */
  securityRisk: 'host-root' | 'host-root-guarded' | 'privileged-container' | 'privileged-container-guarded' | 'unprivileged' | 'vm-like';
  isolation: string;
  relationship: Relationship;
  setupCost: string;
}

/** Something a mode relaxes from Docker's defaults, and why. */
export interface Relaxation {
  what: string;
  why: string;
}

export type Role = 'job' | 'daemon' | 'guard' | 'cache-lock';

/** The body of POST /containers/create (the subset we use; Docker field names verbatim). */
export interface ContainerBody {
  Image: string;
  Cmd?: string[] | undefined;
  Entrypoint?: string[] | undefined;
  Env?: string[] | undefined;
  User?: string | undefined;
  WorkingDir?: string | undefined;
  Labels: Record<string, string>;
  Tty?: boolean | undefined;
  OpenStdin?: boolean | undefined;
  StdinOnce?: boolean | undefined;
  AttachStdin?: boolean | undefined;
  AttachStdout?: boolean | undefined;
  AttachStderr?: boolean | undefined;
  ExposedPorts?: Record<string, Record<string, never>> | undefined;
  HostConfig: Record<string, unknown>;
  NetworkingConfig?: { EndpointsConfig: Record<string, { Aliases?: string[] }> } | undefined;
}

/** A file written into a container before it starts (PUT /containers/{id}/archive). Never printed. */
export interface FileSpec {
  path: string;
  mode: number;
  uid?: number | undefined;
  gid?: number | undefined;
  /** Where the content comes from at apply time: never inline secrets in a plan. */
  source: 'tls-ca-cert' | 'tls-server-cert' | 'tls-server-key' | 'tls-client-cert' | 'tls-client-key';
}

export interface PlannedContainer {
  role: Role;
  name: string;
  body: ContainerBody;
  files?: FileSpec[] | undefined;
  /** for the daemon: how nestling knows it is ready */
  ready?: { kind: 'ping-tls'; containerPort: number; timeoutMs: number } | { kind: 'ping-unix'; timeoutMs: number } | undefined;
}

export interface PlannedNetwork {
  name: string;
  labels: Record<string, string>;
  options: Record<string, string>;
}

export interface PlannedVolume {
  name: string;
  labels: Record<string, string>;
  /** named caches survive the run */
  keep: boolean;
}

export interface TlsPlan {
  algorithm: 'ecdsa-p256' | 'rsa-2048' | 'rsa-4096';
  sans: string[];
  validityDays: number;
}

export interface GuardPlan {
  /** which engine the guard sits in front of */
  upstream: 'host' | 'inner';
  owner: string;
  /** host directory holding the guard's socket, bind-mounted into the job */
  socketDir: string;
  jobNetwork?: string | undefined;
  /** host directories the job may bind-mount (the workspace) */
  allowBind: string[];
  /** job path -> host path, for bind sources the job names by its own paths (the workspace) */
  mappings: { jobPath: string; hostPath: string }[];
}

export interface Plan {
  mode: ConcreteModeName;
  runId: string;
  owner: string;
  relationship: Relationship;
  networks: PlannedNetwork[];
  volumes: PlannedVolume[];
  /** in start order; the job is last */
  containers: PlannedContainer[];
  /** the variables the job gets (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, TESTCONTAINERS_*) */
  jobEnv: Record<string, string>;
  tls?: TlsPlan | undefined;
  guard?: GuardPlan | undefined;
  cache?: { key: string; volume: string; policy: 'wait'; /** where the volume is mounted in the daemon */ dataRoot: string } | undefined;
  preload: string[];
  relaxed: Relaxation[];
  warnings: string[];
  notes: string[];
}

/** What the user asked for (flags resolved by the CLI). */
export interface RunOptions {
  mode: ModeName;
  /** the job image; default: the official/local docker CLI image */
  image?: string | undefined;
  /** the inner daemon image (dind, rootless, sysbox) */
  daemonImage?: string | undefined;
  images: 'official' | 'local';
  /** the image refs resolved by the caller (flags, NESTLING_*_IMAGE, the set); default: the set's */
  imageRefs?: ImageRefs | undefined;
  preload: string[];
  /** host directory mounted into the job (and the inner daemon) */
  workspace?: string | undefined;
  /** where the workspace appears in the job (default: the same path as on the host) */
  workspaceTarget?: string | undefined;
  env: string[];
  cmd: string[];
  cache?: string | undefined;
  /** put the guard in front of the engine (dind: default false; guarded: always) */
  guard?: boolean | undefined;
  /** a locally built dockerd binary bind-mounted as the inner daemon */
  dockerd?: string | undefined;
  user?: string | undefined;
  /** rootless: the uid[:gid] the image's rootless user is remapped to */
  daemonUser?: string | undefined;
  tty: boolean;
  interactive: boolean;
  /** TLS key type for dind */
  rsa?: boolean | undefined;
  /** a name for `up` (long-lived: no pid label, so reapers leave it alone) */
  name?: string | undefined;
  /** a run id (tests pass one); default random */
  runId?: string | undefined;
}

export interface ModeContext {
  engine: Engine;
  facts: HostFacts;
  /** "<hostname>:<pid>:<starttime>" of the nestling process, or "none" for `up` */
  pidLabel: string;
  /** the host directory where run state lives (guard sockets, client certs for `up`) */
  stateDir: string;
  progress: ProgressFn;
  /** docker version used for official image tags */
  dockerVersion: string;
  /** where probe results are remembered between runs */
  probeCache?: ProbeCache | undefined;
}

export interface Mode {
  name: ConcreteModeName;
  profile: ModeProfile;
  detect(facts: HostFacts): Detection;
  plan(opts: RunOptions, ctx: ModeContext): Plan;
}
