/**
 * What a doctor probe gets: the host root (fake trees in tests), the environment, the endpoint resolver, a way to
 * run helper programs, and per-run memoised readers of the facts several probes share. Nothing here is a module
 * level singleton: each doctor run builds its own.
 */
import { access, constants } from 'node:fs/promises';
import type { Env } from '../util/env.js';
import type { Resolution } from '../engine/resolve.js';
import type { CheckContext } from '../checks/runner.js';
import { hostPath, type HostRoot } from '../host/fs.js';
import { readProcessStatus, readLastCap, type ProcessStatus } from '../host/process.js';
import { readMountInfo, type MountEntry } from '../host/mountinfo.js';
import { readProcCgroup, type CgroupLine } from '../host/cgroup.js';
import { execCommand, which, type ExecFn } from '../host/exec.js';

export interface DoctorEnvironment {
  host: HostRoot;
  env: Env;
  home: string;
  /** Resolves the engine endpoint as every command does (--host > DOCKER_HOST > context > default socket). */
  resolve: () => Resolution;
  exec: ExecFn;
  now: () => Date;
  /** Timeout of one engine request inside a probe. */
  engineTimeoutMs: number;
  /** The recommendation may start short probe containers (as `run --mode auto` does) to test --privileged and userns. */
  probeContainers: boolean;
  /** Which daemon images the recommendation looks for: the official ones or nestling's local builds. */
  images: 'official' | 'local';
  /** Docker version of the official images (docker:<v>-dind). */
  dockerVersion: string;
}

export interface SharedReads {
  status(): Promise<ProcessStatus>;
  lastCap(): Promise<{ lastCap: number; source: string }>;
  mounts(): Promise<MountEntry[]>;
  cgroups(): Promise<CgroupLine[]>;
  /** Finds a program on PATH (under the host root). */
  which(name: string): Promise<string | undefined>;
}

export type DoctorContext = DoctorEnvironment & { read: SharedReads } & CheckContext;

function memo<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

export function sharedReads(e: DoctorEnvironment): SharedReads {
  const isExecutable = async (p: string) => {
    try {
      await access(hostPath(e.host, p), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  return {
    status: memo(() => readProcessStatus(e.host)),
    lastCap: memo(() => readLastCap(e.host)),
    mounts: memo(() => readMountInfo(e.host)),
    cgroups: memo(() => readProcCgroup(e.host)),
    which: (name) => which(name, e.env, isExecutable),
  };
}

export function defaultDoctorEnvironment(p: { env: Env; home: string; resolve: () => Resolution; root?: string }): DoctorEnvironment {
  return {
    host: { root: p.root ?? '/' },
    env: p.env,
    home: p.home,
    resolve: p.resolve,
    exec: execCommand,
    now: () => new Date(),
    engineTimeoutMs: 5000,
    probeContainers: true,
    images: p.env.NESTLING_IMAGES === 'local' ? 'local' : 'official',
    dockerVersion: '28',
  };
}
