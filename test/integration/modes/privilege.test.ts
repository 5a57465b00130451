/**
 * The explicit equivalent of --privileged, against the real engine: what runc refuses here, what the probe reads,
 * and that the equivalent plus the cgroup prelude gives a container writable cgroups (Docker mounts them read-only
 * without --privileged).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { gatherFacts, probePrivilege } from '../../../src/modes/facts.js';
import { runProbe } from '../../../src/modes/engine-ops.js';
import { privilegedEquivalentHostConfig, withWritableCgroups } from '../../../src/modes/privilege.js';
import { LocalImages } from '../../../src/images/local.js';
import { Labels } from '../../../src/util/labels.js';

describe('the explicit equivalent of --privileged (real engine)', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('priv');
  const labels = { [Labels.managed]: 'true', [Labels.run]: prefix };
  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
  });
  after(async () => {
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  it('the probe tells whether --privileged works, and which capabilities the engine can grant', async () => {
    const facts = await gatherFacts(d.engine);
    const p = await probePrivilege(d.engine, facts, { image: LocalImages.busybox, labels });
    assert.ok(p.caps.includes('SYS_ADMIN'), JSON.stringify(p));
    // two-sided: a --privileged container starts exactly when the probe says so
    const direct = await runProbe(d.engine, `${prefix}-direct`, { Image: LocalImages.busybox, Entrypoint: ['true'], Labels: labels, HostConfig: { Privileged: true } });
    assert.equal(direct.startError === undefined, p.granted, JSON.stringify({ p, err: direct.startError?.message }));
    if (!p.granted) {
      assert.match(direct.startError!.engineMessage ?? '', /apply caps/);
      assert.ok(p.missing.length > 0);
      assert.match(p.reason, /bounding set lacks/);
    }
    // the equivalent's capability set is grantable by this engine
    const eq = await runProbe(d.engine, `${prefix}-eq`, { Image: LocalImages.busybox, Entrypoint: ['true'], Labels: labels, HostConfig: privilegedEquivalentHostConfig(p.caps) });
    assert.equal(eq.startError, undefined, eq.startError?.message);
    assert.equal(eq.exitCode, 0);
  });

  it('cgroups are read-only without --privileged; the equivalent with the prelude makes them writable', async () => {
    const facts = await gatherFacts(d.engine);
    const p = await probePrivilege(d.engine, facts, { image: LocalImages.busybox, labels });
    const dir = facts.cgroupVersion === '2' ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory';
    const cmd = ['-c', `mkdir ${dir}/${prefix} && rmdir ${dir}/${prefix} && echo CGROUP-RW`];
    const plain = await runProbe(d.engine, `${prefix}-ro`, {
      Image: LocalImages.busybox,
      Entrypoint: ['sh'],
      Cmd: cmd,
      Labels: labels,
      HostConfig: privilegedEquivalentHostConfig(p.caps),
    });
    assert.notEqual(plain.exitCode, 0, plain.output);
    assert.match(plain.output, /Read-only file system/i);
    const withPrelude = await runProbe(d.engine, `${prefix}-rw`, {
      Image: LocalImages.busybox,
      Entrypoint: withWritableCgroups('sh'),
      Cmd: cmd,
      Labels: labels,
      HostConfig: { ...privilegedEquivalentHostConfig(p.caps), ...(facts.cgroupVersion === '2' ? { CgroupnsMode: 'private' } : {}) },
    });
    assert.equal(withPrelude.exitCode, 0, withPrelude.output);
    assert.match(withPrelude.output, /CGROUP-RW/);
  });
});
