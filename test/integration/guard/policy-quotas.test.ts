/**
 * Policy quotas end to end, with a policy *file* (loadPolicyFile), through a guard on the real dockerd, with the
 * docker CLI as the client:
 *   - containersPerJob: the owner's containers in every state count (EngineOracle.countOwned lists with the owner
 *     label filter and all=true); the create over the quota is a 403 naming the rule; removing one frees a slot;
 *     another owner's containers do not count;
 *   - memoryBytes / nanoCpus / pidsLimit: unset limits are set to the quota (the daemon's cgroup files inside the
 *     container show them: cgroup v1 here), larger ones are refused (403 quota), and the same request directly to
 *     the daemon is accepted (two-sided).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { closeEngine, openEngine } from '../../harness/suite.js';
import type { Cleanup } from '../../harness/cleanup.js';
import { loadPolicyFile } from '../../../src/guard/policy-file.js';
import { EngineOracle } from '../../../src/guard/oracle.js';
import { DOCKER_28, run, startTestGuard, type TestGuard } from './helpers.js';

const IMG = 'nestling/busybox:local';
const MEM = 64 * 1024 * 1024;

describe('guard: policy quotas from a policy file', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let g: TestGuard;
  let other: TestGuard;
  const prefix = uniquePrefix('gpq');
  const owner = `${prefix}-owner`;

  before(async () => {
    ({ d, cleanup } = await openEngine());
    g = await startTestGuard(d, owner);
    const file = join(g.dir, 'policy.yaml');
    writeFileSync(
      file,
      ['version: 1', 'quotas:', `  memoryBytes: ${MEM}`, '  nanoCpus: 500000000', '  pidsLimit: 64', '  containersPerJob: 2', ''].join('\n'),
    );
    const policy = await loadPolicyFile(file);
    await g.close();
    g = await startTestGuard(d, owner, { policy });
    other = await startTestGuard(d, `${prefix}-other`, { policy });
  });
  after(async () => {
    await g?.close();
    await other?.close();
    await closeEngine(cleanup, prefix, [g?.dir, other?.dir].filter((x): x is string => !!x));
  });

  const docker = (guard: TestGuard | undefined, args: string[]) =>
    run(DOCKER_28, args, { env: { DOCKER_HOST: guard ? guard.url : d.url, HOME: '/nonexistent-home' }, timeoutMs: 90_000 });

  it('containersPerJob: 2 creates pass, the 3rd is refused naming the rule, removing one frees a slot', async () => {
    const c1 = await docker(g, ['create', '--name', `${prefix}-q1`, IMG, 'true']);
    assert.equal(c1.code, 0, c1.stderr);
    cleanup.add('container', c1.stdout.trim());
    // a stopped (exited) container still counts: run one to completion
    const c2 = await docker(g, ['run', '--name', `${prefix}-q2`, IMG, 'true']);
    assert.equal(c2.code, 0, c2.stderr);
    const oracle = new EngineOracle(d.engine, { owner });
    assert.equal(await oracle.countOwned('container'), 2);
    const c3 = await docker(g, ['create', '--name', `${prefix}-q3`, IMG, 'true']);
    assert.notEqual(c3.code, 0, 'the third create must be refused');
    assert.match(c3.stderr, /denied by rule quota: containersPerJob=2 \(the job has 2\)/);
    // the other owner is not affected by this owner's count
    const o1 = await docker(other, ['create', '--name', `${prefix}-o1`, IMG, 'true']);
    assert.equal(o1.code, 0, o1.stderr);
    cleanup.add('container', o1.stdout.trim());
    // directly, the daemon accepts a third container (two-sided)
    const direct = await docker(undefined, ['create', '--name', `${prefix}-direct`, '--label', `io.nestling.owner=${owner}-not`, IMG, 'true']);
    assert.equal(direct.code, 0, direct.stderr);
    cleanup.add('container', direct.stdout.trim());
    assert.equal(await oracle.countOwned('container'), 2, 'other owners\' containers do not count');
    const rm = await docker(g, ['rm', `${prefix}-q2`]);
    assert.equal(rm.code, 0, rm.stderr);
    const c4 = await docker(g, ['create', '--name', `${prefix}-q4`, IMG, 'true']);
    assert.equal(c4.code, 0, c4.stderr);
    cleanup.add('container', c4.stdout.trim());
    const c5 = await docker(g, ['create', '--name', `${prefix}-q5`, IMG, 'true']);
    assert.match(c5.stderr, /denied by rule quota: containersPerJob=2/);
    // free both slots for the next case
    for (const n of ['q1', 'q4']) assert.equal((await docker(g, ['rm', `${prefix}-${n}`])).code, 0);
    assert.equal(await oracle.countOwned('container'), 0);
  });

  it('memory, CPU and pids quotas: unset limits are set and enforced by the daemon\'s cgroups', async () => {
    const r = await docker(g, [
      'run', '--rm', '--name', `${prefix}-lim`, IMG, 'sh', '-c',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/pids/pids.max',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [mem, quota, period, pids] = r.stdout.trim().split('\n').map((x) => x.trim());
    assert.equal(Number(mem), MEM);
    assert.equal(Number(quota) / Number(period), 0.5, `cfs ${quota}/${period}`);
    assert.equal(pids, '64');
  });

  it('memory, CPU and pids quotas: limits above the quota are refused; the daemon accepts them directly', async () => {
    const cases: [string[], RegExp][] = [
      [['--memory', '128m'], /denied by rule quota: HostConfig\.Memory=134217728/],
      [['--cpus', '1'], /denied by rule quota: HostConfig\.NanoCpus=1000000000/],
      [['--cpu-quota', '100000'], /denied by rule quota: HostConfig\.CpuQuota=100000/],
      [['--pids-limit', '1000'], /denied by rule quota: HostConfig\.PidsLimit=1000/],
    ];
    let i = 0;
    for (const [flags, re] of cases) {
      i++;
      const viaGuard = await docker(g, ['create', '--name', `${prefix}-big${i}`, ...flags, IMG, 'true']);
      assert.notEqual(viaGuard.code, 0, `${flags.join(' ')} must be refused`);
      assert.match(viaGuard.stderr, re);
      const direct = await docker(undefined, ['create', '--name', `${prefix}-dbig${i}`, ...flags, IMG, 'true']);
      assert.equal(direct.code, 0, `${flags.join(' ')} directly: ${direct.stderr}`);
      cleanup.add('container', direct.stdout.trim());
    }
    // within the quota: passes as given
    const ok = await docker(g, ['create', '--name', `${prefix}-small`, '--memory', '32m', '--cpus', '0.25', '--pids-limit', '10', IMG, 'true']);
    assert.equal(ok.code, 0, ok.stderr);
    const id = ok.stdout.trim();
    cleanup.add('container', id);
    const j = await d.engine.json<{ HostConfig: { Memory: number; NanoCpus: number; PidsLimit: number } }>({ method: 'GET', path: `/containers/${id}/json` });
    assert.deepEqual([j.HostConfig.Memory, j.HostConfig.NanoCpus, j.HostConfig.PidsLimit], [32 * 1024 * 1024, 250_000_000, 10]);
    // an update may not raise a limit above the quota, nor remove one
    const up = await docker(g, ['update', '--memory', '256m', '--memory-swap', '512m', id]);
    assert.notEqual(up.code, 0);
    assert.match(up.stderr, /denied by rule quota: Memory=268435456/);
    const up2 = await docker(g, ['update', '--pids-limit', '-1', id]);
    assert.notEqual(up2.code, 0);
    assert.match(up2.stderr, /denied by rule quota: PidsLimit=-1/);
    const upOk = await docker(g, ['update', '--memory', '48m', '--memory-swap', '96m', id]);
    assert.equal(upOk.code, 0, upOk.stderr);
    assert.equal(await docker(g, ['rm', id]).then((x) => x.code), 0);
  });
});
