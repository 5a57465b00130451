import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { openEngine, closeEngine } from '../../harness/suite.js';
import type { Cleanup } from '../../harness/cleanup.js';
import { Engine } from '../../../src/engine/client.js';
import { Labels } from '../../../src/util/labels.js';
import { LocalImages } from '../../../src/images/local.js';
import { cacheVolumeName } from '../../../src/modes/daemon-plan.js';
import { listCaches, pruneCaches } from '../../../src/modes/cache.js';
import { imageExists } from '../../../src/modes/engine-ops.js';
import { downEngine, listUp, upEngine } from '../../../src/modes/up.js';
import { NO_PID, pidLabelFor, reapDeadRuns, runLabels } from '../../../src/modes/reaper.js';
import { leftovers, NOTHING, runJobForTest, testDeps } from './helpers.js';

describe('caches, up/down and the dead-run reaper (real engine)', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let hasImage = false;
  const prefix = uniquePrefix('cache');
  before(async () => {
    ({ d, cleanup } = await openEngine());
    hasImage = await imageExists(d.engine, LocalImages.dind);
  });
  after(() => closeEngine(cleanup, prefix));

  it('--cache: the data root survives the run; a concurrent run with the same key waits, then sees the cache', async (t) => {
    if (!hasImage) return t.skip(`${LocalImages.dind} is not built`);
    const key = `${prefix}-key`;
    const volume = cacheVolumeName('dind', key);
    cleanup.add('volume', volume);
    const tag = `${prefix}-cached:1`;
    // run A builds an image into the cache and holds it for a few seconds
    const a = runJobForTest(d.engine, {
      mode: 'dind',
      cache: key,
      preload: [LocalImages.busybox],
      cmd: ['sh', '-c', `printf 'FROM nestling/busybox:local\\nRUN echo warm > /w\\n' | docker build -q -t ${tag} - >/dev/null && echo A-BUILT && sleep 4 && echo A-DONE`],
    });
    // B starts while A holds the cache: it must wait (never two daemons on one data root)
    await new Promise((r) => setTimeout(r, 2500));
    const bDeps = testDeps();
    const b = runJobForTest(d.engine, { mode: 'dind', cache: key, cmd: ['sh', '-c', `docker image inspect -f '{{.Id}}' ${tag} >/dev/null && echo B-SEES-CACHE`] }, bDeps);
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.summary.exitCode, 0, ra.stdout + ra.stderr);
    assert.match(ra.stdout, /A-DONE/);
    assert.equal(rb.summary.exitCode, 0, rb.stdout + rb.stderr + rb.progress.join('\n'));
    assert.match(rb.stdout, /B-SEES-CACHE/);
    assert.ok(rb.progress.some((l) => /in use by run .* waiting/.test(l)), rb.progress.join('\n'));
    // the cache volume stays, labelled; the runs' other objects are gone
    const caches = await listCaches(d.engine);
    const c = caches.find((x) => x.volume === volume);
    assert.ok(c, JSON.stringify(caches));
    assert.equal(c.key, key);
    assert.equal(c.inUse, false);
    // the last run stamped the cache with its last use (the engine is local here, so nestling can read it)
    assert.ok(c.lastUsed && Date.now() - Date.parse(c.lastUsed) < 120_000, JSON.stringify(c));
    assert.deepEqual(await leftovers(d.engine, ra.summary.runId), NOTHING);
    assert.deepEqual(await leftovers(d.engine, rb.summary.runId), NOTHING);
    // prune --older-than keeps a fresh cache, prune without it removes it
    const p1 = await pruneCaches(d.engine, 3_600_000, Date.now());
    assert.ok(!p1.removed.includes(volume));
    assert.ok(p1.kept.some((k) => k.volume === volume && /last used/.test(k.why)));
  });

  it('up/down: a long-lived engine a runner on the host reaches over TLS on loopback', async (t) => {
    if (!hasImage) return t.skip(`${LocalImages.dind} is not built`);
    const name = `${prefix}-up`.toLowerCase();
    const certDir = mkdtempSync(join(tmpdir(), 'nst-up-'));
    const deps = testDeps();
    const r = await upEngine(
      d.engine,
      { mode: 'dind', name, images: 'local', preload: [], env: [], cmd: [], tty: false, interactive: false },
      { ...deps, pidLabel: NO_PID, certDir },
    );
    try {
      assert.match(r.env.DOCKER_HOST!, /^tcp:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(r.env.DOCKER_TLS_VERIFY, '1');
      assert.equal(statSync(join(certDir, 'key.pem')).mode & 0o777, 0o600);
      // the docker CLI, as a runner would use it
      const v = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { env: { ...process.env, ...r.env }, encoding: 'utf8' });
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stdout, /\d+\.\d+/);
      // and our own client with the written certificates
      const port = Number(/:(\d+)$/.exec(r.env.DOCKER_HOST!)![1]);
      const inner = new Engine({
        kind: 'tcp',
        host: '127.0.0.1',
        port,
        url: r.env.DOCKER_HOST!,
        source: 'test',
        tls: { verify: true, ca: readFileSync(join(certDir, 'ca.pem')), cert: readFileSync(join(certDir, 'cert.pem')), key: readFileSync(join(certDir, 'key.pem')) },
      });
      await inner.ping();
      assert.ok((await listUp(d.engine)).some((u) => u.name === name));
      // long-lived: the dead-run reaper leaves it alone
      await reapDeadRuns(d.engine, hostname());
      assert.ok((await listUp(d.engine)).some((u) => u.name === name));
    } finally {
      await downEngine(d.engine, name, certDir);
    }
    assert.deepEqual(await leftovers(d.engine, name), NOTHING);
    assert.throws(() => statSync(certDir));
    rmSync(certDir, { recursive: true, force: true });
  });

  it('the next nestling reaps runs whose process is dead, and leaves live ones alone', async () => {
    // a pid label of a process that has exited
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(child.stdout.trim());
    const deadRun = `${prefix}-dead`;
    const liveRun = `${prefix}-live`;
    const deadLabel = `${hostname()}:${deadPid}:1`;
    const liveLabel = pidLabelFor(hostname(), process.pid);
    for (const [run, pid] of [
      [deadRun, deadLabel],
      [liveRun, liveLabel],
    ] as const) {
      const labels = runLabels(run, 'job', pid);
      await d.engine.json({ method: 'POST', path: '/networks/create', body: { Name: `${run}-net`, Labels: labels } });
      await d.engine.json({ method: 'POST', path: '/volumes/create', body: { Name: `${run}-vol`, Labels: labels } });
      const c = await d.engine.json<{ Id: string }>({
        method: 'POST',
        path: '/containers/create',
        query: { name: `${run}-c` },
        body: { Image: LocalImages.busybox, Cmd: ['sleep', '60'], Labels: labels, HostConfig: { Mounts: [{ Type: 'volume', Source: `${run}-vol`, Target: '/v' }] } },
      });
      await d.engine.call({ method: 'POST', path: `/containers/${c.Id}/start` });
    }
    const reaped = await reapDeadRuns(d.engine, hostname());
    // Suites run in parallel on one daemon and every `nestling run` reaps dead runs first: another one may have
    // reaped this dead run already. Either way the next nestling leaves nothing of it.
    const mine = reaped.find((r) => r.runId === deadRun);
    if (mine) assert.equal(mine.runId, deadRun);
    assert.deepEqual(await leftovers(d.engine, deadRun), NOTHING, JSON.stringify(reaped));
    const live = await leftovers(d.engine, liveRun);
    assert.equal(live.containers.length, 1);
    assert.equal(live.networks.length, 1);
    assert.equal(live.volumes.length, 1);
    assert.ok(!reaped.some((r) => r.runId === liveRun));
    const cs = await d.engine.json<{ Labels: Record<string, string> }[]>({ method: 'GET', path: '/containers/json', query: { filters: JSON.stringify({ label: [`${Labels.run}=${liveRun}`] }) } });
    assert.equal(cs[0]!.Labels[Labels.pid], liveLabel);
  });
});
