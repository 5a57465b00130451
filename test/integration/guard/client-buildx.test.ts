// buildx (Debian 13's docker-buildx 0.13, fetched by scripts/setup.sh) through the guard, against the real daemon:
// its docker driver speaks BuildKit's control API over /grpc (Solve, Status, the LLBBridge of its client-side
// frontend, traces) and its session over /session. Builds work and carry the owner label; what the guard refuses
// (another owner's tag, the host network, entitlements, the daemon-wide cache) fails the command with the guard's
// message, where the same command sent to the daemon directly succeeds.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { readBody } from '../../../src/engine/transport.js';
import { DOCKER_28, run, startTestGuard, type RunResult, type TestGuard } from './helpers.js';

const BUILDX = join(process.env.NESTLING_TOOLS_DIR ?? '/var/cache/nestling-test/tools', 'cli-plugins', 'docker-buildx');
const IMAGE = 'nestling/busybox:local';

describe('guard: buildx (BuildKit over /grpc)', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let cleanup: Cleanup;
  let dir: string;
  let config: string;
  const prefix = uniquePrefix('gbx');
  const owner = `${prefix}-owner`;

  const buildx = (host: string, args: string[]): Promise<RunResult> =>
    run(DOCKER_28, ['buildx', ...args], { env: { DOCKER_HOST: host, DOCKER_CONFIG: config, BUILDX_NO_DEFAULT_ATTESTATIONS: '1' }, timeoutMs: 180_000 });
  const labels = async (ref: string): Promise<Record<string, string> | undefined> => {
    const r = await d.engine.request({ method: 'GET', path: `/images/${ref}/json`, acceptStatus: () => true });
    const body = (await readBody(r)).toString();
    return r.statusCode === 200 ? ((JSON.parse(body) as { Config: { Labels: Record<string, string> | null } }).Config.Labels ?? {}) : undefined;
  };
  const refused = (r: RunResult, rule: string) => {
    assert.notEqual(r.code, 0, `expected a failure:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr + r.stdout, new RegExp(`nestling guard: denied by rule ${rule}`), r.stderr);
  };

  before(async () => {
    // the plugin is part of the test setup; without it these tests cannot say anything
    assert.ok(existsSync(BUILDX), `${BUILDX} is missing: run scripts/setup.sh as root (it fetches Debian's docker-buildx)`);
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    dir = mkdtempSync(join(tmpdir(), 'nst-buildx-'));
    config = join(dir, 'config');
    mkdirSync(join(config, 'cli-plugins'), { recursive: true });
    symlinkSync(BUILDX, join(config, 'cli-plugins', 'docker-buildx'));
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${IMAGE}\nRUN echo built > /built\nLABEL made=by-buildx\n`);
    g = await startTestGuard(d, owner);
  });
  after(async () => {
    await g?.close();
    for (const t of ['own:1', 'foreign:1', 'hostnet:1', 'direct:1']) cleanup.add('image', `${prefix}-${t}`);
    await cleanup.run();
  });

  it('buildx talks to the daemon through the guard (version, ls, inspect)', async () => {
    const v = await buildx(g.url, ['version']);
    assert.equal(v.code, 0, v.stderr);
    const i = await buildx(g.url, ['inspect']);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /Driver:\s+docker/);
  });

  it('buildx build --load: the image is built over /grpc and carries the owner label', async () => {
    const r = await buildx(g.url, ['build', '--progress', 'plain', '--load', '-t', `${prefix}-own:1`, dir]);
    assert.equal(r.code, 0, r.stderr);
    const l = await labels(`${prefix}-own:1`);
    assert.equal(l?.['io.nestling.owner'], owner);
    assert.equal(l?.made, 'by-buildx');
    assert.ok(g.records.some((x) => x.route === 'grpc-call' && x.path === '/moby.buildkit.v1.Control/Solve' && x.decision === 'forward'));
    // the same tag again (normal CI): allowed, the tag is this owner's
    const again = await buildx(g.url, ['build', '--progress', 'plain', '--load', '--build-arg', 'X=2', '-t', `${prefix}-own:1`, dir]);
    assert.equal(again.code, 0, again.stderr);
  });

  it('image-not-owned: buildx cannot move a tag this owner did not create (directly it can)', async () => {
    const foreign = `${prefix}-foreign:1`;
    const made = await run(DOCKER_28, ['build', '-q', '-t', foreign, dir], { env: { DOCKER_HOST: d.url, DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
    assert.equal(made.code, 0, made.stderr);
    refused(await buildx(g.url, ['build', '--load', '-t', foreign, dir]), 'image-not-owned');
    assert.equal((await labels(foreign))?.['io.nestling.owner'], undefined, 'the tag still names the image made directly');
    const direct = await buildx(d.url, ['build', '--load', '-t', foreign, dir]);
    assert.equal(direct.code, 0, direct.stderr);
  });

  it('host network and entitlements are refused (directly, the daemon runs the step on the host network)', async () => {
    const args = ['build', '--progress', 'plain', '--network', 'host', '--allow', 'network.host', '--load'];
    const r = await buildx(g.url, [...args, '-t', `${prefix}-hostnet:1`, dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /nestling guard: denied by rule (build-entitlement|build-host-network)/);
    const direct = await buildx(d.url, [...args, '-t', `${prefix}-direct:1`, dir]);
    assert.equal(direct.code, 0, direct.stderr);
    refused(await buildx(g.url, ['build', '--allow', 'security.insecure', '--load', '-t', `${prefix}-hostnet:1`, dir]), 'build-entitlement');
  });

  it('system-wide: buildx du and prune are refused (directly, du lists every job\'s cache)', async () => {
    refused(await buildx(g.url, ['du']), 'system-wide');
    refused(await buildx(g.url, ['prune', '-f']), 'system-wide');
    const du = await buildx(d.url, ['du']);
    assert.equal(du.code, 0, du.stderr);
  });
});
