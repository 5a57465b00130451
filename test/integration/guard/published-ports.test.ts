// Published host ports are listeners on the host (a docker-proxy process and iptables rules each): a container may
// publish at most quotas.publishedPorts (default 1024), ranges counted port by port and `-P` counted as every port
// the request and the image expose. Two-sided against the real daemon: it creates such containers directly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { closeEngine, openEngine } from '../../harness/suite.js';
import type { Cleanup } from '../../harness/cleanup.js';
import { defaultPolicy } from '../../../src/guard/policy.js';
import { apiRequest, DOCKER_28, run, startTestGuard, type TestGuard } from './helpers.js';

const IMG = 'nestling/busybox:local';

describe('guard: published ports quota', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let g: TestGuard;
  let relaxed: TestGuard;
  const prefix = uniquePrefix('gports');
  const manyExposed = `${prefix}-exposed:1`;

  const create = async (socketPath: string, body: object) => {
    const r = await apiRequest(socketPath, 'POST', '/v1.41/containers/create', JSON.stringify(body));
    if (r.status === 201) cleanup.add('container', (JSON.parse(r.text) as { Id: string }).Id);
    return r;
  };
  const range = (from: number, to: number) => ({ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: `${from}-${to}` }] } }, ExposedPorts: { '80/tcp': {} } });

  before(async () => {
    ({ d, cleanup } = await openEngine());
    g = await startTestGuard(d, `${prefix}-a`);
    relaxed = await startTestGuard(d, `${prefix}-b`, { policy: { ...defaultPolicy(), quotas: { publishedPorts: 3000 } } });
    const dir = mkdtempSync(join(tmpdir(), 'nst-ports-'));
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${IMG}\nEXPOSE 30000-31100\n`);
    const b = await run(DOCKER_28, ['build', '-q', '-t', manyExposed, dir], { env: { DOCKER_HOST: d.url, DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
    assert.equal(b.code, 0, b.stderr);
    cleanup.add('image', manyExposed);
  });
  after(async () => {
    await g?.close();
    await relaxed?.close();
    await closeEngine(cleanup, prefix, [g?.dir, relaxed?.dir].filter((x): x is string => !!x));
  });

  it('a host port range over the quota is refused (the daemon creates it directly)', async () => {
    const body = { Image: IMG, Cmd: ['true'], ...range(20000, 21100) };
    const r = await create(g.socketPath!, body);
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /denied by rule quota: HostConfig\.PortBindings=1101 host ports \(at most 1024 per container/);
    const direct = await create(d.socketPath, body);
    assert.equal(direct.status, 201, direct.text);
    // at the quota: allowed; a policy may raise it
    assert.equal((await create(g.socketPath!, { Image: IMG, Cmd: ['true'], ...range(22000, 23023) })).status, 201);
    assert.equal((await create(relaxed.socketPath!, body)).status, 201);
  });

  it('-P counts every port the image exposes (the daemon creates it directly)', async () => {
    const body = { Image: manyExposed, Cmd: ['true'], HostConfig: { PublishAllPorts: true } };
    const r = await create(g.socketPath!, body);
    assert.equal(r.status, 403, r.text);
    assert.match(r.text, /denied by rule quota: HostConfig\.PublishAllPorts=1101 host ports/);
    assert.equal((await create(d.socketPath, body)).status, 201);
    // -P on an image with a few exposed ports, and plain -p, stay normal
    const few = await run(DOCKER_28, ['create', '-P', '--expose', '8080', '-p', '18080:80', IMG, 'true'], { env: { DOCKER_HOST: g.url } });
    assert.equal(few.code, 0, few.stderr);
    cleanup.add('container', few.stdout.trim());
  });
});
