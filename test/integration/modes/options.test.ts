/** --dockerd (a local dockerd as the inner daemon) and --daemon-user (the rootless user remapped), on the real engine. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { openEngine, closeEngine } from '../../harness/suite.js';
import type { Cleanup } from '../../harness/cleanup.js';
import { imageExists } from '../../../src/modes/engine-ops.js';
import { newRunId } from '../../../src/modes/run.js';
import { LocalImages } from '../../../src/images/local.js';
import { Labels } from '../../../src/util/labels.js';
import { leftovers, NOTHING, runJobForTest } from './helpers.js';

describe('run options on the real engine', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('opts');
  const dir = mkdtempSync(join(tmpdir(), 'nst-dockerd-'));
  before(async () => {
    ({ d, cleanup } = await openEngine());
  });
  after(() => closeEngine(cleanup, prefix, [dir]));

  it('--dockerd: the given binary is the inner daemon', async (t) => {
    if (!(await imageExists(d.engine, LocalImages.dind))) return t.skip(`${LocalImages.dind} is not built`);
    // stands in for a locally built dockerd: it marks the daemon it starts with an engine label
    const bin = join(dir, 'dockerd');
    writeFileSync(bin, `#!/bin/sh\nexec /usr/sbin/dockerd --label ${prefix}=custom-dockerd "$@"\n`);
    chmodSync(bin, 0o755);
    const r = await runJobForTest(d.engine, { mode: 'dind', dockerd: bin, cmd: ['sh', '-c', 'docker info --format "LABELS={{json .Labels}}"'] });
    assert.equal(r.summary.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`LABELS=.*${prefix}=custom-dockerd`));
    assert.deepEqual(await leftovers(d.engine, r.summary.runId), NOTHING);
  });

  it('--daemon-user: the rootless daemon runs as the remapped uid, never as host root', async (t) => {
    if (!(await imageExists(d.engine, LocalImages.dindRootless))) return t.skip(`${LocalImages.dindRootless} is not built`);
    const runId = newRunId();
    let top: { Titles: string[]; Processes: string[][] } | undefined;
    const polling = (async () => {
      for (let i = 0; i < 300 && !top; i++) {
        await new Promise((r) => setTimeout(r, 200));
        const cs = await d.engine.json<{ Id: string }[]>({
          method: 'GET',
          path: '/containers/json',
          query: { filters: JSON.stringify({ label: [`${Labels.run}=${runId}`, `${Labels.role}=job`] }) },
        });
        if (!cs.length) continue;
        const daemons = await d.engine.json<{ Id: string }[]>({
          method: 'GET',
          path: '/containers/json',
          query: { filters: JSON.stringify({ label: [`${Labels.run}=${runId}`, `${Labels.role}=daemon`] }) },
        });
        if (daemons[0]) top = await d.engine.json({ method: 'GET', path: `/containers/${daemons[0].Id}/top`, query: { ps_args: '-o pid,uid,comm' } });
      }
    })();
    const r = await runJobForTest(d.engine, { mode: 'rootless', runId, daemonUser: '2000:2000', cmd: ['sh', '-c', 'docker info --format "{{json .SecurityOptions}}"; sleep 3'] });
    await polling;
    assert.equal(r.summary.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /name=rootless/);
    assert.ok(top, 'saw the daemon container\'s processes while the job ran');
    const uidCol = top.Titles.findIndex((x) => /uid/i.test(x));
    const cmdCol = top.Titles.findIndex((x) => /comm|cmd/i.test(x));
    const procs = top.Processes.map((p) => ({ uid: p[uidCol]!, comm: p[cmdCol]! }));
    assert.ok(procs.some((p) => p.comm.includes('dockerd') && p.uid === '2000'), JSON.stringify(procs));
    assert.ok(procs.every((p) => p.uid !== '0'), JSON.stringify(procs));
    assert.deepEqual(await leftovers(d.engine, runId), NOTHING);
  });
});
