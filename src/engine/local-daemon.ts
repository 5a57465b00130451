/**
 * Starts a private dockerd (Debian's docker.io) on its own socket, data root, exec root and pidfile. Used by
 * `nestling demo` when no engine is reachable, and by the test harness. When docker0 already belongs to another
 * daemon, the private one gets its own bridge and leaves iptables alone.
 */
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Engine } from './client.js';
import { parseHostUrl } from './resolve.js';
import { environmentError } from '../util/errors.js';

export interface PrivateDaemon {
  engine: Engine;
  url: string;
  socketPath: string;
  dir: string;
  pid: number;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

export interface PrivateDaemonOptions {
  /** Directory for socket, exec root, pidfile and log (keep it short: unix socket paths are limited). */
  dir: string;
  /** Data root; defaults to <dir>/data. A persistent one keeps images between runs. */
  dataRoot?: string | undefined;
  extraArgs?: string[] | undefined;
  timeoutMs?: number | undefined;
  /** Keep the directory on stop (a persistent cache of images). */
  keepDir?: boolean | undefined;
}

/** True when a dockerd process other than ours is alive on this machine (it then owns docker0 and iptables). */
export function otherDockerdRunning(procRoot = '/proc'): boolean {
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(join(procRoot, name, 'comm'), 'utf8').trim() === 'dockerd') return true;
    } catch {
      /* the process ended */
    }
  }
  return false;
}

export function findDockerd(): string | undefined {
  return ['/usr/sbin/dockerd', '/usr/bin/dockerd', '/usr/local/bin/dockerd'].find((p) => existsSync(p));
}

async function waitForPing(engine: Engine, ms: number, exited: () => number | null): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    const code = exited();
    if (code !== null) throw new Error(`dockerd exited with code ${code}`);
    try {
      await engine.ping(undefined, 2000);
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no answer to /_ping within ${ms} ms: ${String(last)}`);
}

export async function startPrivateDockerd(opts: PrivateDaemonOptions): Promise<PrivateDaemon> {
  const dockerd = findDockerd();
  if (!dockerd) throw environmentError('E_ENV_NO_DOCKERD', 'dockerd is not installed', { hint: 'apt-get install docker.io' });
  if (process.getuid?.() !== 0) {
    throw environmentError('E_ENV_NOT_ROOT', 'starting a private dockerd needs root', { hint: 'run as root, or point DOCKER_HOST at a running engine' });
  }
  const dir = opts.dir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socketPath = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const args = [
    `--host=unix://${socketPath}`,
    `--data-root=${opts.dataRoot ?? join(dir, 'data')}`,
    `--exec-root=${join(dir, 'exec')}`,
    `--pidfile=${join(dir, 'dockerd.pid')}`,
  ];
  let bridge: string | undefined;
  let forwardRules: string[][] = [];
  if (existsSync('/sys/class/net/docker0') && otherDockerdRunning()) {
    // Another live daemon owns docker0 and the iptables chains: this one gets its own bridge and address pool in a
    // random 10.X.0.0/16, leaves iptables to the other, and only lets its own subnet through FORWARD (the other
    // daemon sets the FORWARD policy to DROP, and br_netfilter sends bridged traffic through it).
    bridge = `nst${randomBytes(4).toString('hex')}`;
    const pool = `10.${100 + (randomBytes(1)[0]! % 100)}`;
    execFileSync('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', `${pool}.0.1/24`, 'dev', bridge]);
    execFileSync('ip', ['link', 'set', bridge, 'up']);
    args.push(`--bridge=${bridge}`, '--iptables=false', '--ip6tables=false', `--default-address-pool=base=${pool}.0.0/16,size=24`);
    forwardRules = [
      ['FORWARD', '-s', `${pool}.0.0/16`, '-j', 'ACCEPT'],
      ['FORWARD', '-d', `${pool}.0.0/16`, '-j', 'ACCEPT'],
    ];
    for (const r of forwardRules) {
      try {
        execFileSync('iptables', ['-I', ...r], { stdio: 'ignore' });
      } catch {
        /* no iptables: nothing filters the bridge either */
      }
    }
  }
  args.push(...(opts.extraArgs ?? []));
  const fd = openSync(logFile, 'a', 0o600);
  const child = spawn(dockerd, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const tail = (n = 40) => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-n).join('\n') : '');
  const ep = parseHostUrl(`unix://${socketPath}`, 'private dockerd');
  const engine = new Engine(ep);
  const cleanupBridge = () => {
    for (const r of forwardRules) {
      try {
        execFileSync('iptables', ['-D', ...r], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
    if (!bridge) return;
    try {
      execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  };
  try {
    await waitForPing(engine, opts.timeoutMs ?? 60_000, () => child.exitCode);
  } catch (e) {
    child.kill('SIGKILL');
    cleanupBridge();
    throw environmentError('E_ENV_DOCKERD_START', `the private dockerd did not start: ${(e as Error).message}`, {
      hint: `see ${logFile}`,
      details: { logTail: tail() },
      cause: e,
    });
  }
  let stopped = false;
  return {
    engine,
    url: ep.url,
    socketPath,
    dir,
    pid: child.pid ?? 0,
    logTail: tail,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      cleanupBridge();
      try {
        execFileSync('umount', ['-R', join(dir, 'exec')], { stdio: 'ignore' });
      } catch {
        /* not mounted */
      }
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
