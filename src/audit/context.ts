/**
 * What an audit check gets: the engine to scan, the scope (so a scan can be limited to some containers), the host
 * root for process and socket facts, and per-run memoised reads of the engine (containers inspected once).
 */
import type { Engine } from '../engine/client.js';
import type { HostRoot } from '../host/fs.js';
import type { Check } from '../checks/runner.js';

export interface ContainerView {
  Id: string;
  Name: string;
  State?: { Running?: boolean; Status?: string } | null;
  Config?: { Image?: string; Env?: string[] | null; Labels?: Record<string, string> | null } | null;
  HostConfig?: {
    Privileged?: boolean;
    PidMode?: string;
    NetworkMode?: string;
    IpcMode?: string;
    UTSMode?: string;
    UsernsMode?: string;
    CgroupnsMode?: string;
    CapAdd?: string[] | null;
    SecurityOpt?: string[] | null;
    Devices?: { PathOnHost?: string }[] | null;
    Binds?: string[] | null;
  } | null;
  Mounts?: { Type?: string; Source?: string; Destination?: string; RW?: boolean }[] | null;
}

export interface EngineInfoView {
  ServerVersion?: string;
  Plugins?: { Authorization?: string[] | null } | null;
  SecurityOptions?: string[] | null;
  OperatingSystem?: string;
}

export interface AuditScope {
  /** Only containers whose name starts with this. */
  namePrefix?: string | undefined;
  /** Only containers with these labels (key or key=value), as `docker ps --filter label=`. */
  labels?: string[] | undefined;
}

export interface AuditEnvironment {
  engine: Engine;
  scope: AuditScope;
  /** Also scan this machine's processes and sockets (dockerd command lines, TCP listeners, daemon.json). */
  scanHost: boolean;
  host: HostRoot;
}

export interface AuditReads {
  containers(): Promise<ContainerView[]>;
  info(): Promise<EngineInfoView>;
}

export type AuditCheck = Check<AuditEnvironment & { read: AuditReads }>;

function memo<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

export function auditReads(e: AuditEnvironment, signal?: AbortSignal): AuditReads {
  return {
    containers: memo(async () => {
      const filters: Record<string, string[]> = {};
      if (e.scope.labels?.length) filters.label = e.scope.labels;
      const list = await e.engine.json<{ Id: string; Names?: string[] }[]>({
        method: 'GET',
        path: '/containers/json',
        query: { all: true, ...(Object.keys(filters).length ? { filters: JSON.stringify(filters) } : {}) },
        signal,
      });
      const prefix = e.scope.namePrefix;
      const picked = prefix ? list.filter((c) => (c.Names ?? []).some((n) => n.replace(/^\//, '').startsWith(prefix))) : list;
      const out: ContainerView[] = [];
      for (const c of picked.slice(0, 2000)) {
        try {
          out.push(await e.engine.json<ContainerView>({ method: 'GET', path: `/containers/${c.Id}/json`, signal }));
        } catch {
          /* removed between list and inspect */
        }
      }
      return out;
    }),
    info: memo(() => e.engine.json<EngineInfoView>({ method: 'GET', path: '/info', signal })),
  };
}

export function containerLabel(c: ContainerView): string {
  return `${c.Name.replace(/^\//, '')} (${c.Id.slice(0, 12)}, image ${c.Config?.Image ?? '?'}${c.State?.Running ? '' : ', not running'})`;
}
