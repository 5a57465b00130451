/**
 * `nestling run` end to end on the built binary: exit codes, --json, SIGTERM, and kill -9 of nestling itself
 * (the detached watcher must remove everything the run created).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { useDockerd, type TestDaemon } from '../harness/dockerd.js';
import { ensureTestImages } from '../harness/images.js';
import { Labels } from '../../src/util/labels.js';
import { leftovers, NOTHING } from '../integration/modes/helpers.js';

const MAIN = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<Done> } {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Done>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The run id of the job container started by the nestling process `pid`, once it is running. */
async function waitForJob(d: TestDaemon, pid: number, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const cs = await d.engine.json<{ Labels: Record<string, string>; State: string }[]>({
      method: 'GET',
      path: '/containers/json',
      query: { filters: JSON.stringify({ label: [`${Labels.role}=job`] }) },
    });
    const mine = cs.find((c) => c.Labels[Labels.pid]?.startsWith(`${hostname()}:${pid}:`) && c.State === 'running');
    if (mine) return mine.Labels[Labels.run]!;
    await sleep(200);
  }
  throw new Error(`no running job container of nestling pid ${pid} within ${timeoutMs} ms`);
}

async function waitForNothing(d: TestDaemon, runId: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let left = await leftovers(d.engine, runId);
  while (Date.now() < deadline && JSON.stringify(left) !== JSON.stringify(NOTHING)) {
    await sleep(300);
    left = await leftovers(d.engine, runId);
  }
  return left;
}

describe('nestling run (built binary)', () => {
  let d: TestDaemon;
  let env: Record<string, string>;
  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    env = { DOCKER_HOST: d.url, NESTLING_IMAGES: 'local' };
  });

  it('exits with the job\'s exit code (dood)', async () => {
    const r = await start(['run', '--mode', 'dood', '-q', '--', 'sh', '-c', 'echo out; echo err >&2; exit 42'], env).done;
    assert.equal(r.code, 42, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('--json: a summary on stdout, the job\'s output on stderr', async () => {
    const r = await start(['run', '--mode', 'dood', '--json', '--', 'sh', '-c', 'echo hello; exit 3'], env).done;
    assert.equal(r.code, 3, r.stderr);
    const j = JSON.parse(r.stdout) as { exitCode: number; mode: string; runId: string; reaped: { containers: string[] } };
    assert.equal(j.exitCode, 3);
    assert.equal(j.mode, 'dood');
    assert.equal(j.reaped.containers.length, 1);
    assert.match(r.stderr, /hello/);
  });

  it('usage and environment errors have their exit codes', async () => {
    const bad = await start(['run', '--mode', 'bogus', '--', 'true'], env).done;
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /unknown mode bogus/);
    const sysbox = await start(['run', '--mode', 'sysbox', '--', 'true'], env).done;
    assert.equal(sysbox.code, 3, sysbox.stderr);
    assert.match(sysbox.stderr, /sysbox-runc/);
    assert.match(sysbox.stderr, /hint: /);
  });

  it('--explain prints the choice and the plan and runs nothing', async () => {
    const r = await start(['run', '--mode', 'auto', '--explain', '--', 'docker', 'version'], env).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^mode: /m);
    assert.match(r.stdout, /security risk: /);
    assert.match(r.stdout, /sysbox: not applicable/);
  });

  it('SIGTERM: the job is stopped, everything removed, nestling exits with the job\'s code', async () => {
    const { child, done } = start(['run', '--mode', 'dind', '-q', '--', 'sh', '-c', 'trap "exit 143" TERM; sleep 120 & wait'], env);
    const runId = await waitForJob(d, child.pid!);
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 143, r.stderr);
    assert.deepEqual(await leftovers(d.engine, runId), NOTHING);
  });

  it('Ctrl-C during setup: exit 130, and nothing of the run is left', async () => {
    const { child, done } = start(['run', '--mode', 'dind', '-q', '--', 'sh', '-c', 'echo JOB-RAN'], env);
    // interrupt while the inner daemon is starting (its container exists, the job's does not yet)
    let runId = '';
    const deadline = Date.now() + 60_000;
    while (!runId && Date.now() < deadline) {
      const cs = await d.engine.json<{ Labels: Record<string, string> }[]>({
        method: 'GET',
        path: '/containers/json',
        query: { all: true, filters: JSON.stringify({ label: [`${Labels.role}=daemon`] }) },
      });
      runId = cs.find((c) => c.Labels[Labels.pid]?.startsWith(`${hostname()}:${child.pid}:`))?.Labels[Labels.run] ?? '';
      if (!runId) await sleep(20);
    }
    assert.ok(runId, 'saw the inner daemon being created');
    child.kill('SIGINT');
    const r = await done;
    assert.doesNotMatch(r.stdout, /JOB-RAN/);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted during setup/);
    assert.deepEqual(await waitForNothing(d, runId, 15_000), NOTHING);
  });

  it('kill -9 of a guarded run: the watcher also removes the siblings the job started through the guard', async () => {
    const script = 'docker run -d nestling/busybox:local sleep 300 >/dev/null && echo SIBLING-UP && sleep 120';
    const { child, done } = start(['run', '--mode', 'guarded', '-q', '--', 'sh', '-c', script], env);
    const runId = await waitForJob(d, child.pid!);
    const deadline = Date.now() + 30_000;
    let before = await leftovers(d.engine, runId);
    while (before.containers.length < 2 && Date.now() < deadline) {
      await sleep(200);
      before = await leftovers(d.engine, runId);
    }
    assert.equal(before.containers.length, 2, JSON.stringify(before)); // job + sibling (owner label)
    child.kill('SIGKILL');
    await done;
    assert.deepEqual(await waitForNothing(d, runId, 30_000), NOTHING);
  });

  it('kill -9 of nestling: the watcher removes the job, the inner daemon, its network and volume', async () => {
    const { child, done } = start(['run', '--mode', 'dind', '-q', '--', 'sleep', '120'], env);
    const runId = await waitForJob(d, child.pid!);
    const before = await leftovers(d.engine, runId);
    assert.equal(before.containers.length, 2, JSON.stringify(before)); // job + daemon
    assert.equal(before.networks.length, 1);
    assert.equal(before.volumes.length, 1);
    // every volume mounted into the run's containers (named or anonymous) must go too
    const cs = await d.engine.json<{ Id: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters: JSON.stringify({ label: [`${Labels.run}=${runId}`] }) } });
    const mounted: string[] = [];
    for (const c of cs) {
      const info = await d.engine.json<{ Mounts: { Type: string; Name?: string }[] }>({ method: 'GET', path: `/containers/${c.Id}/json` });
      for (const m of info.Mounts) if (m.Type === 'volume' && m.Name) mounted.push(m.Name);
    }
    assert.ok(mounted.length >= 1, 'the inner daemon has its data root on a volume');
    child.kill('SIGKILL');
    const r = await done;
    assert.equal(r.signal, 'SIGKILL');
    assert.deepEqual(await waitForNothing(d, runId, 30_000), NOTHING);
    const vols = await d.engine.json<{ Volumes: { Name: string }[] | null }>({ method: 'GET', path: '/volumes' });
    const still = (vols.Volumes ?? []).map((v) => v.Name).filter((n) => mounted.includes(n));
    assert.deepEqual(still, [], 'volumes of the killed run are gone');
  });
});
