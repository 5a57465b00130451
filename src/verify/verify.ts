/**
 * `nestling verify`: measures, on this host and empirically, what each mode gives a job. Each mode runs (through
 * the modes' own `runWithMode`, injected as `run`) with a probe script as the job; the host side watches the host
 * engine while the job runs. Nothing is inferred from the mode's name: every cell of the table is an observation.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Engine } from '../engine/client.js';
import { EngineError, findNestlingError } from '../util/errors.js';
import { Labels } from '../util/labels.js';
import { decodeCapMask, DOCKER_DEFAULT_CAPS } from '../host/caps.js';
import { parseProbeOutput, probeScript, type ProbeNames } from './probe-script.js';

export const VERIFY_MODES = ['dood', 'guarded', 'dind', 'rootless', 'sysbox'] as const;
export type VerifyMode = (typeof VERIFY_MODES)[number];

/** The subset of the modes' run API verify needs (src/modes/run.ts runWithMode, bound to the CLI's deps). */
export interface RunRequest {
  mode: VerifyMode;
  cmd: string[];
  io: { stdout: Writable; stderr: Writable };
}
export type RunFn = (req: RunRequest) => Promise<{ exitCode: number; timings: Record<string, number> }>;

export interface ModeMeasurement {
  mode: VerifyMode;
  /** the id in the names and labels of what this measurement created (nestling-verify-<id>-*) */
  id: string;
  ran: boolean;
  /** why the mode did not run (not applicable, image missing, engine error) */
  error?: string | undefined;
  daemon: 'host' | 'inside' | 'unknown';
  relationship: 'sibling' | 'child' | 'unknown';
  job: { uid: string | undefined; capabilities: string; seccomp: string | undefined };
  engineSecurity: string | undefined;
  isolation: {
    /** the baseline: a plain `docker run` works (every other "no" means refused, not broken) */
    runsContainers: boolean | undefined;
    runError?: string | undefined;
    seesHostContainers: boolean | undefined;
    removesHostContainers: boolean | undefined;
    mountsHostRoot: boolean | undefined;
    runsPrivileged: boolean | undefined;
    privilegedError?: string | undefined;
    addsSysAdmin: boolean | undefined;
    sharesHostPid: boolean | undefined;
  };
  /** from `run` to the first line the job prints (engine ready and the job started) */
  readyMs: number | undefined;
  /** the mode's own deploy time (daemon started and answering /_ping) */
  deployMs: number | undefined;
  imageCacheShared: boolean | undefined;
  jobExitCode: number | undefined;
}

export interface VerifyOptions {
  /** a directory on the engine host for the marker file (the engine must be local for the host-root check) */
  markerDir: string;
  /** an image present on the host engine (for the sentinel and the cache check) */
  hostImage: string;
  signal?: AbortSignal | undefined;
}

const flag = (m: Map<string, string>, k: string) => (m.has(k) ? m.get(k) === '1' : undefined);

function describeCaps(hex: string | undefined): string {
  if (!hex) return 'unknown';
  let caps: string[];
  try {
    caps = decodeCapMask(hex);
  } catch {
    return `unparsable (${hex})`;
  }
  if (caps.length === 0) return 'none';
  const def = new Set<string>(DOCKER_DEFAULT_CAPS);
  if (caps.length === def.size && caps.every((c) => def.has(c))) return "Docker's default set";
  const extra = caps.filter((c) => !def.has(c));
  return extra.length ? `default + ${extra.join(',')}` : `${caps.length} capabilities`;
}

async function hostEngineId(engine: Engine, signal?: AbortSignal): Promise<string | undefined> {
  const i = await engine.json<{ ID?: string }>({ method: 'GET', path: '/info', signal });
  return i.ID;
}

async function containersWithLabel(engine: Engine, label: string, signal?: AbortSignal): Promise<string[]> {
  const cs = await engine.json<{ Id: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters: JSON.stringify({ label: [label] }) }, signal });
  return cs.map((c) => c.Id);
}

