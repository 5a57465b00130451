/**
 * The daemon's predefined networks through the guard, two-sided against the real dockerd with the docker CLI:
 * `docker network ls` shows bridge, host and none besides the job's own networks (never another owner's, never an
 * unlabelled one), `docker network inspect bridge` works (the gateway Testcontainers and scripts read) with its
 * `Containers` emptied (directly it names other jobs' containers), the job may connect its own containers to
 * `bridge`, never to `host`, and may not remove a predefined network.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { closeEngine, openEngine } from '../../harness/suite.js';
import type { Cleanup } from '../../harness/cleanup.js';
import { DOCKER_28, run, startTestGuard, type TestGuard } from './helpers.js';

const IMG = 'nestling/busybox:local';

interface NetInspect {
  Id: string;
  Name: string;
  IPAM: { Config: { Subnet?: string; Gateway?: string }[] | null };
  Containers: Record<string, { Name: string }> | null;
}

describe('guard: predefined networks (bridge, host, none)', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let g: TestGuard;
  let other: TestGuard;
  const prefix = uniquePrefix('gnet');
  let foreignOnBridge = '';

  before(async () => {
    ({ d, cleanup } = await openEngine());
    g = await startTestGuard(d, `${prefix}-me`);
    other = await startTestGuard(d, `${prefix}-other`);
    // another job's network and a running container of it on the default bridge; an unlabelled network
    for (const [guard, args] of [
      [other, ['network', 'create', `${prefix}-theirs`]],
      [undefined, ['network', 'create', `${prefix}-unlabelled`]],
      [g, ['network', 'create', `${prefix}-mine`]],
    ] as const) {
      const r = await docker(guard, [...args]);
      assert.equal(r.code, 0, r.stderr);
      cleanup.add('network', r.stdout.trim());
    }
    const c = await docker(other, ['run', '-d', '--name', `${prefix}-their-c`, '--network', 'bridge', IMG, 'sleep', '300']);
    assert.equal(c.code, 0, c.stderr);
    foreignOnBridge = c.stdout.trim();
    cleanup.add('container', foreignOnBridge);
  });
  after(async () => {
    await g?.close();
    await other?.close();
    await closeEngine(cleanup, prefix, [g?.dir, other?.dir].filter((x): x is string => !!x));
  });

  function docker(guard: TestGuard | undefined, args: string[]) {
    return run(DOCKER_28, args, { env: { DOCKER_HOST: guard ? guard.url : d.url, HOME: '/nonexistent-home' }, timeoutMs: 90_000 });
  }
  const names = (out: string) => out.trim().split('\n').filter(Boolean).sort();

  it('docker network ls shows bridge, host, none and the job\'s own networks; directly, every network', async () => {
    const via = await docker(g, ['network', 'ls', '--format', '{{.Name}}']);
    assert.equal(via.code, 0, via.stderr);
    assert.deepEqual(names(via.stdout), ['bridge', 'host', `${prefix}-mine`, 'none'].sort());
    const direct = await docker(undefined, ['network', 'ls', '--format', '{{.Name}}']);
    for (const n of ['bridge', 'host', 'none', `${prefix}-mine`, `${prefix}-theirs`, `${prefix}-unlabelled`]) assert.ok(names(direct.stdout).includes(n), n);
    // the job's own filters still apply, in the daemon
    const custom = await docker(g, ['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}}']);
    assert.deepEqual(names(custom.stdout), [`${prefix}-mine`]);
    const builtin = await docker(g, ['network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}']);
    assert.deepEqual(names(builtin.stdout), ['bridge', 'host', 'none']);
    const byName = await docker(g, ['network', 'ls', '--filter', `name=${prefix}-theirs`, '-q']);
    assert.equal(byName.stdout.trim(), '');
  });

  it('docker network inspect bridge works (gateway), by name and id prefix, without other jobs\' containers', async () => {
    const direct = JSON.parse((await docker(undefined, ['network', 'inspect', 'bridge'])).stdout) as NetInspect[];
    assert.ok(direct[0]!.Containers && foreignOnBridge in direct[0]!.Containers, 'directly, the other job\'s container is listed on bridge');
    const via = await docker(g, ['network', 'inspect', 'bridge']);
    assert.equal(via.code, 0, via.stderr);
    const b = (JSON.parse(via.stdout) as NetInspect[])[0]!;
    assert.equal(b.Id, direct[0]!.Id);
    assert.equal(b.Name, 'bridge');
    assert.ok(b.IPAM.Config?.[0]?.Gateway, 'the gateway is there');
    assert.equal(b.IPAM.Config?.[0]?.Gateway, direct[0]!.IPAM.Config?.[0]?.Gateway);
    assert.deepEqual(b.Containers ?? {}, {});
    assert.doesNotMatch(via.stdout, new RegExp(foreignOnBridge.slice(0, 12)));
    const gw = await docker(g, ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', direct[0]!.Id.slice(0, 10)]);
    assert.equal(gw.code, 0, gw.stderr);
    assert.equal(gw.stdout.trim(), b.IPAM.Config?.[0]?.Gateway);
    for (const n of ['host', 'none']) assert.equal((await docker(g, ['network', 'inspect', n])).code, 0, n);
  });

  it('another owner\'s and unlabelled networks stay invisible by name (daemon wording); directly they exist', async () => {
    for (const n of [`${prefix}-theirs`, `${prefix}-unlabelled`]) {
      assert.equal((await docker(undefined, ['network', 'inspect', n])).code, 0);
      const r = await docker(g, ['network', 'inspect', n]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`network ${n} not found`));
    }
  });

  it('connect: own containers to bridge yes, to host no, other jobs\' containers not found', async () => {
    const c = await docker(g, ['create', '--name', `${prefix}-my-c`, '--network', `${prefix}-mine`, IMG, 'sleep', '300']);
    assert.equal(c.code, 0, c.stderr);
    cleanup.add('container', c.stdout.trim());
    const conn = await docker(g, ['network', 'connect', 'bridge', `${prefix}-my-c`]);
    assert.equal(conn.code, 0, conn.stderr);
    const nets = await d.engine.json<{ NetworkSettings: { Networks: Record<string, unknown> } }>({ method: 'GET', path: `/containers/${prefix}-my-c/json` });
    assert.deepEqual(Object.keys(nets.NetworkSettings.Networks).sort(), ['bridge', `${prefix}-mine`].sort());
    const disc = await docker(g, ['network', 'disconnect', 'bridge', `${prefix}-my-c`]);
    assert.equal(disc.code, 0, disc.stderr);
    const theirs = await docker(g, ['network', 'disconnect', 'bridge', foreignOnBridge]);
    assert.notEqual(theirs.code, 0);
    assert.match(theirs.stderr, /No such container/);
    const host = await docker(g, ['network', 'connect', 'host', `${prefix}-my-c`]);
    assert.notEqual(host.code, 0);
    assert.match(host.stderr, /denied by rule host-namespace: network=host/);
    // directly the daemon accepts connecting this container to bridge (and refuses host itself)
    const directConn = await docker(undefined, ['network', 'connect', 'bridge', `${prefix}-my-c`]);
    assert.equal(directConn.code, 0, directConn.stderr);
    const runHost = await docker(g, ['run', '--rm', '--network', 'host', IMG, 'true']);
    assert.match(runHost.stderr, /denied by rule host-namespace/);
  });

  it('removing a predefined network is refused (system-wide); the daemon refuses it too', async () => {
    const via = await docker(g, ['network', 'rm', 'bridge']);
    assert.notEqual(via.code, 0);
    assert.match(via.stderr, /denied by rule system-wide: network=bridge/);
    const direct = await docker(undefined, ['network', 'rm', 'none']);
    assert.notEqual(direct.code, 0);
    assert.match(direct.stderr, /pre-defined network/);
  });
});
