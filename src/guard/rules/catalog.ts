/**
 * Every rule id the decider can answer with, and what it is about. docs/policy.md documents each (a test checks
 * that every id here appears there).
 */
export const RULES = {
  // request shape
  'unknown-route': 'a method+path that is not in the route table',
  'method-not-allowed': 'a known path with a method it does not take',
  'bad-target': 'a request target that is not origin-form, has control characters or invalid escapes',
  'ambiguous-path': 'a path the daemon would redirect (`..`, `.`, `//`)',
  'bad-api-version': 'a /vX prefix that is not /vMAJOR.MINOR',
  'bad-query': 'a query Go would fail to parse (`;`, invalid escapes) or a duplicated key the guard inspects',
  'bad-content-type': 'form-encoded or multipart bodies, which Go merges into the query parameters',
  'invalid-body': 'a JSON body the daemon would not decode (syntax, types, trailing data) or an empty one',
  'bad-filters': 'a `filters` parameter that is not valid filter JSON',
  // privilege
  'no-privileged': 'HostConfig.Privileged',
  'cap-add': 'HostConfig.CapAdd / Capabilities beyond Docker default set and the policy allowCaps',
  'security-opt': 'HostConfig.SecurityOpt (and build securityopt) relaxing seccomp, apparmor, label, systempaths, no-new-privileges',
  'masked-paths': 'HostConfig.MaskedPaths / ReadonlyPaths overriding the default masks',
  'host-namespace': 'NetworkMode/PidMode/IpcMode/UTSMode/UsernsMode/CgroupnsMode = host, network connect to host',
  'no-devices': 'HostConfig.Devices, DeviceCgroupRules, DeviceRequests',
  'bind-outside-allowlist': 'bind mount sources (Binds, Mounts, local volumes with o=bind) outside the allowBind dirs',
  'restart-host-path': 'a restart policy on a container that mounts host paths (the daemon would mount them again on its own, unchecked)',
  'bind-swapped': 'starting a container whose bind source (or o=bind volume device) no longer resolves to the checked path (a symlink swapped in after create)',
  'volume-driver': 'a volume driver other than local (VolumeDriver, Mounts DriverConfig, volume create)',
  'volume-driver-opts': 'local-driver options that mount host devices or remote filesystems',
  'runtime': 'HostConfig.Runtime other than runc and the policy allowRuntimes',
  'cgroup-parent': 'HostConfig.CgroupParent (or build cgroupparent) other than the forced default',
  'sysctl': 'HostConfig.Sysctls outside the namespaced net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*',
  'oom-score-adj': 'a negative HostConfig.OomScoreAdj',
  'log-driver': 'HostConfig.LogConfig.Type other than json-file, local, none',
  'host-port': 'published host ports below 1024 or outside the policy hostPorts ranges',
  'quota': 'Memory, NanoCpus, PidsLimit beyond the policy quotas',
  'forced-user': 'a user other than the policy defaults.user',
  'exec-privileged': 'a privileged exec',
  'reserved-label': 'labels under io.nestling.* set by the job',
  'name-conflict': 'a container, network or volume name another owner already uses',
  'network-driver': 'network drivers other than bridge, and swarm/ingress networks',
  'network-option': 'bridge driver options other than mtu, icc, masquerade and interface prefix',
  'build-host-network': 'builds with networkmode=host (BuildKit entitlement network.host)',
  'image-not-owned': 'tag over, push, or delete of an image reference this owner did not create',
  'image-load': 'image load of an archive the guard cannot read (a manifest that is a link, bzip2/xz/zstd, a malformed tar)',
  'daemon-fetch': 'import from a URL and remote build contexts: the daemon would fetch from the host network',
  'not-found': 'an object this owner does not own (answered as the daemon answers for a missing object)',
  'no-plugin': 'plugin endpoints',
  'no-swarm': 'swarm, services, nodes, tasks, secrets, configs',
  'no-checkpoint': 'checkpoint endpoints (experimental, CRIU)',
  'no-debug': 'the daemon debug endpoints',
  'no-grpc': 'BuildKit /grpc control API (its entitlements cannot be inspected)',
  'system-wide': 'endpoints acting on the whole daemon (build cache prune, removing a predefined network)',
} as const;

export type RuleId = keyof typeof RULES;
