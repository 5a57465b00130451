/**
 * The contract between the guard's two halves:
 *   - the *decider* (routes/, match.ts, go-json.ts, rules/, ownership.ts, decide.ts, policy-file.ts): pure logic,
 *     `decide(view, ctx) -> Decision`, no sockets;
 *   - the *server* (server.ts, http-parser.ts, tunnel.ts, oracle.ts, reaper.ts, path-map discovery): moves bytes,
 *     implements the OwnershipOracle against the upstream engine, applies Decisions.
 * Change this file only with both halves in mind.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { BindPinner } from './pins.js';
import type { TagReservations } from './tag-reservations.js';

/** How a route's request and response move. */
export type RouteKind =
  /** plain request/response (JSON or empty body) */
  | 'plain'
  /** a long or large response stream (logs -f, events, stats, pull progress, image save, export) */
  | 'stream'
  /** request body is a stream to pass through (build context tar, image load, import, archive PUT) */
  | 'upload'
  /** attach / exec start: the daemon answers 101 (Upgrade: tcp) or 200 and then hijacks the connection */
  | 'hijack'
  /** /session and /grpc: upgrade to h2c (BuildKit) */
  | 'h2c';

/** Object kinds the guard tracks ownership of. */
export type ObjectKind = 'container' | 'exec' | 'network' | 'volume' | 'image';

export interface RouteDef {
  /** stable id, e.g. "container-create", used in logs, policy files and docs */
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';
  /** moby's path template, e.g. "/containers/{name:.*}/attach" */
  path: string;
  /** moby router area: container, image, network, volume, exec, system, build, plugin, swarm, session, grpc, distribution */
  area: string;
  kind: RouteKind;
  /** what the request body is */
  body: 'none' | 'json' | 'tar' | 'raw';
}

/** The request as the decider sees it: canonical, already fully read (except streamed upload bodies). */
export interface RequestView {
  method: string;
  /** the request target as received, for logs */
  rawTarget: string;
  /** canonical path, no /vX.Y prefix, percent-decoded per segment by the matcher */
  path: string;
  /** API version from the /vX.Y prefix, if any */
  apiVersion: string | undefined;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** the raw JSON body bytes (for body: 'json' routes); undefined when the route takes no body */
  body: Buffer | undefined;
}

export interface OwnedRef {
  /** full id of the object */
  id: string;
  /** true when the object carries this guard's owner label (for execs: its container does) */
  owned: boolean;
}

/**
 * Ownership facts from the upstream engine. Implemented by the server (inspect calls, cached briefly); the decider
 * only asks. `undefined` = no such object.
 */
export interface OwnershipOracle {
  lookup(kind: ObjectKind, idOrName: string, signal?: AbortSignal): Promise<OwnedRef | undefined>;
  /** For image tags: does this reference exist, and was it created/tagged by this owner? */
  lookupImageRef(ref: string, signal?: AbortSignal): Promise<OwnedRef | undefined>;
  /**
   * Optional (added by the decider): how many objects of a kind this owner has now (for containers: all states).
   * Needed to enforce policy quotas.containersPerJob; without it such a policy refuses container creates.
   */
  countOwned?(kind: ObjectKind, signal?: AbortSignal): Promise<number>;
  /**
   * Optional (added by the decider): the limits of each of this owner's containers (all states), for the per-job
   * quotas (quotas.jobMemoryBytes, jobNanoCpus, jobPidsLimit); without it such a policy refuses container creates.
   */
  ownedLimits?(signal?: AbortSignal): Promise<ContainerLimits[]>;
  /**
   * Optional: the host paths a container will mount when it starts: bind sources (HostConfig.Binds, Mounts of type
   * bind) and the devices of `local` volumes mounted with o=bind. Needed to check them again at start and restart
   * (rule bind-swapped); without it, starting a container that binds host paths is refused.
   */
  hostSources?(containerId: string, signal?: AbortSignal): Promise<HostSource[] | undefined>;
  /** Optional: the exposed ports of an image (`80/tcp` ...; undefined: no such image), for `-P`. */
  imageExposedPorts?(ref: string, signal?: AbortSignal): Promise<string[] | undefined>;
  /** Optional: the labels of an image (undefined: no such image). */
  imageLabels?(ref: string, signal?: AbortSignal): Promise<Record<string, string> | undefined>;
  /** Optional: the host directory a `local` volume mounts with o=bind (undefined: none, or no such volume). */
  volumeBindDevice?(name: string, signal?: AbortSignal): Promise<string | undefined>;
}

/** A host path a container mounts, and where the request named it (for the refusal message). */
export interface HostSource {
  field: string;
  path: string;
}

