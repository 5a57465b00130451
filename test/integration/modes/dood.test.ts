import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { openEngine, closeEngine } from '../../harness/suite.js';
import type { Cleanup } from '../../harness/cleanup.js';
import { buildAndRunScript, leftovers, NOTHING, runJobForTest } from './helpers.js';

describe('mode dood (real engine)', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('dood');
  const ws = mkdtempSync(join(tmpdir(), 'nst-ws-'));
  before(async () => {
    ({ d, cleanup } = await openEngine());
  });
  after(() => closeEngine(cleanup, prefix, [ws]));

  it('a job builds an image and runs a container: a sibling on the host engine; the exit code propagates', async () => {
    const tag = `${prefix}-img:1`;
    const child = `${prefix}-child`;
    cleanup.add('image', tag);
    cleanup.add('container', child);
    const r = await runJobForTest(d.engine, {
      mode: 'dood',
      workspace: ws,
      cmd: ['sh', '-c', `${buildAndRunScript(tag, child)}\necho from-job > ${ws}/proof\ndocker run --rm -v ${ws}:/w nestling/busybox:local cat /w/proof\nexit 7`],
    });
    assert.equal(r.summary.exitCode, 7, r.stderr);
    assert.match(r.stdout, /built-inside/);
    // the workspace is at the same path: a bind of it from inside the job resolves on the host
    assert.match(r.stdout, /from-job/);
    assert.equal(readFileSync(join(ws, 'proof'), 'utf8'), 'from-job\n');
    const id = /CHILD_ID=([0-9a-f]{64})/.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    // sibling: the host engine sees the container the job started, and its image
    const info = await d.engine.json<{ Id: string; Config: { Labels: Record<string, string> | null } }>({ method: 'GET', path: `/containers/${id}/json` });
    assert.equal(info.Id, id);
    // unguarded DooD cannot label what the job creates: no owner label (guarded mode does that)
    assert.equal(info.Config.Labels?.['io.nestling.owner'], undefined);
    await d.engine.json({ method: 'GET', path: `/images/${encodeURIComponent(tag)}/json` });
    assert.ok(r.progress.some((l) => /root on the host/.test(l)));
  });

  it('leaves nothing of its own on the engine', async () => {
    const r = await runJobForTest(d.engine, { mode: 'dood', cmd: ['sh', '-c', 'docker version --format "{{.Server.APIVersion}}"'] });
    assert.equal(r.summary.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^1\.\d+/);
    assert.deepEqual(await leftovers(d.engine, r.summary.runId), NOTHING);
  });
});
