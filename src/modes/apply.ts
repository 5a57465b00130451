/**
 * Applying a Plan, the same way for every mode:
 *   deploy()   networks, volumes, TLS material, the daemon (started, then /_ping over TLS), preloads, the guard;
 *   runJob()   the job container: attach, start, stream, wait; exit code;
 *   teardown() everything labelled with the run (and its owner) removed, named caches kept.
 */
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { compareApiVersions, Engine } from '../engine/client.js';
import type { EngineEndpoint } from '../engine/transport.js';
import { readBody } from '../engine/transport.js';
import { EngineError, environmentError, timeoutError } from '../util/errors.js';
import { Labels } from '../util/labels.js';
import type { ProgressFn } from '../util/log.js';
import type { TarEntry } from '../util/tar.js';
import { attachContainer, pumpAttach } from './attach.js';
import type { DindCerts } from './certs.js';
import { createContainer, createNetwork, createVolume, putFiles, removeContainer, startContainer, waitContainer } from './engine-ops.js';
import { pidLiveness, reapRun, type ReapRunReport } from './reaper.js';
import type { FileSpec, Plan, PlannedContainer } from './types.js';

export interface GuardHandle {
  url: string;
  close(): Promise<void>;
}

export interface DeployDeps {
  progress: ProgressFn;
  signal?: AbortSignal | undefined;
  /** issues the run's certificates (src/tls) when the plan asks for TLS */
  issueCerts?: ((plan: NonNullable<Plan['tls']>) => Promise<DindCerts>) | undefined;
  /** starts the guard when the plan asks for one (src/guard) */
  startGuard?: ((plan: Plan, upstream: Engine) => Promise<GuardHandle>) | undefined;
  /** this host's name, to tell whether a cache holder is still alive */
  hostname: string;
  /** how long a job waits for a cache held by another live run */
  cacheWaitMs?: number | undefined;
  now?: () => number;
}

export interface Deployment {
  plan: Plan;
  ids: Map<string, string>;
  /** the inner daemon, as nestling reaches it (a loopback port with TLS) */
  daemon?: { engine: Engine; endpoint: EngineEndpoint; readyMs: number } | undefined;
  certs?: DindCerts | undefined;
  guard?: GuardHandle | undefined;
  timings: Record<string, number>;
}

function fileContent(f: FileSpec, certs: DindCerts | undefined): Buffer {
  if (!certs) throw new Error(`the plan needs ${f.source} but no certificates were issued`);
  switch (f.source) {
    case 'tls-ca-cert':
      return Buffer.from(certs.ca.cert);
    case 'tls-server-cert':
      return Buffer.from(certs.server.cert);
    case 'tls-server-key':
      return Buffer.from(certs.server.key);
    case 'tls-client-cert':
      return Buffer.from(certs.client.cert);
    case 'tls-client-key':
      return Buffer.from(certs.client.key);
  }
}

/** Tar entries (with parent directories) for the files a container gets before it starts. */
export function filesToTar(files: readonly FileSpec[], certs: DindCerts | undefined): TarEntry[] {
  const entries: TarEntry[] = [];
  const dirs = new Set<string>();
  for (const f of files) {
    const rel = f.path.replace(/^\/+/, '');
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ name: d, type: 'dir', mode: 0o755, uid: f.uid ?? 0, gid: f.gid ?? 0 });
      }
    }
    entries.push({ name: rel, data: fileContent(f, certs), mode: f.mode, uid: f.uid ?? 0, gid: f.gid ?? 0 });
  }
  return entries;
}

async function containerLogsTail(engine: Engine, id: string, lines = 30): Promise<string> {
  try {
    const res = await engine.request({ method: 'GET', path: `/containers/${id}/logs`, query: { stdout: true, stderr: true, tail: String(lines) } });
    const raw = await readBody(res);
    // strip the 8-byte multiplexing headers without a full demux: good enough for a message
    let out = '';
    for (let i = 0; i + 8 <= raw.length; ) {
      const size = raw.readUInt32BE(i + 4);
      out += raw.subarray(i + 8, i + 8 + size).toString('utf8');
      i += 8 + size;
    }
    return out.trim();
  } catch {
    return '';
  }
}

