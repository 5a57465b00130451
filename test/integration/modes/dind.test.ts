import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { openEngine, closeEngine } from '../../harness/suite.js';
import type { Cleanup } from '../../harness/cleanup.js';
import { imageExists } from '../../../src/modes/engine-ops.js';
import { LocalImages } from '../../../src/images/local.js';
import { buildAndRunScript, leftovers, NOTHING, runJobForTest } from './helpers.js';

describe('mode dind (real engine, local images)', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let hasImage = false;
  const prefix = uniquePrefix('dind');
  before(async () => {
    ({ d, cleanup } = await openEngine());
    hasImage = await imageExists(d.engine, LocalImages.dind);
  });
  after(() => closeEngine(cleanup, prefix));

  it('a job builds and runs a child through TLS: the child is NOT on the host engine; exit code; nothing left', async (t) => {
    if (!hasImage) return t.skip(`${LocalImages.dind} is not built (nestling images build dind)`);
    const tag = `${prefix}-img:1`;
    const child = `${prefix}-child`;
    const script = [
      buildAndRunScript(tag, child),
      'echo "TLS=$DOCKER_TLS_VERIFY $DOCKER_HOST $DOCKER_CERT_PATH"',
      // never plain TCP: no listener without TLS, and the TLS port refuses a client without a certificate
      'if docker -H tcp://docker:2375 version >/dev/null 2>&1; then echo PLAIN-2375-OPEN; fi',
      'if DOCKER_TLS_VERIFY= DOCKER_CERT_PATH=/nonexistent docker -H tcp://docker:2376 version >/dev/null 2>&1; then echo PLAIN-2376-OPEN; fi',
      'docker network inspect bridge --format "MTU={{index .Options \\"com.docker.network.driver.mtu\\"}}"',
      'exit 5',
    ].join('\n');
    const r = await runJobForTest(d.engine, { mode: 'dind', preload: [LocalImages.busybox], cmd: ['sh', '-c', script] });
    assert.equal(r.summary.exitCode, 5, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /built-inside/);
    assert.match(r.stdout, /TLS=1 tcp:\/\/docker:2376 \/certs\/client/);
    assert.doesNotMatch(r.stdout, /PLAIN-/);
    const facts = await d.engine.json<{ Options: Record<string, string> }>({ method: 'GET', path: '/networks/bridge' });
    assert.match(r.stdout, new RegExp(`MTU=${facts.Options['com.docker.network.driver.mtu'] ?? '1500'}`));
    const id = /CHILD_ID=([0-9a-f]{64})/.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    // child: the host engine knows neither the container nor the image
    await assert.rejects(d.engine.json({ method: 'GET', path: `/containers/${id}/json` }), (e: { statusCode?: number }) => e.statusCode === 404);
    await assert.rejects(d.engine.json({ method: 'GET', path: `/images/${encodeURIComponent(tag)}/json` }), (e: { statusCode?: number }) => e.statusCode === 404);
    // the run said how it got privileges on this host
    assert.ok(r.progress.some((l) => /privileged/.test(l)), r.progress.join('\n'));
    assert.ok(r.summary.timings.deployMs! > 0);
    assert.deepEqual(await leftovers(d.engine, r.summary.runId), NOTHING);
  });

  it('--guard: the job reaches the inner daemon only through the guard, which refuses --privileged', async (t) => {
    if (!hasImage) return t.skip(`${LocalImages.dind} is not built`);
    const script = [
      'echo "HOST=$DOCKER_HOST"',
      'docker run --rm nestling/busybox:local echo child-through-guard',
      'if docker run --rm --privileged nestling/busybox:local true 2>/tmp/err; then echo PRIVILEGED-ALLOWED; fi',
      'cat /tmp/err',
    ].join('\n');
    const r = await runJobForTest(d.engine, { mode: 'dind', guard: true, preload: [LocalImages.busybox], cmd: ['sh', '-c', script] });
    assert.equal(r.summary.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /HOST=unix:\/\/\/run\/nestling\/docker.sock/);
    assert.match(r.stdout, /child-through-guard/);
    assert.doesNotMatch(r.stdout, /PRIVILEGED-ALLOWED/);
    assert.match(r.stdout + r.stderr, /denied by rule no-privileged/);
    assert.deepEqual(await leftovers(d.engine, r.summary.runId), NOTHING);
  });
});
