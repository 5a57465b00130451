// Reaping against the real dockerd: after kill -9 of the job's client AND of the guard, `nestling reap --owner`
// removes everything the owner label marks; `--reap-on-exit` does it when the guard gets SIGTERM.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { DOCKER_28, run } from './helpers.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const IMG = 'nestling/busybox:local';

function startGuardProcess(args: string[]): Promise<{ p: ChildProcess; url: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, 'guard', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ p, url: m[1]!, stderr: () => err });
    });
    p.on('exit', (code) => reject(new Error(`guard exited with ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`guard did not start: ${err}`)), 15_000);
  });
}

describe('guard: reaping', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('greap');
  const dir = mkdtempSync(join(tmpdir(), 'nst-reap-'));

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
  });
  after(async () => {
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  const owned = async (owner: string) => {
    const filters = JSON.stringify({ label: [`io.nestling.owner=${owner}`] });
    const cs = await d.engine.json<unknown[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters } });
    const ns = await d.engine.json<unknown[]>({ method: 'GET', path: '/networks', query: { filters } });
    const vs = await d.engine.json<{ Volumes: unknown[] | null }>({ method: 'GET', path: '/volumes', query: { filters } });
    return { containers: cs.length, networks: ns.length, volumes: (vs.Volumes ?? []).length };
  };

  /** Makes a job's worth of objects through the guard: running containers (one attached client), a network, volumes. */
  const makeObjects = async (url: string, tag: string): Promise<ChildProcess> => {
    const env = { ...process.env, DOCKER_HOST: url };
    const docker = (args: string[]) => run(DOCKER_28, args, { env: { DOCKER_HOST: url } });
    assert.equal((await docker(['network', 'create', `${prefix}-${tag}-net`])).code, 0);
    assert.equal((await docker(['volume', 'create', `${prefix}-${tag}-vol`])).code, 0);
    const r = await docker(['run', '-d', '--name', `${prefix}-${tag}-c1`, '--network', `${prefix}-${tag}-net`, '-v', '/anon', '-v', `${prefix}-${tag}-vol:/v`, IMG, 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await docker(['create', '--name', `${prefix}-${tag}-c2`, IMG, 'true'])).code, 0);
    // the "job": a client attached to a running container
    const job = spawn(DOCKER_28, ['run', '-i', '--name', `${prefix}-${tag}-c3`, IMG, 'cat'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
    for (let i = 0; i < 100; i++) {
      const ps = await docker(['ps', '--format', '{{.Names}}']);
      if (ps.stdout.includes(`${prefix}-${tag}-c3`)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    return job;
  };

  it('after kill -9 of the job and of the guard, `nestling reap --owner` removes everything the owner made', async () => {
    const owner = `${prefix}-k9`;
    const g = await startGuardProcess(['--upstream', d.url, '--listen', `unix://${join(dir, 'k9.sock')}`, '--owner', owner]);
    const job = await makeObjects(g.url, 'k9');
    job.kill('SIGKILL');
    g.p.kill('SIGKILL');
    await new Promise((res) => g.p.once('exit', res));
    const before = await owned(owner);
    // the named volume carries the label; the anonymous one does when the decider labels it, and in any case goes
    // with its container (v=1)
    assert.equal(before.containers, 3);
    assert.equal(before.networks, 1);
    assert.ok(before.volumes >= 1);
    const c1 = await d.engine.json<{ Mounts: { Type: string; Name?: string; Destination: string }[] }>({ method: 'GET', path: `/containers/${prefix}-k9-c1/json` });
    const anon = c1.Mounts.find((m) => m.Destination === '/anon')?.Name;
    assert.ok(anon);
    const r = await run(process.execPath, [CLI, 'reap', '--owner', owner, '--json'], { env: { DOCKER_HOST: d.url } });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { containers: string[]; networks: string[]; volumes: string[]; errors: unknown[] };
    assert.equal(report.containers.length, 3);
    assert.equal(report.networks.length, 1);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(await owned(owner), { containers: 0, networks: 0, volumes: 0 });
    await assert.rejects(d.engine.json({ method: 'GET', path: `/volumes/${anon}` }), /no such volume/i);
    // a second reap finds nothing and still succeeds
    const again = await run(process.execPath, [CLI, 'reap', '--owner', owner, '--json'], { env: { DOCKER_HOST: d.url } });
    assert.equal(again.code, 0);
    assert.equal((JSON.parse(again.stdout) as { containers: string[] }).containers.length, 0);
  });

  it('--reap-on-exit removes everything on SIGTERM, and the guard exits 0', async () => {
    const owner = `${prefix}-term`;
    const g = await startGuardProcess(['--upstream', d.url, '--listen', `unix://${join(dir, 'term.sock')}`, '--owner', owner, '--reap-on-exit', '--quiet']);
    const job = await makeObjects(g.url, 'term');
    assert.equal((await owned(owner)).containers, 3);
    g.p.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => g.p.once('exit', (c) => res(c)));
    job.kill('SIGKILL');
    assert.equal(code, 0, g.stderr());
    assert.match(g.stderr(), /reaped owner .*: 3 containers, 1 networks, \d+ volumes/);
    assert.deepEqual(await owned(owner), { containers: 0, networks: 0, volumes: 0 });
  });

  it('reaping one owner leaves another owner\'s objects alone', async () => {
    const a = `${prefix}-keep`;
    const g = await startGuardProcess(['--upstream', d.url, '--listen', `unix://${join(dir, 'keep.sock')}`, '--owner', a]);
    const r = await run(DOCKER_28, ['run', '-d', '--name', `${prefix}-keep-c`, IMG, 'sleep', '60'], { env: { DOCKER_HOST: g.url } });
    assert.equal(r.code, 0, r.stderr);
    const rr = await run(process.execPath, [CLI, 'reap', '--owner', `${prefix}-other`], { env: { DOCKER_HOST: d.url } });
    assert.equal(rr.code, 0);
    assert.equal((await owned(a)).containers, 1);
    g.p.kill('SIGTERM');
    await new Promise((res) => g.p.once('exit', res));
  });
});