/** One container's resource limits as the daemon reports them; 0 = no limit (CPU from CpuQuota/CpuPeriod too). */
export interface ContainerLimits {
  id: string;
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
}

/** Job path -> host path translation for bind sources (from --map, or discovered from the job container). */
export interface PathMapping {
  jobPath: string;
  hostPath: string;
}

export interface DecideContext {
  owner: string;
  policy: EffectivePolicy;
  oracle: OwnershipOracle;
  mappings: readonly PathMapping[];
  /** realpath on the host, resolving symlinks (the deepest existing ancestor for paths that do not exist yet) */
  resolveHostPath(p: string): Promise<string>;
  /** the per-job network containers are attached to by default (guarded mode), if any */
  jobNetwork?: string | undefined;
  /**
   * Host paths of this guard's own unix socket. A bind of exactly one of them is allowed: the container gets the
   * same owner's guarded API, not the engine (what Testcontainers' Ryuk and other socket-mounting helpers need).
   */
  selfSockets?: readonly string[] | undefined;
  /**
   * Bind pins (pins.ts): when set, checked host paths are forwarded as pin paths and mounted from a descriptor at
   * each start, so a symlink swapped in after the check cannot redirect the daemon's mount.
   */
  pins?: BindPinner | undefined;
  /**
   * Tag reservations shared by the host's guards (tag-reservations.ts): a write to a tag that does not exist yet
   * reserves it for this owner until the guard stops, so a build that finishes later cannot move it after another
   * owner made it.
   */
  tags?: TagReservations | undefined;
  signal?: AbortSignal | undefined;
}

/** The policy after defaults + file + flags: the baseline only gets relaxed by the file. */
export interface EffectivePolicy {
  version: 1;
  /** host directories bind sources may be under (after normalisation and symlink resolution) */
  allowBind: string[];
  /** capabilities allowed in CapAdd beyond Docker's default set */
  allowCaps: string[];
  /** runtimes allowed besides the default (runc) */
  allowRuntimes: string[];
  /** host port ranges a job may publish, e.g. [{from: 1024, to: 65535}]; empty = any unprivileged */
  hostPorts: { from: number; to: number }[];
  quotas: {
    memoryBytes?: number | undefined;
    nanoCpus?: number | undefined;
    pidsLimit?: number | undefined;
    containersPerJob?: number | undefined;
    /** host ports one container may publish (default 1024): each is a listener on the host */
    publishedPorts?: number | undefined;
    /** sums over the owner's containers (all states); each needs its per-container quota */
    jobMemoryBytes?: number | undefined;
    jobNanoCpus?: number | undefined;
    jobPidsLimit?: number | undefined;
  };
  defaults: {
    cgroupParent?: string | undefined;
    user?: string | undefined;
  };
  /** maximum JSON body size in bytes (413 above) */
  maxBodyBytes: number;
}

/** What to do with a request. */
export type Decision =
  | {
      action: 'forward';
      route: RouteDef;
      /** replacements to apply before forwarding; what is forwarded is exactly what was checked */
      rewrite?: {
        /** new path+query for upstream (e.g. label filters added, names resolved) */
        target?: string | undefined;
        /** canonical JSON body to forward instead of the original */
        body?: Buffer | undefined;
      };
      /** how the server must post-process the response body (list filtering the query cannot do) */
      responseFilter?: ResponseFilter | undefined;
      /** an upload the server reads while it streams it (image-load: the archive's tags are checked before the
       *  engine gets the end of it; see image-load.ts) */
      uploadCheck?: 'image-load' | undefined;
      /** the tunnel kind, for hijack/h2c routes */
      tunnel?: 'hijack' | 'h2c' | undefined;
      /** logging: notes about rewrites (e.g. "bind /work -> /srv/jobs/1/work") */
      notes?: string[] | undefined;
    }
  | {
      action: 'deny';
      route: RouteDef | undefined;
      status: 400 | 403 | 404 | 405 | 409 | 413 | 501;
      /** rule id (kebab-case), e.g. "no-privileged"; "not-found" for ownership 404s */
      rule: string;
      /** the daemon-shaped message, e.g. "nestling guard: denied by rule no-privileged: HostConfig.Privileged=true"
       *  or "No such container: x" */
      message: string;
    };

export type ResponseFilter = 'system-df' | 'images-list' | 'events' | 'network-list' | 'network-inspect';

export type Decide = (view: RequestView, ctx: DecideContext) => Promise<Decision>;

/** The denial message format every rule uses. */
export function denialMessage(rule: string, field: string, value: unknown): string {
  const v = typeof value === 'string' ? value : JSON.stringify(value);
  return `nestling guard: denied by rule ${rule}: ${field}=${v}`;
}
