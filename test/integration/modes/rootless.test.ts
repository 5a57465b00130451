import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { imageExists, runProbe } from '../../../src/modes/engine-ops.js';
import { probeUserns } from '../../../src/modes/facts.js';
import { LocalImages } from '../../../src/images/local.js';
import { Labels } from '../../../src/util/labels.js';
import { buildAndRunScript, leftovers, NOTHING, runJobForTest } from './helpers.js';

describe('mode rootless (real engine, local images)', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let hasImage = false;
  const prefix = uniquePrefix('rootless');
  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    hasImage = await imageExists(d.engine, LocalImages.dindRootless);
  });
  after(async () => {
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  it('a rootless daemon with no added capability: name=rootless, a child not on the host, exit code, nothing left', async (t) => {
    if (!hasImage) return t.skip(`${LocalImages.dindRootless} is not built`);
    const tag = `${prefix}-img:1`;
    const child = `${prefix}-child`;
    const script = ['docker info --format "SECOPTS={{json .SecurityOptions}}"', buildAndRunScript(tag, child), 'exit 9'].join('\n');
    const r = await runJobForTest(d.engine, { mode: 'rootless', preload: [LocalImages.busybox], cmd: ['sh', '-c', script] });
    assert.equal(r.summary.exitCode, 9, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /SECOPTS=.*name=rootless/);
    assert.match(r.stdout, /built-inside/);
    const id = /CHILD_ID=([0-9a-f]{64})/.exec(r.stdout)?.[1];
    assert.ok(id);
    await assert.rejects(d.engine.json({ method: 'GET', path: `/containers/${id}/json` }), (e: { statusCode?: number }) => e.statusCode === 404);
    assert.ok(r.summary.relaxed.some((x) => /seccomp=unconfined/.test(x.what)));
    // this engine has no AppArmor (docker info SecurityOptions): nothing relaxed for it
    const info = await d.engine.json<{ SecurityOptions: string[] }>({ method: 'GET', path: '/info' });
    assert.equal(r.summary.relaxed.some((x) => /apparmor/.test(x.what)), info.SecurityOptions.some((o) => o.startsWith('name=apparmor')));
    assert.ok(r.summary.relaxed.some((x) => /no capability added/.test(x.what)));
    assert.deepEqual(await leftovers(d.engine, r.summary.runId), NOTHING);
  });

  it('the user-namespace probe finds what this host needs, in agreement with the direct checks below', async (t) => {
    if (!hasImage) return t.skip(`${LocalImages.dindRootless} is not built`);
    const u = await probeUserns(d.engine, { image: LocalImages.dindRootless, labels: { [Labels.managed]: 'true', [Labels.run]: prefix } });
    assert.equal(u.ok, true, u.reason);
    // on this host (Docker 20.10's default seccomp profile, masked /proc): both are needed, as the next tests show
    assert.equal(u.needsSeccompUnconfined, true);
    assert.equal(u.needsSystempaths, true);
  });

  it('the relaxations are needed: under Docker\'s default seccomp profile a user namespace cannot be made; unconfined it can', async () => {
    const labels = { [Labels.managed]: 'true', [Labels.run]: prefix };
    const body = (hc: Record<string, unknown>) => ({
      Image: LocalImages.busybox,
      Entrypoint: ['sh', '-c', 'unshare -U -r true && echo USERNS-OK'],
      Labels: labels,
      HostConfig: { NetworkMode: 'none', ...hc },
    });
    const confined = await runProbe(d.engine, `${prefix}-p1`, body({}));
    assert.notEqual(confined.exitCode, 0, confined.output);
    const unconfined = await runProbe(d.engine, `${prefix}-p2`, body({ SecurityOpt: ['seccomp=unconfined'] }));
    assert.equal(unconfined.exitCode, 0, unconfined.output);
    assert.match(unconfined.output, /USERNS-OK/);
  });

  it('the relaxations are needed: a new /proc cannot be mounted in a user namespace while /proc is masked; with systempaths=unconfined it can', async () => {
    const labels = { [Labels.managed]: 'true', [Labels.run]: prefix };
    const body = (hc: Record<string, unknown>) => ({
      Image: LocalImages.busybox,
      Entrypoint: ['sh', '-c', 'unshare -U -r -m -p -f --mount-proc true && echo PROC-OK'],
      Labels: labels,
      HostConfig: { NetworkMode: 'none', SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'], ...hc },
    });
    const masked = await runProbe(d.engine, `${prefix}-p3`, body({}));
    assert.notEqual(masked.exitCode, 0, masked.output);
    const unmasked = await runProbe(d.engine, `${prefix}-p4`, body({ MaskedPaths: [], ReadonlyPaths: [] }));
    assert.equal(unmasked.exitCode, 0, unmasked.output);
  });
});
