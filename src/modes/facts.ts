/**
 * What a mode needs to know about the host engine, learned from `docker info` and, where only trying tells,
 * from short probe containers (can it grant --privileged? user namespaces and /dev/net/tun for rootless?).
 * Facts are plain data, so `nestling doctor` and `--explain` can show them and unit tests can fake them.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { Engine } from '../engine/client.js';
import { Labels } from '../util/labels.js';
import { runProbe } from './engine-ops.js';
import { decodeCapMask, isCapsFailure, knownCapabilities, missingCapabilities } from './privilege.js';

export interface PrivilegeFacts {
  /** --privileged works on this engine */
  granted: boolean;
  reason: string;
  /** capabilities the engine can grant (its bounding set, known to this engine version) */
  caps: string[];
  /** capabilities --privileged would add that this engine cannot grant */
  missing: string[];
}

export interface UsernsFacts {
  ok: boolean;
  reason: string;
  /** probed: Docker's default seccomp profile refuses what rootlesskit needs (undefined: not probed) */
  needsSeccompUnconfined?: boolean | undefined;
  /** probed: masked /proc paths stop rootlesskit's new /proc (undefined: not probed) */
  needsSystempaths?: boolean | undefined;
}

export interface HostFacts {
  engineUrl: string;
  /** the engine's `docker info` ID: probe results are cached per engine */
  engineId: string;
  /** a unix socket on this machine: bind mounts of nestling's own files work */
  engineLocal: boolean;
  /** the engine runs on this machine (a local socket, or tcp to a loopback address): its published loopback ports are ours */
  engineOnLoopback: boolean;
  socketPath?: string | undefined;
  socketGid?: number | undefined;
  serverVersion: string;
  apiVersion: string;
  osType: string;
  kernelVersion: string;
  cgroupVersion: '1' | '2';
  cgroupDriver: string;
  runtimes: string[];
  /** the engine itself runs rootless */
  rootlessEngine: boolean;
  securityOptions: string[];
  /** MTU of the engine's default bridge network */
  mtu: number;
  /** filled by probePrivilege() */
  privilege?: PrivilegeFacts | undefined;
  /** filled by probeUserns() */
  userns?: UsernsFacts | undefined;
}

interface InfoWire {
  ID?: string;
  ServerVersion?: string;
  OSType?: string;
  KernelVersion?: string;
  CgroupVersion?: string;
  CgroupDriver?: string;
  Runtimes?: Record<string, unknown> | null;
  SecurityOptions?: string[] | null;
}

export async function gatherFacts(engine: Engine, signal?: AbortSignal): Promise<HostFacts> {
  const apiVersion = await engine.negotiate(signal);
  const info = await engine.json<InfoWire>({ method: 'GET', path: '/info', signal });
  let mtu = 1500;
  try {
    const br = await engine.json<{ Options?: Record<string, string> | null }>({ method: 'GET', path: '/networks/bridge', signal });
    const m = Number(br.Options?.['com.docker.network.driver.mtu']);
    if (Number.isInteger(m) && m >= 576 && m <= 65535) mtu = m;
  } catch {
    /* no default bridge (engine started with --bridge=none): keep 1500 */
  }
  const ep = engine.endpoint;
  let socketGid: number | undefined;
  if (ep.kind === 'unix' && ep.socketPath) {
    try {
      socketGid = statSync(ep.socketPath).gid;
    } catch {
      /* not on this machine */
    }
  }
  const securityOptions = info.SecurityOptions ?? [];
  return {
    engineUrl: ep.url,
    engineId: info.ID ?? '',
    engineLocal: ep.kind === 'unix' && socketGid !== undefined,
    engineOnLoopback: (ep.kind === 'unix' && socketGid !== undefined) || (ep.kind === 'tcp' && /^(127\.|localhost$|::1$)/.test(ep.host ?? '')),
    socketPath: ep.socketPath,
    socketGid,
    serverVersion: info.ServerVersion ?? 'unknown',
    apiVersion,
    osType: info.OSType ?? 'linux',
    kernelVersion: info.KernelVersion ?? '',
    cgroupVersion: info.CgroupVersion === '2' ? '2' : '1',
    cgroupDriver: info.CgroupDriver ?? 'cgroupfs',
    runtimes: Object.keys(info.Runtimes ?? {}).sort(),
    rootlessEngine: securityOptions.some((s) => s.includes('name=rootless')),
    securityOptions,
    mtu,
  };
}

export interface ProbeOptions {
  /** an image present on the engine with sh, grep and unshare (the daemon image) */
  image: string;
  /** labels for the probe container (managed, run, pid) so a reaper finds it */
  labels: Record<string, string>;
  signal?: AbortSignal | undefined;
}

const probeName = () => `nestling-probe-${randomBytes(4).toString('hex')}`;

/**
 * Tries --privileged; when runc refuses ("unable to apply caps"), reads the engine's bounding set from the
 * container shim (a pid=host probe: /proc/$PPID/status) to build the explicit equivalent.
 */
