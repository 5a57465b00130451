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

describe('guard: per-job quotas from a policy file (sums over the job\'s containers)', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let g: TestGuard;
  const prefix = uniquePrefix('gpj');
  const owner = `${prefix}-owner`;

  before(async () => {
    ({ d, cleanup } = await openEngine());
    g = await startTestGuard(d, `${owner}-tmp`);
    const file = join(g.dir, 'policy.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'quotas:',
        `  memoryBytes: ${MEM}`, `  jobMemoryBytes: ${2 * MEM}`,
        '  nanoCpus: 500000000', '  jobNanoCpus: 1000000000',
        '  pidsLimit: 64', '  jobPidsLimit: 150',
        '',
      ].join('\n'),
    );
    const policy = await loadPolicyFile(file);
    await g.close();
    g = await startTestGuard(d, owner, { policy });
  });
  after(async () => {
    await g?.close();
    await closeEngine(cleanup, prefix, [g?.dir].filter((x): x is string => !!x));
  });

  const docker = (guard: TestGuard | undefined, args: string[]) =>
    run(DOCKER_28, args, { env: { DOCKER_HOST: guard ? guard.url : d.url, HOME: '/nonexistent-home' }, timeoutMs: 90_000 });
  const create = async (name: string, flags: string[] = []) => {
    const r = await docker(g, ['create', '--name', `${prefix}-${name}`, ...flags, IMG, 'true']);
    if (r.code === 0) cleanup.add('container', r.stdout.trim());
    return r;
  };

  it('the job\'s containers (every state) may not reserve more than the sums; removing or shrinking one frees room', async () => {
    assert.equal((await create('a')).code, 0); // 64 MiB, 0.5 CPU, 64 pids (the per-container quota, set by the guard)
    const b = await docker(g, ['run', '--name', `${prefix}-b`, IMG, 'true']); // exited: still reserves
    assert.equal(b.code, 0, b.stderr);
    cleanup.add('container', `${prefix}-b`);
    const oracle = new EngineOracle(d.engine, { owner });
    assert.deepEqual((await oracle.ownedLimits()).map((c) => [c.memoryBytes, c.nanoCpus, c.pidsLimit]), [[MEM, 5e8, 64], [MEM, 5e8, 64]]);
    const c = await create('c', ['--memory', '16m', '--cpus', '0.1', '--pids-limit', '5']);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, new RegExp(`denied by rule quota: jobMemoryBytes=${2 * MEM} \\(the job's other containers reserve ${2 * MEM}, this one ${16 * 1024 * 1024}\\)`));
    // directly, the daemon has no such sum (two-sided)
    const direct = await docker(undefined, ['create', '--name', `${prefix}-direct`, '--label', `io.nestling.owner=${owner}-x`, '--memory', '16m', IMG, 'true']);
    assert.equal(direct.code, 0, direct.stderr);
    cleanup.add('container', direct.stdout.trim());
    // shrink a: 32 MiB, 0.25 CPU, 32 pids; then c fits memory, but the pids sum is checked too
    const up = await docker(g, ['update', '--memory', '32m', '--memory-swap', '64m', '--cpus', '0.25', '--pids-limit', '32', `${prefix}-a`]);
    assert.equal(up.code, 0, up.stderr);
    const c2 = await create('c2', ['--memory', '32m', '--cpus', '0.25', '--pids-limit', '60']);
    assert.notEqual(c2.code, 0);
    assert.match(c2.stderr, /denied by rule quota: jobPidsLimit=150 \(the job's other containers reserve 96, this one 60\)/);
    const c3 = await create('c3', ['--memory', '32m', '--cpus', '0.25', '--pids-limit', '54']);
    assert.equal(c3.code, 0, c3.stderr);
    // growing a container back over the sum is refused as an update (its own old limit is replaced, not added)
    const grow = await docker(g, ['update', '--cpus', '0.5', `${prefix}-c3`]);
    assert.notEqual(grow.code, 0);
    assert.match(grow.stderr, /denied by rule quota: jobNanoCpus=1000000000 \(the job's other containers reserve 750000000, this one 500000000\)/);
    const same = await docker(g, ['update', '--cpus', '0.25', `${prefix}-c3`]);
    assert.equal(same.code, 0, same.stderr);
    // removing b frees its reservation
    assert.equal((await docker(g, ['rm', `${prefix}-b`])).code, 0);
    const d1 = await create('d1');
    assert.equal(d1.code, 0, d1.stderr);
  });
});