/** Creates a container whose name is a lock (cache volumes): waits while a live run holds it, reaps a dead one. */
async function createLocked(engine: Engine, c: PlannedContainer, plan: Plan, deps: DeployDeps): Promise<string> {
  const deadline = Date.now() + (deps.cacheWaitMs ?? 15 * 60_000);
  let said = false;
  for (;;) {
    try {
      return await createContainer(engine, c.name, c.body, deps.signal);
    } catch (e) {
      if (!(e instanceof EngineError && e.statusCode === 409)) throw e;
    }
    const holder = await engine
      .json<{ Id: string; Config?: { Labels?: Record<string, string> | null } }>({ method: 'GET', path: `/containers/${encodeURIComponent(c.name)}/json` })
      .catch(() => undefined);
    if (!holder) continue; // gone in between: try again
    const labels = holder.Config?.Labels ?? {};
    const live = pidLiveness(labels[Labels.pid], deps.hostname);
    if (live === 'dead') {
      deps.progress({ task: 'cache', message: `cache ${plan.cache?.key}: the run ${labels[Labels.run]} that held it is dead; reaping it` });
      await reapRun(engine, labels[Labels.run] ?? '', undefined);
      await removeContainer(engine, holder.Id);
      continue;
    }
    if (Date.now() > deadline) {
      throw timeoutError('E_RUN_CACHE_BUSY', `cache ${plan.cache?.key} stayed in use by run ${labels[Labels.run]} (${labels[Labels.pid]})`, {
        hint: 'use another --cache key, or run without --cache',
      });
    }
    if (!said) {
      deps.progress({
        task: 'cache',
        message: `cache ${plan.cache?.key} is in use by run ${labels[Labels.run]} (pid ${labels[Labels.pid]}); waiting for it (a second daemon on the same data root would hang on containerd's lock)`,
      });
      said = true;
    }
    await sleep(500, undefined, deps.signal ? { signal: deps.signal } : undefined);
  }
}

/** Polls the inner daemon's /_ping until it answers, failing early when its container exits. */
export async function waitForDaemon(outer: Engine, id: string, inner: Engine, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let n = 0;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    try {
      await inner.ping(signal, 2000);
      return;
    } catch (e) {
      last = e;
    }
    if (++n % 10 === 0) {
      const st = await outer.json<{ State: { Running: boolean; ExitCode: number } }>({ method: 'GET', path: `/containers/${id}/json` });
      if (!st.State.Running) {
        const tail = await containerLogsTail(outer, id);
        throw environmentError('E_RUN_DAEMON_EXITED', `the inner dockerd exited with code ${st.State.ExitCode} before answering /_ping`, {
          hint: 'its log tail is in details (--json); `nestling doctor` checks what nesting needs',
          details: { logTail: tail },
        });
      }
    }
    await sleep(n < 40 ? 25 : 100);
  }
  const tail = await containerLogsTail(outer, id);
  throw timeoutError('E_RUN_DAEMON_TIMEOUT', `the inner dockerd did not answer /_ping within ${timeoutMs} ms: ${String(last)}`, {
    hint: 'see the daemon log tail in details (--json)',
    details: { logTail: tail },
  });
}

async function daemonEndpoint(outer: Engine, id: string, containerPort: number, certs: DindCerts): Promise<EngineEndpoint> {
  const info = await outer.json<{ NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> } }>({
    method: 'GET',
    path: `/containers/${id}/json`,
  });
  const binding = info.NetworkSettings.Ports[`${containerPort}/tcp`]?.[0];
  if (!binding) throw new Error(`the daemon container publishes no port for ${containerPort}/tcp`);
  const port = Number(binding.HostPort);
  return {
    kind: 'tcp',
    host: '127.0.0.1',
    port,
    url: `tcp://127.0.0.1:${port}`,
    source: 'nestling run (inner daemon, loopback)',
    tls: { verify: true, ca: Buffer.from(certs.ca.cert), cert: Buffer.from(certs.client.cert), key: Buffer.from(certs.client.key) },
  };
}

