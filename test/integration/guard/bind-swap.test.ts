// A bind source is checked at create, but the daemon mounts it at start: a job that can write inside an allowed dir
// replaces the checked directory with a symlink to a host directory between the two. Two-sided, against the real
// daemon: started directly, the container reads the host directory; through the guard, the start (and a restart)
// is refused (bind-swapped), for Binds, Mounts and o=bind volumes alike, and a container whose sources did not move
// starts as before.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { reapOwner } from '../../../src/guard/reaper.js';
import { run, DOCKER_28, startTestGuard, type TestGuard } from './helpers.js';

const IMG = 'nestling/busybox:local';

describe('guard: bind sources swapped for a symlink between create and start', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('gswap');
  const owner = `${prefix}-owner`;
  let root: string;
  let allowed: string;
  let secret: string;

  const guarded = (args: string[]) => run(DOCKER_28, args, { env: { DOCKER_HOST: g.url }, timeoutMs: 60_000 });
  const direct = (args: string[]) => run(DOCKER_28, args, { env: { DOCKER_HOST: d.url }, timeoutMs: 60_000 });
  /** replaces the directory `p` with a symlink to the secret directory (what the job can do in its workspace) */
  const swap = (p: string) => {
    rmSync(p, { recursive: true, force: true });
    symlinkSync(secret, p);
  };

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    root = mkdtempSync(join(tmpdir(), 'nst-swap-'));
    allowed = join(root, 'allowed');
    secret = join(root, 'host-secret');
    mkdirSync(allowed);
    mkdirSync(secret);
    writeFileSync(join(secret, 'token'), 'HOST-SECRET\n');
    // without bind pins: this suite shows the start-time check and what the daemon does on its own after a swap
    // (with pins the daemon's mount cannot follow a swap at all: bind-pins.test.ts)
    g = await startTestGuard(d, owner, { policy: { ...(await import('../../../src/guard/policy.js')).defaultPolicy(), allowBind: [allowed] }, pinDir: false });
  });
  after(async () => {
    await g?.close();
    await reapOwner(d.engine, owner).catch(() => undefined);
    await cleanup.run();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('Binds: the daemon started directly mounts the swapped-in host dir; the guard refuses the start, and the restart', async () => {
    for (const [k, mountArgs] of [
      ['binds', (p: string) => ['-v', `${p}:/x:ro`]],
      ['mounts', (p: string) => ['--mount', `type=bind,source=${p},target=/x,readonly`]],
    ] as const) {
      const dir = join(allowed, `d-${k}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'token'), 'job file\n');
      const name = `${prefix}-${k}`;
      const c = await guarded(['create', '--name', name, ...mountArgs(dir), IMG, 'cat', '/x/token']);
      assert.equal(c.code, 0, c.stderr);
      cleanup.add('container', name);
      // unswapped, it starts through the guard
      const ok = await guarded(['start', '-a', name]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, 'job file\n');
      swap(dir);
      const refused = await guarded(['start', '-a', name]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, new RegExp(`denied by rule bind-swapped: HostConfig\\.(Binds\\[0\\]|Mounts\\[0\\]\\.Source)=${dir.replace(/[.]/g, '\\.')} \\(now resolves to ${secret.replace(/[.]/g, '\\.')}\\)`));
      const restart = await guarded(['restart', name]);
      assert.match(restart.stderr, /denied by rule bind-swapped/);
      // the attack, directly on the daemon: the container reads the host's file
      const attack = await direct(['start', '-a', name]);
      assert.equal(attack.code, 0, attack.stderr);
      assert.equal(attack.stdout, 'HOST-SECRET\n', `${k}: the daemon followed the swapped-in symlink`);
    }
  });

  it('no restart policy on a container that mounts host paths (the daemon restarts it without the guard); the daemon takes it directly', async () => {
    const dir = join(allowed, 'rp');
    mkdirSync(dir);
    const name = `${prefix}-rp`;
    const refused = await guarded(['create', '--name', name, '--restart', 'always', '-v', `${dir}:/x`, IMG, 'true']);
    assert.match(refused.stderr, new RegExp(`denied by rule restart-host-path: HostConfig\\.RestartPolicy\\.Name=always \\(with the bind ${dir.replace(/[.]/g, '\\.')}\\)`));
    const directly = await direct(['create', '--name', `${name}-direct`, '--restart', 'always', '-v', `${dir}:/x`, IMG, 'true']);
    assert.equal(directly.code, 0, directly.stderr);
    cleanup.add('container', `${name}-direct`);
    // set later by update: refused too
    const c = await guarded(['create', '--name', name, '-v', `${dir}:/x`, IMG, 'true']);
    assert.equal(c.code, 0, c.stderr);
    cleanup.add('container', name);
    const up = await guarded(['update', '--restart', 'unless-stopped', name]);
    assert.match(up.stderr, /denied by rule restart-host-path: RestartPolicy\.Name=unless-stopped \(the container mounts /);
    // a named volume (no host path) keeps its restart policy
    const vol = `${prefix}-plainvol`;
    const ok = await guarded(['create', '--name', `${name}-vol`, '--restart', 'on-failure', '-v', `${vol}:/data`, IMG, 'true']);
    assert.equal(ok.code, 0, ok.stderr);
    cleanup.add('container', `${name}-vol`);
    cleanup.add('volume', vol);
  });

  it('an o=bind volume whose device is swapped: refused at start', async () => {
    const dir = join(allowed, 'vol');
    mkdirSync(dir);
    writeFileSync(join(dir, 'token'), 'volume file\n');
    const vol = `${prefix}-vol`;
    const v = await guarded(['volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', `device=${dir}`, vol]);
    assert.equal(v.code, 0, v.stderr);
    cleanup.add('volume', vol);
    const name = `${prefix}-volc`;
    const c = await guarded(['create', '--name', name, '-v', `${vol}:/x`, IMG, 'cat', '/x/token']);
    assert.equal(c.code, 0, c.stderr);
    cleanup.add('container', name);
    swap(dir);
    const refused = await guarded(['start', '-a', name]);
    assert.match(refused.stderr, new RegExp(`denied by rule bind-swapped: volume ${vol} device=`));
    const attack = await direct(['start', '-a', name]);
    assert.equal(attack.stdout, 'HOST-SECRET\n', 'the daemon mounted the swapped-in host dir');
  });
});
