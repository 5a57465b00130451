// What Testcontainers' Ryuk (and any socket-mounting helper) needs, without opening the host socket: a container
// started through the guard may bind the guard's OWN socket, and then talks to the engine as the same owner,
// through the same policy. The upstream (host) socket, the socket's directory, or anything else stays refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { DOCKER_20, run, startTestGuard, type TestGuard } from './helpers.js';

describe('guard: a container may mount the guard\'s own socket, and no other', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let other: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('gself');
  const docker = (args: string[], host = g.url) => run(DOCKER_20, args, { env: { DOCKER_HOST: host }, timeoutMs: 120_000 });
  let mine = '';
  let theirs = '';

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    g = await startTestGuard(d, `${prefix}-owner`);
    other = await startTestGuard(d, `${prefix}-other`);
    const a = await docker(['run', '-d', '--name', `${prefix}-mine`, 'nestling/busybox:local', 'sleep', '120']);
    assert.equal(a.code, 0, a.stderr);
    mine = cleanup.add('container', a.stdout.trim());
    const b = await docker(['run', '-d', '--name', `${prefix}-theirs`, 'nestling/busybox:local', 'sleep', '120'], other.url);
    assert.equal(b.code, 0, b.stderr);
    theirs = cleanup.add('container', b.stdout.trim());
  });
  after(async () => {
    await g?.close();
    await other?.close();
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  it('the container sees only the owner\'s objects and is held to the same policy', async () => {
    const script = [
      'echo "ps: $(docker ps -q --no-trunc | tr "\\n" " ")"',
      `docker run --rm --name ${prefix}-inner nestling/busybox:local echo inner-ok`,
      'docker run --rm --privileged nestling/busybox:local true 2>&1 | grep -o "denied by rule [a-z-]*"',
    ].join('; ');
    const r = await docker(['run', '--rm', '--name', `${prefix}-helper`, '-v', `${g.socketPath}:/var/run/docker.sock`, 'nestling/cli:local', 'sh', '-c', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`ps: .*${mine}`));
    assert.doesNotMatch(r.stdout, new RegExp(theirs), 'another owner\'s container is invisible');
    assert.match(r.stdout, /inner-ok/);
    assert.match(r.stdout, /denied by rule no-privileged/);
    assert.ok(g.records.some((x) => x.route === 'container-create' && (x.notes ?? []).some((n) => n.includes("guard's own socket"))), 'the decision log names the self-socket bind');
  });

  it('the host (upstream) socket, the guard socket\'s directory and another guard\'s socket are refused', async () => {
    for (const src of [d.socketPath, dirname(g.socketPath!), other.socketPath!]) {
      const r = await docker(['create', '-v', `${src}:/var/run/docker.sock`, 'nestling/busybox:local', 'true']);
      assert.notEqual(r.code, 0, `bind of ${src} must be refused`);
      assert.match(r.stderr, /denied by rule bind-outside-allowlist/, src);
    }
    // two-sided: the daemon itself accepts such a bind
    const direct = await run(DOCKER_20, ['create', '--name', `${prefix}-direct`, '-v', `${d.socketPath}:/var/run/docker.sock`, 'nestling/busybox:local', 'true'], {
      env: { DOCKER_HOST: d.url },
    });
    assert.equal(direct.code, 0, direct.stderr);
  });
});