/** Streams images from the outer engine into the inner daemon: GET /images/get -> POST /images/load. */
export async function preloadImages(outer: Engine, inner: Engine, refs: readonly string[], progress: ProgressFn, signal?: AbortSignal): Promise<void> {
  for (const ref of refs) {
    const t0 = Date.now();
    const src = await outer.request({ method: 'GET', path: '/images/get', query: { names: [ref] }, signal, timeoutMs: 60_000 });
    const res = await inner.request({
      method: 'POST',
      path: '/images/load',
      query: { quiet: '1' },
      headers: { 'content-type': 'application/x-tar' },
      body: src,
      signal,
    });
    const out = (await readBody(res)).toString('utf8');
    for (const line of out.split('\n')) {
      if (!line.trim()) continue;
      let j: { error?: string } = {};
      try {
        j = JSON.parse(line) as { error?: string };
      } catch {
        /* not JSON */
      }
      if (j.error) throw new EngineError(`preloading ${ref} failed: ${j.error}`, { code: 'E_RUN_PRELOAD', engineMessage: j.error });
    }
    progress({ task: 'preload', message: `preloaded ${ref} into the inner daemon (${Date.now() - t0} ms)` });
  }
}

export async function deploy(engine: Engine, plan: Plan, deps: DeployDeps): Promise<Deployment> {
  const now = deps.now ?? Date.now;
  const t0 = now();
  const dep: Deployment = { plan, ids: new Map(), timings: {} };
  const { progress, signal } = deps;
  // certificates are issued while the network, volumes and containers are created
  let certsP: Promise<DindCerts> | undefined;
  if (plan.tls) {
    if (!deps.issueCerts) throw new Error('the plan asks for TLS but no certificate issuer was given');
    const tls = plan.tls;
    const tc = now();
    certsP = deps.issueCerts(tls).then((c) => {
      dep.timings.certsMs = now() - tc;
      progress({ task: 'tls', message: `issued CA, server and client certificates (${tls.algorithm}, ${tls.validityDays} days, SANs ${tls.sans.join(', ')}) in ${dep.timings.certsMs} ms` });
      return c;
    });
    certsP.catch(() => {}); // awaited below; never an unhandled rejection in between
  }
  await Promise.all([
    ...plan.networks.map(async (n) => dep.ids.set(`network:${n.name}`, await createNetwork(engine, n.name, n.labels, n.options, signal))),
    ...plan.volumes.map((v) => createVolume(engine, v.name, v.labels, signal)),
  ]);
  if (plan.networks.length || plan.volumes.length) progress({ task: 'setup', message: `created ${plan.networks.length} network(s), ${plan.volumes.length} volume(s)` });
  for (const c of plan.containers) {
    if (c.role === 'job') continue;
    const id = plan.cache && c.role === 'daemon' ? await createLocked(engine, c, plan, deps) : await createContainer(engine, c.name, c.body, signal);
    dep.ids.set(c.role, id);
    if (certsP && c.files?.length) dep.certs ??= await certsP;
    if (c.files?.length) await putFiles(engine, id, filesToTar(c.files, dep.certs), signal);
    await startContainer(engine, id, signal);
    progress({ task: c.role, message: `started ${c.name} (${c.body.Image})` });
    if (c.ready?.kind === 'ping-tls') {
      if (!dep.certs) throw new Error('a TLS readiness check needs certificates');
      const endpoint = await daemonEndpoint(engine, id, c.ready.containerPort, dep.certs);
      const inner = new Engine(endpoint);
      await waitForDaemon(engine, id, inner, c.ready.timeoutMs, signal);
      dep.daemon = { engine: inner, endpoint, readyMs: now() - t0 };
      progress({ task: 'daemon', message: `inner dockerd answers /_ping over TLS after ${dep.daemon.readyMs} ms` });
    }
  }
  if (certsP) dep.certs ??= await certsP;
  if (plan.preload.length) {
    if (!dep.daemon) throw new Error('--preload needs an inner daemon');
    const tp = now();
    await preloadImages(engine, dep.daemon.engine, plan.preload, progress, signal);
    dep.timings.preloadMs = now() - tp;
  }
  if (plan.guard) {
    if (!deps.startGuard) throw new Error('the plan asks for the guard but no guard starter was given');
    const upstream = plan.guard.upstream === 'inner' ? dep.daemon?.engine : engine;
    if (!upstream) throw new Error('the guard needs the inner daemon');
    dep.guard = await deps.startGuard(plan, upstream);
    progress({ task: 'guard', message: `guard listening at ${dep.guard.url} (owner ${plan.guard.owner})` });
  }
  dep.timings.deployMs = now() - t0;
  return dep;
}