export async function verifyMode(engine: Engine, mode: VerifyMode, run: RunFn, opts: VerifyOptions): Promise<ModeMeasurement> {
  const id = randomBytes(4).toString('hex');
  const names: ProbeNames = {
    id,
    markerLabel: `nestling-verify=${id}`,
    sentinelLabel: `nestling-verify-sentinel=${id}`,
    sentinelName: `nestling-verify-${id}-sentinel`,
    markerFile: join(opts.markerDir, `nestling-verify-${id}.marker`),
    token: `nestling-verify-token-${id}`,
    hostImage: opts.hostImage,
  };
  const base: ModeMeasurement = {
    mode,
    id,
    ran: false,
    daemon: 'unknown',
    relationship: 'unknown',
    job: { uid: undefined, capabilities: 'unknown', seccomp: undefined },
    engineSecurity: undefined,
    isolation: { runsContainers: undefined, seesHostContainers: undefined, removesHostContainers: undefined, mountsHostRoot: undefined, runsPrivileged: undefined, addsSysAdmin: undefined, sharesHostPid: undefined },
    readyMs: undefined,
    deployMs: undefined,
    imageCacheShared: undefined,
    jobExitCode: undefined,
  };
  const hostId = await hostEngineId(engine, opts.signal);
  await writeFile(names.markerFile, `${names.token}\n`, { mode: 0o644 });
  let sentinelId: string | undefined;
  try {
    const s = await engine.json<{ Id: string }>({
      method: 'POST',
      path: '/containers/create',
      query: { name: names.sentinelName },
      body: { Image: opts.hostImage, Cmd: ['true'], Labels: { [Labels.managed]: 'true', 'nestling-verify-sentinel': id } },
      signal: opts.signal,
    });
    sentinelId = s.Id;
  } catch (e) {
    base.error = `the sentinel container could not be created on the host engine: ${findNestlingError(e)?.message ?? String(e)}`;
  }
  let out = '';
  let firstLineAt: number | undefined;
  let markSeen: Promise<string[]> | undefined;
  const t0 = Date.now();
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString('utf8');
      firstLineAt ??= /V_START=1/.test(out) ? Date.now() : undefined;
      if (!markSeen && /V_MARK_READY=1/.test(out)) markSeen = containersWithLabel(engine, names.markerLabel, opts.signal).catch(() => []);
      cb();
    },
  });
  const stderr = new Writable({ write: (_c, _e, cb) => cb() });
  try {
    const r = await run({ mode, cmd: ['sh', '-c', probeScript(names)], io: { stdout, stderr } });
    base.ran = true;
    base.jobExitCode = r.exitCode;
    base.deployMs = r.timings.deployMs;
    base.readyMs = firstLineAt !== undefined ? firstLineAt - t0 : undefined;
    const m = parseProbeOutput(out);
    const jobEngine = m.get('V_ENGINE_ID');
    base.daemon = jobEngine ? (jobEngine === hostId ? 'host' : 'inside') : 'unknown';
    const seen = markSeen ? await markSeen : undefined;
    if (m.get('V_MARKER') === '1' && seen) base.relationship = seen.length > 0 ? 'sibling' : 'child';
    base.job = { uid: m.get('V_UID'), capabilities: describeCaps(m.get('V_CAPEFF')), seccomp: m.get('V_SECCOMP') };
    base.engineSecurity = m.get('V_SECOPTS');
    base.imageCacheShared = m.has('V_CACHE') ? m.get('V_CACHE') === 'shared' : undefined;
    let sentinelGone: boolean | undefined;
    if (sentinelId) {
      try {
        await engine.json({ method: 'GET', path: `/containers/${sentinelId}/json`, signal: opts.signal });
        sentinelGone = false;
      } catch (e) {
        sentinelGone = e instanceof EngineError && e.statusCode === 404 ? true : undefined;
      }
    }
    base.isolation = {
      runsContainers: flag(m, 'V_RUN'),
      ...(m.get('V_RUN_ERR') ? { runError: m.get('V_RUN_ERR') } : {}),
      seesHostContainers: sentinelId ? flag(m, 'V_SEE_HOST') : undefined,
      removesHostContainers: sentinelGone,
      mountsHostRoot: flag(m, 'V_HOST_ROOT'),
      runsPrivileged: flag(m, 'V_PRIV'),
      ...(m.get('V_PRIV_ERR') ? { privilegedError: m.get('V_PRIV_ERR') } : {}),
      addsSysAdmin: flag(m, 'V_SYSADMIN'),
      sharesHostPid: flag(m, 'V_PIDHOST'),
    };
    if (!m.has('V_END')) base.error = `the probe job did not finish (exit ${r.exitCode}); output: ${out.slice(-300)}`;
  } catch (e) {
    base.error = findNestlingError(e)?.message ?? (e instanceof Error ? e.message : String(e));
  } finally {
    // what the probe left on the host engine: the sentinel, sibling markers and siblings' image
    for (const cid of [...(sentinelId ? [sentinelId] : []), ...(await containersWithLabel(engine, names.markerLabel).catch(() => []))]) {
      await engine.call({ method: 'DELETE', path: `/containers/${cid}`, query: { force: true, v: true } }).catch(() => {});
    }
    await engine.call({ method: 'DELETE', path: `/images/${encodeURIComponent(`nestling-verify-${id}:img`)}`, query: { force: true } }).catch(() => {});
    await rm(names.markerFile, { force: true });
  }
  return base;
}