export async function probePrivilege(engine: Engine, facts: HostFacts, opts: ProbeOptions): Promise<PrivilegeFacts> {
  const labels = { ...opts.labels, [Labels.role]: 'probe' };
  const known = knownCapabilities(facts.serverVersion);
  const priv = await runProbe(
    engine,
    probeName(),
    { Image: opts.image, Entrypoint: ['sh', '-c', 'exit 0'], Labels: labels, HostConfig: { Privileged: true, NetworkMode: 'none' } },
    opts.signal,
  );
  if (!priv.startError && priv.exitCode === 0) {
    return { granted: true, reason: 'a --privileged probe container started', caps: [...known], missing: [] };
  }
  const why = priv.startError?.engineMessage ?? `exit ${priv.exitCode}`;
  const bnd = await runProbe(
    engine,
    probeName(),
    {
      Image: opts.image,
      Entrypoint: ['sh', '-c', 'grep CapBnd /proc/$PPID/status'],
      Labels: labels,
      HostConfig: { PidMode: 'host', NetworkMode: 'none' },
    },
    opts.signal,
  );
  const m = /CapBnd:\s*([0-9a-f]+)/i.exec(bnd.output);
  const bounding = m?.[1] ? decodeCapMask(m[1]) : [];
  const caps = known.filter((c) => bounding.includes(c));
  const missing = missingCapabilities(bounding, known);
  const reason = isCapsFailure(why)
    ? `--privileged fails on this engine (runc: "unable to apply caps"): its bounding set lacks ${missing.map((c) => `CAP_${c}`).join(', ') || 'a capability'}`
    : `--privileged fails on this engine: ${why}`;
  return { granted: false, reason, caps: caps.length ? caps : [...known], missing };
}

/** What rootlesskit does first: a user namespace with its own mount and pid namespaces and a fresh /proc. */
const USERNS_SCRIPT = 'unshare -U -r -m -p -f --mount-proc true 2>&1 || { echo "userns: unshare -U -m -p --mount-proc failed"; exit 3; }';

/**
 * Rootless needs user namespaces in an unprivileged container and /dev/net/tun. With everything relaxed that the
 * rootless mode may relax, the probe must pass (else the mode is not applicable); then two more probes tell
 * whether this host needs seccomp=unconfined (Docker's default profile may allow the calls) and
 * systempaths=unconfined (masked /proc paths may not stop a new /proc), so the mode relaxes only what is needed.
 */
export async function probeUserns(engine: Engine, opts: ProbeOptions): Promise<UsernsFacts> {
  const probe = (script: string, seccomp: boolean, systempaths: boolean) =>
    runProbe(
      engine,
      probeName(),
      {
        Image: opts.image,
        User: '0',
        Entrypoint: ['sh', '-c', script],
        Labels: { ...opts.labels, [Labels.role]: 'probe' },
        HostConfig: {
          NetworkMode: 'none',
          SecurityOpt: [...(seccomp ? ['seccomp=unconfined'] : []), 'apparmor=unconfined'],
          ...(systempaths ? { MaskedPaths: [], ReadonlyPaths: [] } : {}),
          Devices: [{ PathOnHost: '/dev/net/tun', PathInContainer: '/dev/net/tun', CgroupPermissions: 'rwm' }],
        },
      },
      opts.signal,
    );
  const r = await probe(`${USERNS_SCRIPT}; test -c /dev/net/tun || { echo "no /dev/net/tun"; exit 4; }; echo ok`, true, true);
  if (r.startError) return { ok: false, reason: `the probe could not start: ${r.startError.engineMessage ?? r.startError.message}` };
  if (r.exitCode !== 0) return { ok: false, reason: r.output.trim() || `probe exit ${r.exitCode}` };
  const [underSeccomp, underMasks] = await Promise.all([probe(USERNS_SCRIPT, false, true), probe(USERNS_SCRIPT, true, false)]);
  const needsSeccompUnconfined = underSeccomp.startError !== undefined || underSeccomp.exitCode !== 0;
  const needsSystempaths = underMasks.startError !== undefined || underMasks.exitCode !== 0;
  return {
    ok: true,
    reason: 'user namespaces (with mount and pid namespaces and a new /proc) work in an unprivileged container, and /dev/net/tun exists',
    needsSeccompUnconfined,
    needsSystempaths,
  };
}

/**
 * Probe results cached per engine (its ID, version and kernel) for a day, in a directory nestling owns, so a run
 * does not pay two probe containers every time. A daemon restarted with other privileges gets a new cache entry
 * only when one of those changes: `nestling doctor` probes afresh.
 */
export interface ProbeCache {
  get(facts: HostFacts, what: 'privilege' | 'userns'): PrivilegeFacts | UsernsFacts | undefined;
  set(facts: HostFacts, what: 'privilege' | 'userns', value: PrivilegeFacts | UsernsFacts): void;
}

const PROBE_TTL_MS = 24 * 3600_000;

function probeKey(facts: HostFacts, what: string): string {
  return createHash('sha256').update(`${facts.engineId}\0${facts.serverVersion}\0${facts.kernelVersion}\0${what}`).digest('hex').slice(0, 24);
}

export function fileProbeCache(dir: string, now: () => number = Date.now): ProbeCache {
  return {
    get(facts, what) {
      if (!facts.engineId) return undefined;
      try {
        const j = JSON.parse(readFileSync(join(dir, `probe-${probeKey(facts, what)}.json`), 'utf8')) as { at: number; value: PrivilegeFacts | UsernsFacts };
        return now() - j.at < PROBE_TTL_MS ? j.value : undefined;
      } catch {
        return undefined;
      }
    },
    set(facts, what, value) {
      if (!facts.engineId) return;
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const file = join(dir, `probe-${probeKey(facts, what)}.json`);
        const tmp = `${file}.${randomBytes(4).toString('hex')}`;
        writeFileSync(tmp, JSON.stringify({ at: now(), value }), { mode: 0o600 });
        renameSync(tmp, file);
      } catch {
        /* a cache that cannot be written is only slower */
      }
    },
  };
}