export interface JobIO {
  stdin?: Readable | undefined;
  stdout: Writable;
  stderr: Writable;
  /** terminal size for a TTY job */
  size?: (() => { rows: number; cols: number } | undefined) | undefined;
  /** subscribe to terminal resizes; returns an unsubscribe */
  onResize?: ((cb: () => void) => () => void) | undefined;
}

export interface JobResult {
  exitCode: number;
  containerId: string;
  /** set when the run was interrupted (SIGINT/SIGTERM) and the job stopped */
  interrupted?: string | undefined;
}

async function resize(engine: Engine, id: string, io: JobIO): Promise<void> {
  const s = io.size?.();
  if (!s || !s.rows || !s.cols) return;
  await engine.call({ method: 'POST', path: `/containers/${id}/resize`, query: { h: s.rows, w: s.cols } }).catch(() => {});
}

/**
 * Runs the job: create, write its files, attach (before start, so no output is lost), start, stream, wait.
 * An abort (Ctrl-C, SIGTERM) sends SIGTERM to the job, then SIGKILL after `stopTimeoutMs`; the exit code is the job's.
 */
export async function runJob(engine: Engine, dep: Deployment, io: JobIO, signal?: AbortSignal, stopTimeoutMs = 10_000): Promise<JobResult> {
  const job = dep.plan.containers.find((c) => c.role === 'job');
  if (!job) throw new Error('the plan has no job');
  let body = job.body;
  const size = job.body.Tty ? io.size?.() : undefined;
  // API 1.42+ sizes the TTY at creation: no race between the job's first read of its size and our resize
  if (size && compareApiVersions(await engine.negotiate(), '1.42') >= 0) body = { ...body, HostConfig: { ...body.HostConfig, ConsoleSize: [size.rows, size.cols] } };
  const id = await createContainer(engine, job.name, body);
  dep.ids.set('job', id);
  if (job.files?.length) await putFiles(engine, id, filesToTar(job.files, dep.certs));
  const tty = job.body.Tty === true;
  const conn = await attachContainer(engine, id, { stdin: job.body.AttachStdin === true });
  const pumping = pumpAttach(conn, { tty, stdin: job.body.AttachStdin ? io.stdin : undefined, stdout: io.stdout, stderr: io.stderr });
  let interrupted: string | undefined;
  const onAbort = () => {
    const reason: unknown = signal?.reason;
    interrupted = reason instanceof Error ? reason.message : 'aborted';
    void engine.call({ method: 'POST', path: `/containers/${id}/kill`, query: { signal: 'SIGTERM' } }).catch(() => {});
    setTimeout(() => void engine.call({ method: 'POST', path: `/containers/${id}/kill`, query: { signal: 'SIGKILL' } }).catch(() => {}), stopTimeoutMs).unref();
  };
  let unsubscribe: (() => void) | undefined;
  try {
    await startContainer(engine, id);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    if (tty) {
      await resize(engine, id, io);
      unsubscribe = io.onResize?.(() => void resize(engine, id, io));
    }
    await pumping.catch(() => {});
    const exitCode = await waitContainer(engine, id);
    return { exitCode, containerId: id, ...(interrupted ? { interrupted } : {}) };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    unsubscribe?.();
    conn.stream.destroy();
  }
}

/** The file in a cache volume that records its last use (read by `nestling cache ls/prune`). */
export const CACHE_STAMP = '.nestling-last-used';

export async function teardown(engine: Engine, dep: Deployment | { plan: Plan; guard?: GuardHandle | undefined }, now: () => Date = () => new Date()): Promise<ReapRunReport> {
  if (dep.guard) await dep.guard.close().catch(() => {});
  const daemonId = 'ids' in dep ? dep.ids.get('daemon') : undefined;
  if (dep.plan.cache && daemonId) {
    // stamp the cache with its last use (a dotfile in the data root, which dockerd ignores); best effort
    const c = dep.plan.containers.find((x) => x.role === 'daemon');
    const owner = c?.files?.find((f) => f.uid !== undefined);
    await putFiles(engine, daemonId, [
      { name: `${dep.plan.cache.dataRoot.replace(/^\/+/, '')}/${CACHE_STAMP}`, data: `${now().toISOString()}\n`, mode: 0o644, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0 },
    ]).catch(() => {});
  }
  return reapRun(engine, dep.plan.runId, dep.plan.owner);
}
