/** Typed keys of the facts doctor probes share (and that the recommendation reads). */
import type { FactStore } from '../checks/runner.js';
import type { ContainerFacts } from '../host/container.js';
import type { CapabilityFacts } from '../host/process.js';
import type { UserNamespaceFacts } from '../host/userns.js';
import type { CgroupFacts } from '../host/cgroup.js';
import type { DeviceFacts } from '../host/devices.js';
import type { IptablesFacts } from '../host/iptables.js';
import type { LsmFacts } from '../host/lsm.js';
import type { DefaultRoute } from '../host/net.js';
import type { EngineEndpoint } from '../engine/transport.js';

export interface EngineFacts {
  reachable: boolean;
  reason: string;
  endpoint: string;
  serverVersion?: string | undefined;
  apiVersion?: string | undefined;
  minApiVersion?: string | undefined;
  os?: string | undefined;
  operatingSystem?: string | undefined;
  securityOptions?: string[] | undefined;
  runtimes?: string[] | undefined;
  defaultRuntime?: string | undefined;
  dockerRootDir?: string | undefined;
  driver?: string | undefined;
  cgroupVersion?: string | undefined;
  authorizationPlugins?: string[] | undefined;
  /** Podman answers /version with a component named "Podman Engine". */
  components?: string[] | undefined;
}

export interface EngineKind {
  kind: 'docker' | 'rootless-docker' | 'podman' | 'rootless-podman' | 'docker-desktop' | 'unknown';
  reason: string;
}

export interface CliFacts {
  path: string | undefined;
  runs: boolean;
  version: string | undefined;
  missingLibraries: { library: string; package: string | undefined }[];
}

export interface Key<T> {
  name: string;
  /** phantom, for inference only */
  readonly _t?: T;
}
const key = <T>(name: string): Key<T> => ({ name });

export const Facts = {
  container: key<ContainerFacts>('container'),
  capabilities: key<CapabilityFacts>('capabilities'),
  endpoint: key<EngineEndpoint>('endpoint'),
  socketUsable: key<boolean>('socketUsable'),
  engine: key<EngineFacts>('engine'),
  engineKind: key<EngineKind>('engineKind'),
  userns: key<UserNamespaceFacts>('userns'),
  cgroup: key<CgroupFacts>('cgroup'),
  devices: key<{ fuse: DeviceFacts; tun: DeviceFacts }>('devices'),
  iptables: key<IptablesFacts>('iptables'),
  lsm: key<LsmFacts>('lsm'),
  mtu: key<DefaultRoute>('mtu'),
  sysbox: key<boolean>('sysbox'),
  dataRootOnOverlay: key<boolean>('dataRootOnOverlay'),
  cli: key<CliFacts>('cli'),
  seccomp: key<number>('seccomp'),
} as const;

export function getFact<T>(facts: FactStore, k: Key<T>): Promise<T | undefined> {
  return facts.get<T>(k.name);
}
export function setFact<T>(facts: FactStore, k: Key<T>, v: T): void {
  facts.set(k.name, v);
}
