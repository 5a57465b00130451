// Bind pins under a real race (found by attacking them): a job swaps its checked directory and a symlink to a host
// directory with renameat2(RENAME_EXCHANGE) in a tight loop while starting its container through the guard.
//   - mount(8) must be given the descriptor itself (--no-canonicalize): otherwise it turns /proc/PID/fd/N back into
//     a path, which the kernel resolves again, following the swap; a pin that does not hold the checked directory
//     must not stay mounted (the daemon mounts pins for archive calls too: docker cp);
//   - the missing-source mkdir must not follow a swapped ancestor.
// Each start is refused or pins the job's directory; the host directory never appears behind a pin, in the
// container or through the archive endpoints.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { reapOwner } from '../../../src/guard/reaper.js';
import { defaultPolicy } from '../../../src/guard/policy.js';
import { apiRequest, pinFixture, pinMounts as pinMountsOf, startTestGuard, type TestGuard } from './helpers.js';

const IMG = 'nestling/busybox:local';

/** renameat2(a, b, RENAME_EXCHANGE) forever (x86_64 syscall 316; perl is in every Debian). */
function exchanger(a: string, b: string): ChildProcess {
  const script = 'my ($a, $b) = @ARGV; while (1) { syscall(316, -100, $a, -100, $b, 2) == 0 or die "renameat2: $!" }';
  return spawn('perl', ['-e', script, a, b], { stdio: 'ignore' });
}

describe('guard: bind pins against a renameat2 swap loop', { skip: process.getuid?.() !== 0 ? 'pins need root' : false }, () => {
  let d: TestDaemon;
  let g: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('gpinrace');
  const owner = `${prefix}-owner`;
  let root: string;
  let allowed: string;
  let secret: string;
  let pinBase: string;
  const pinMounts = () => pinMountsOf(pinBase, owner);

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    ({ root, allowed, secret, pinBase } = pinFixture('nst-pinrace-'));
    g = await startTestGuard(d, owner, { policy: { ...defaultPolicy(), allowBind: [allowed] }, pinDir: pinBase });
  });
  after(async () => {
    await g?.close();
    await cleanup.run();
    await reapOwner(d.engine, owner, { pinDir: pinBase }).catch(() => undefined);
    if (root && pinMounts().length === 0) rmSync(root, { recursive: true, force: true });
  });

  it('racing starts never put the host directory behind the pin (container, archive GET and PUT)', async () => {
    const x = join(allowed, 'x');
    mkdirSync(x);
    writeFileSync(join(x, 'token'), 'JOB\n');
    symlinkSync(secret, `${x}.lnk`);
    const name = `${prefix}-c`;
    const c = await apiRequest(g.socketPath!, 'POST', `/v1.41/containers/create?name=${name}`, JSON.stringify({ Image: IMG, Cmd: ['cat', '/mnt/token'], HostConfig: { Binds: [`${x}:/mnt`] } }));
    assert.equal(c.status, 201, c.text);
    cleanup.add('container', name);
    const sw = exchanger(x, `${x}.lnk`);
    const outcomes: Record<string, number> = {};
    const t0 = Date.now();
    try {
      for (let i = 0; i < 400 && Date.now() - t0 < 60_000; i++) {
        const r = await apiRequest(g.socketPath!, 'POST', `/v1.41/containers/${name}/start`);
        const why = r.status === 204 ? 'started' : (/\(([^()]*)\)"?\}?\s*$/.exec(r.text)?.[1] ?? r.text.slice(0, 80)).replaceAll(root, '');
        outcomes[why] = (outcomes[why] ?? 0) + 1;
        assert.ok(!why.includes('does not hold the checked object'), `a pin held another object: ${JSON.stringify(outcomes)}`);
        if (r.status === 204) {
          await apiRequest(g.socketPath!, 'POST', `/v1.41/containers/${name}/wait`);
          const logs = await apiRequest(g.socketPath!, 'GET', `/v1.41/containers/${name}/logs?stdout=1&tail=1`);
          assert.ok(!logs.text.includes('HOST-SECRET'), `attempt ${i}: the container read the host directory`);
        }
        for (const f of pinMounts()) assert.ok(!(f[3] ?? '').includes('host-secret'), `the host directory is mounted on a pin: ${f.join(' ')}`);
      }
    } finally {
      sw.kill('SIGKILL');
      await new Promise((r) => sw.once('exit', r));
    }
    if (lstatSync(x).isSymbolicLink()) {
      renameSync(x, `${x}.tmp`);
      renameSync(`${x}.lnk`, x);
      renameSync(`${x}.tmp`, `${x}.lnk`);
    }
    assert.ok((outcomes.started ?? 0) > 0, `no start got through: ${JSON.stringify(outcomes)}`);
    // the archive endpoints mount the pin too: it holds the job's directory or nothing
    const got = await apiRequest(g.socketPath!, 'GET', `/v1.41/containers/${name}/archive?path=/mnt/token`);
    assert.ok(!got.text.includes('HOST-SECRET'), 'GET archive reached the host directory');
    assert.deepEqual(readdirSync(secret), ['token']);
  });

  it('the missing-source mkdir does not follow a swapped ancestor', async () => {
    const a = join(allowed, 'a');
    const outside = join(root, 'outside');
    mkdirSync(a);
    mkdirSync(outside);
    symlinkSync(outside, `${a}.lnk`);
    const sw = exchanger(a, `${a}.lnk`);
    try {
      for (let i = 0; i < 30; i++) {
        const name = `${prefix}-mk${i}`;
        const c = await apiRequest(g.socketPath!, 'POST', `/v1.41/containers/create?name=${name}`, JSON.stringify({ Image: IMG, Cmd: ['true'], HostConfig: { Binds: [`${a}/new${i}:/mnt`] } }));
        if (c.status !== 201) continue;
        cleanup.add('container', name);
        for (let j = 0; j < 5; j++) await apiRequest(g.socketPath!, 'POST', `/v1.41/containers/${name}/start`);
      }
    } finally {
      sw.kill('SIGKILL');
      await new Promise((r) => sw.once('exit', r));
    }
    assert.deepEqual(readdirSync(outside), [], 'the guard created directories outside the allowed dir');
  });
});