export async function verifyModes(engine: Engine, modes: readonly VerifyMode[], run: RunFn, opts: VerifyOptions): Promise<ModeMeasurement[]> {
  const out: ModeMeasurement[] = [];
  for (const m of modes) {
    opts.signal?.throwIfAborted();
    out.push(await verifyMode(engine, m, run, opts));
  }
  return out;
}

const yn = (b: boolean | undefined) => (b === undefined ? '?' : b ? 'yes' : 'no');

/** The comparison table, one column per mode. */
export function renderVerifyTable(ms: readonly ModeMeasurement[]): string[] {
  const rows: [string, (m: ModeMeasurement) => string][] = [
    ['ran', (m) => (m.ran ? 'yes' : 'no')],
    ['daemon location', (m) => m.daemon],
    ['relationship', (m) => m.relationship],
    ['job uid', (m) => m.job.uid ?? '?'],
    ['job capabilities', (m) => m.job.capabilities],
    ['job seccomp', (m) => (m.job.seccomp === '2' ? 'filter' : m.job.seccomp === '0' ? 'none' : (m.job.seccomp ?? '?'))],
    ['engine rootless', (m) => (m.engineSecurity === undefined ? '?' : /rootless/.test(m.engineSecurity) ? 'yes' : 'no')],
    ['runs a plain container', (m) => yn(m.isolation.runsContainers)],
    ['sees host containers', (m) => yn(m.isolation.seesHostContainers)],
    ['removes host containers', (m) => yn(m.isolation.removesHostContainers)],
    ['mounts the host root', (m) => yn(m.isolation.mountsHostRoot)],
    ['docker run --privileged', (m) => yn(m.isolation.runsPrivileged)],
    ['--cap-add SYS_ADMIN', (m) => yn(m.isolation.addsSysAdmin)],
    ['--pid=host (engine host)', (m) => yn(m.isolation.sharesHostPid)],
    ['time to ready engine', (m) => (m.readyMs === undefined ? '?' : `${(m.readyMs / 1000).toFixed(1)} s`)],
    ['image cache shared', (m) => yn(m.imageCacheShared)],
  ];
  const headers = ['', ...ms.map((m) => m.mode)];
  const table = [headers, ...rows.map(([label, f]) => [label, ...ms.map(f)])];
  const widths = headers.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const lines = table.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  const notes = ms.filter((m) => m.error).map((m) => `${m.mode}: ${m.error}`);
  for (const m of ms) if (m.isolation.runError) notes.push(`${m.mode}: a plain docker run failed: ${m.isolation.runError}`);
  const priv = ms.find((m) => m.isolation.privilegedError)?.isolation.privilegedError;
  if (priv) notes.push(`--privileged was refused with: ${priv}`);
  return notes.length ? [...lines, '', ...notes] : lines;
}
