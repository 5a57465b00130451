/**
 * A typed subset of the Docker Engine API wire format, from the API v1.41 swagger (moby v20.10
 * api/swagger.yaml, the floor nestling speaks); fields newer APIs added are marked with the version that added them.
 * Field names are verbatim (PascalCase, as the daemon sends them). Request bodies carry an index signature so
 * callers can send fields this subset does not list; responses list what nestling reads.
 */

export type Labels = Record<string, string>;

// ---- system ------------------------------------------------------------------------------------------------------

/** GET /version */
export interface SystemVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
  Components?: { Name: string; Version: string; Details?: Record<string, unknown> }[];
}

/** GET /info (subset) */
export interface SystemInfo {
  ID: string;
  Name: string;
  ServerVersion: string;
  Driver: string;
  DockerRootDir: string;
  OperatingSystem: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  CgroupDriver: string;
  CgroupVersion?: string;
  SecurityOptions: string[];
  Runtimes?: Record<string, { path?: string }>;
  DefaultRuntime?: string;
  Containers: number;
  Images: number;
  Warnings?: string[] | null;
  [key: string]: unknown;
}

/** One line of GET /events */
export interface EventMessage {
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'service' | 'node' | 'secret' | 'config' | string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope?: 'local' | 'swarm';
  time: number;
  timeNano: number;
  /** Deprecated fields still sent by 20.10 for container events. */
  status?: string;
  id?: string;
  from?: string;
}

// ---- containers --------------------------------------------------------------------------------------------------

export interface Mount {
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Labels; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

export interface HostConfig {
  Binds?: string[];
  Mounts?: Mount[];
  NetworkMode?: string;
  PortBindings?: Record<string, PortBinding[] | null>;
  AutoRemove?: boolean;
  Privileged?: boolean;
  CapAdd?: string[];
  CapDrop?: string[];
  SecurityOpt?: string[];
  Devices?: { PathOnHost: string; PathInContainer: string; CgroupPermissions?: string }[];
  PidMode?: string;
  IpcMode?: string;
  UsernsMode?: string;
  Runtime?: string;
  ReadonlyRootfs?: boolean;
  Tmpfs?: Record<string, string>;
  Memory?: number;
  NanoCpus?: number;
  RestartPolicy?: { Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure'; MaximumRetryCount?: number };
  ExtraHosts?: string[];
  Init?: boolean;
  [key: string]: unknown;
}

export interface EndpointSettings {
  Aliases?: string[];
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  MacAddress?: string;
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  [key: string]: unknown;
}

/** POST /containers/create body (ContainerConfig + HostConfig + NetworkingConfig). */
export interface ContainerCreateBody {
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[] | null;
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Hostname?: string;
  Labels?: Labels;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, Record<string, never>>;
  Volumes?: Record<string, Record<string, never>>;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number };
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettings> };
  [key: string]: unknown;
}

/** POST /containers/create answer */
export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[] | null;
}

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string };
}

/** GET /containers/{id}/json (subset) */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  Config: ContainerCreateBody & { Labels?: Labels | null };
  HostConfig: HostConfig;
  Mounts: { Type: string; Name?: string; Source: string; Destination: string; RW: boolean; Mode?: string; Driver?: string }[];
  NetworkSettings: { Networks: Record<string, EndpointSettings>; Ports?: Record<string, PortBinding[] | null> | null; IPAddress?: string };
  RestartCount: number;
  [key: string]: unknown;
}

/** GET /containers/json item */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Labels: Labels | null;
  Ports?: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  Mounts?: unknown[];
  NetworkSettings?: { Networks?: Record<string, EndpointSettings> };
}

/** POST /containers/{id}/wait answer */
export interface WaitResponse {
  StatusCode: number;
  Error?: { Message: string } | null;
}

// ---- exec --------------------------------------------------------------------------------------------------------

/** POST /containers/{id}/exec body */
export interface ExecCreateBody {
  Cmd: string[];
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Privileged?: boolean;
  DetachKeys?: string;
  [key: string]: unknown;
}

/** POST /exec/{id}/start body */
export interface ExecStartBody {
  Detach?: boolean;
  Tty?: boolean;
}

/** GET /exec/{id}/json (subset) */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  ContainerID: string;
  OpenStdin: boolean;
  OpenStdout: boolean;
  OpenStderr: boolean;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user?: string };
  CanRemove?: boolean;
  DetachKeys?: string;
}

// ---- images ------------------------------------------------------------------------------------------------------

/** GET /images/{name}/json (subset) */
export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: string;
  Size: number;
  Architecture: string;
  Os: string;
  Config: { Cmd?: string[] | null; Entrypoint?: string[] | null; Env?: string[] | null; Labels?: Labels | null; User?: string; WorkingDir?: string } | null;
  RootFS: { Type: string; Layers?: string[] };
  [key: string]: unknown;
}

/** GET /images/json item */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  Labels: Labels | null;
  Containers: number;
}

/** DELETE /images/{name} answer item */
export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

/**
 * One line of a progress stream (build, import, pull, push): moby's jsonmessage.JSONMessage. A failed build sends
 * `error` and `errorDetail`; `aux` carries the built image ID (BuildKit-less builds) or other typed payloads.
 */
export interface JsonMessage {
  stream?: string;
  status?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  id?: string;
  from?: string;
  time?: number;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: unknown;
}

// ---- networks ----------------------------------------------------------------------------------------------------

/** POST /networks/create body */
export interface NetworkCreateBody {
  Name: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; IPRange?: string; Gateway?: string }[]; Options?: Record<string, string> };
  Options?: Record<string, string>;
  Labels?: Labels;
  [key: string]: unknown;
}

export interface NetworkCreateResponse {
  Id: string;
  Warning: string;
}

/** GET /networks/{id} and GET /networks items */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  Internal: boolean;
  Attachable: boolean;
  IPAM: { Driver: string; Config: { Subnet?: string; Gateway?: string }[] | null; Options?: Record<string, string> | null };
  Containers?: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string> | null;
  Labels: Labels | null;
}

/** POST /networks/{id}/connect body */
export interface NetworkConnectBody {
  Container: string;
  EndpointConfig?: EndpointSettings;
}

// ---- volumes -----------------------------------------------------------------------------------------------------

/** POST /volumes/create body */
export interface VolumeCreateBody {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Labels;
  [key: string]: unknown;
}

/** A volume, as inspect and list return it */
export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt?: string;
  Labels: Labels | null;
  Scope: 'local' | 'global';
  Options: Record<string, string> | null;
  Status?: Record<string, unknown>;
  UsageData?: { Size: number; RefCount: number } | null;
}

/** GET /volumes answer */
export interface VolumeList {
  Volumes: Volume[] | null;
  Warnings: string[] | null;
}

/** Filters as the daemon takes them: {"label":["a=b"]}, serialised as JSON in the `filters` query parameter. */
export type Filters = Record<string, string[]>;
