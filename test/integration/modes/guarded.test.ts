import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { openEngine, closeEngine } from '../../harness/suite.js';
import type { Cleanup } from '../../harness/cleanup.js';
import { Labels } from '../../../src/util/labels.js';
import { ownerFor } from '../../../src/modes/reaper.js';
import { leftovers, NOTHING, runJobForTest } from './helpers.js';

describe('mode guarded (real engine)', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('guarded');
  const ws = mkdtempSync(join(tmpdir(), 'nst-gws-'));
  before(async () => {
    ({ d, cleanup } = await openEngine());
  });
  after(() => closeEngine(cleanup, prefix, [ws]));

  it('--workspace DIR:PATH: the guard translates binds of PATH in the job to DIR on the host', async () => {
    writeFileSync(join(ws, 'marker'), 'seen-through-mapping\n');
    const r = await runJobForTest(d.engine, {
      mode: 'guarded',
      workspace: ws,
      workspaceTarget: '/work',
      cmd: ['sh', '-c', 'pwd; docker run --rm -v /work:/w nestling/busybox:local cat /w/marker'],
    });
    assert.equal(r.summary.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^\/work$/m);
    assert.match(r.stdout, /seen-through-mapping/);
    assert.deepEqual(await leftovers(d.engine, r.summary.runId), NOTHING);
  });

  it('siblings are on the host engine, owned by the job, on the per-job network, and reaped with the run', async () => {
    const tag = `${prefix}-img:1`;
    const child = `${prefix}-child`;
    cleanup.add('image', tag);
    const script = [
      'set -e',
      'cd "$PWD"',
      `printf 'FROM nestling/busybox:local\\nRUN echo built-guarded > /msg\\n' > Dockerfile`,
      `docker build -q -t ${tag} . >/dev/null`,
      `docker run --name ${child} -v ${ws}:/w ${tag} sh -c 'cat /msg; ls /w'`,
      // a long-lived sibling: still running when the job ends, must be reaped
      `docker run -d --name ${child}-bg nestling/busybox:local sleep 300 >/dev/null`,
      `echo "CHILD_ID=$(docker inspect -f '{{.Id}}' ${child})"`,
      `echo "BG_ID=$(docker inspect -f '{{.Id}}' ${child}-bg)"`,
      'if docker run --rm -v /etc:/host-etc nestling/busybox:local true 2>/dev/null; then echo BIND-ETC-ALLOWED; fi',
      'exit 3',
    ].join('\n');
    // observe the sibling while the run is alive: poll the host engine for the owner's containers
    let seen: { Id: string; Labels: Record<string, string>; NetworkSettings: { Networks: Record<string, unknown> } }[] = [];
    let runId = '';
    const polling = (async () => {
      for (let i = 0; i < 400 && seen.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const cs = await d.engine.json<typeof seen>({ method: 'GET', path: '/containers/json', query: { filters: JSON.stringify({ name: [`${child}-bg`] }) } });
        if (cs.length) seen = cs;
      }
    })();
    const r = await runJobForTest(d.engine, { mode: 'guarded', workspace: ws, cmd: ['sh', '-c', script] });
    runId = r.summary.runId;
    await polling;
    assert.equal(r.summary.exitCode, 3, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /built-guarded/);
    assert.match(r.stdout, /Dockerfile/); // the workspace bind resolved on the host
    assert.doesNotMatch(r.stdout, /BIND-ETC-ALLOWED/);
    assert.equal(seen.length, 1, 'the sibling was visible on the host engine while the job ran');
    assert.equal(seen[0]!.Labels[Labels.owner], ownerFor(runId));
    assert.ok(Object.keys(seen[0]!.NetworkSettings.Networks).includes(`nestling-${runId}-net`), JSON.stringify(seen[0]!.NetworkSettings.Networks));
    // reaped: the siblings, the image the job built, the network
    assert.deepEqual(await leftovers(d.engine, runId), NOTHING);
    await assert.rejects(d.engine.json({ method: 'GET', path: `/images/${encodeURIComponent(tag)}/json` }), (e: { statusCode?: number }) => e.statusCode === 404);
  });
});
