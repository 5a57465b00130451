/** Shared by the dind image tests: the docker CLI as an oracle, container lifecycle, waiting. */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Engine } from '../../../src/engine/client.js';
import type { Cleanup } from '../../harness/cleanup.js';

const execFileP = promisify(execFile);
export const DOCKER_CLI = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p)) ?? 'docker';

/** Runs the docker CLI against `host`; rejects with stderr on failure. */
export async function dockerCli(host: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await execFileP(DOCKER_CLI, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DOCKER_HOST: host, HOME: '/nonexistent', ...opts.env },
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; code?: number };
    throw new Error(`docker ${args.join(' ')} failed (${err.code ?? '?'}): ${err.stderr ?? err.message}`, { cause: e });
  }
}

/** `docker save IMAGE | docker exec -i CONTAINER docker load` (the inner daemon never pulls). */
export function copyImageInto(host: string, image: string, container: string, execArgs: string[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', DOCKER_HOST: host, HOME: '/nonexistent' };
    const save = spawn(DOCKER_CLI, ['save', image], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const load = spawn(DOCKER_CLI, ['exec', '-i', ...execArgs, container, 'docker', 'load'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let errs = '';
    save.stderr.on('data', (c: Buffer) => (errs += c.toString()));
    load.stderr.on('data', (c: Buffer) => (errs += c.toString()));
    save.stdout.pipe(load.stdin);
    load.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`docker load into ${container} failed (${code}): ${errs}`))));
  });
}

export async function createContainer(engine: Engine, cleanup: Cleanup, name: string, body: Record<string, unknown>): Promise<string> {
  const r = await engine.json<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name }, body, headers: { 'content-type': 'application/json' } });
  cleanup.add('container', r.Id);
  return r.Id;
}

export async function startContainer(engine: Engine, id: string): Promise<void> {
  await engine.call({ method: 'POST', path: `/containers/${id}/start` });
}

export async function removeContainer(engine: Engine, id: string): Promise<void> {
  await engine.call({ method: 'DELETE', path: `/containers/${id}`, query: { force: true, v: true } });
}

export interface ContainerState {
  Running: boolean;
  ExitCode: number;
}

export async function inspect(engine: Engine, id: string): Promise<{ State: ContainerState; HostConfig: Record<string, unknown>; NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> } }> {
  return engine.json({ method: 'GET', path: `/containers/${id}/json` });
}

export async function logs(host: string, id: string): Promise<string> {
  const { stdout, stderr } = await execFileP(DOCKER_CLI, ['logs', id], { env: { PATH: process.env.PATH ?? '', DOCKER_HOST: host, HOME: '/nonexistent' }, maxBuffer: 16 * 1024 * 1024 }).catch(
    (e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );
  return stdout + stderr;
}

/** Polls `fn` until it returns a value; fails with the last error (and the container's state) after `ms`. */
export async function waitFor<T>(what: string, ms: number, fn: () => Promise<T>, onTimeout?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const extra = onTimeout ? `\n${await onTimeout()}` : '';
  throw new Error(`${what}: not within ${ms} ms: ${String(last)}${extra}`);
}

/** Capability names the engine (Docker 20.10) knows, in kernel bit order, up to CAP_AUDIT_READ. */
const CAPS = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
];

/** Capabilities missing from this host's bounding set (the engine runs on this host with the same set). */
export function missingBoundingCaps(): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 'ffffffffff';
  const mask = BigInt(`0x${hex}`);
  return CAPS.filter((_, i) => ((mask >> BigInt(i)) & 1n) === 0n);
}
