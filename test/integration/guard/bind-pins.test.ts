// Bind pins close the check-to-mount race of bind sources (src/guard/pins.ts). Against the real daemon:
//   - a container created through a pinning guard names a pin path, not the job's directory; at start the guard
//     mounts the checked directory onto the pin from a descriptor;
//   - the job then swaps its directory for a symlink to a host directory and the container is started by the daemon
//     itself (what a race won between the guard's check and the daemon's mount amounts to): it still reads the
//     checked directory. Two-sided: without pins, the same start reads the host directory;
//   - a swap racing a loop of starts through the guard never leaks the host directory;
//   - the reaper unmounts the owner's pins.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { reapOwner } from '../../../src/guard/reaper.js';
import { ownerPinDir } from '../../../src/guard/pins.js';
import { defaultPolicy } from '../../../src/guard/policy.js';
import { pinFixture, pinMounts, run, DOCKER_28, startTestGuard, type TestGuard } from './helpers.js';

const IMG = 'nestling/busybox:local';

describe('guard: bind pins', () => {
  let d: TestDaemon;
  let pinned: TestGuard;
  let unpinned: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('gpin');
  const owner = `${prefix}-owner`;
  const ownerNoPins = `${prefix}-nopins`;
  let root: string;
  let allowed: string;
  let secret: string;
  let pinBase: string;

  const docker = (host: string, args: string[]) => run(DOCKER_28, args, { env: { DOCKER_HOST: host }, timeoutMs: 60_000 });
  const jobDir = (name: string) => {
    const p = join(allowed, name);
    mkdirSync(p);
    writeFileSync(join(p, 'token'), 'JOB\n');
    return p;
  };
  /** the job replaces its directory with a symlink to the host's secret dir (keeping the original aside) */
  const swap = (p: string) => {
    renameSync(p, `${p}.aside`);
    symlinkSync(secret, p);
  };
  const mountedPins = (o: string) => pinMounts(pinBase, o);

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    ({ root, allowed, secret, pinBase } = pinFixture('nst-pin-'));
    const policy = { ...defaultPolicy(), allowBind: [allowed] };
    pinned = await startTestGuard(d, owner, { policy, pinDir: pinBase });
    unpinned = await startTestGuard(d, ownerNoPins, { policy, pinDir: false });
  });
  after(async () => {
    await pinned?.close();
    await unpinned?.close();
    await reapOwner(d.engine, owner, { pinDir: pinBase }).catch(() => undefined);
    await reapOwner(d.engine, ownerNoPins, { pinDir: false }).catch(() => undefined);
    await cleanup.run();
    if (root && mountedPins(owner).length === 0) rmSync(root, { recursive: true, force: true });
  });

  it('a pinned container keeps reading the checked directory after a swap the daemon would follow (two-sided)', async () => {
    for (const [k, args] of [
      ['binds', (p: string) => ['-v', `${p}:/x:ro`]],
      ['mounts', (p: string) => ['--mount', `type=bind,source=${p},target=/x,readonly`]],
    ] as const) {
      const results: Record<string, string> = {};
      for (const [label, g] of [
        ['pinned', pinned],
        ['unpinned', unpinned],
      ] as const) {
        const dir = jobDir(`${k}-${label}`);
        const c = await docker(g.url, ['create', ...args(dir), IMG, 'cat', '/x/token']);
        assert.equal(c.code, 0, c.stderr);
        const id = c.stdout.trim();
        cleanup.add('container', id);
        const src = (await docker(d.url, ['inspect', '-f', '{{range .Mounts}}{{.Source}}{{end}}', id])).stdout.trim();
        if (label === 'pinned') assert.ok(src.startsWith(`${ownerPinDir(pinBase, owner)}/`), `the daemon was given ${src}`);
        else assert.equal(src, dir);
        const first = await docker(g.url, ['start', '-a', id]);
        assert.equal(first.stdout.trim(), 'JOB', first.stderr);
        swap(dir);
        // through the guard the start is refused: the checked path is a symlink now
        const again = await docker(g.url, ['start', '-a', id]);
        assert.notEqual(again.code, 0);
        assert.match(again.stderr, /bind-swapped/);
        // the daemon's own mount, after the check (a race won): what does the container read?
        const raced = await docker(d.url, ['start', '-a', id]);
        results[label] = raced.stdout.trim();
      }
      assert.equal(results.pinned, 'JOB', `${k}: the pin holds the checked directory`);
      assert.equal(results.unpinned, 'HOST-SECRET', `${k}: without pins the daemon follows the swap`);
    }
  });

  it('an o=bind volume device is pinned too (two-sided)', async () => {
    const results: Record<string, string> = {};
    for (const [label, g] of [
      ['pinned', pinned],
      ['unpinned', unpinned],
    ] as const) {
      const dir = jobDir(`vol-${label}`);
      const vol = `${prefix}-vol-${label}`;
      const v = await docker(g.url, ['volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', `device=${dir}`, vol]);
      assert.equal(v.code, 0, v.stderr);
      cleanup.add('volume', vol);
      const c = await docker(g.url, ['create', '-v', `${vol}:/x`, IMG, 'cat', '/x/token']);
      assert.equal(c.code, 0, c.stderr);
      const id = c.stdout.trim();
      cleanup.add('container', id);
      const first = await docker(g.url, ['start', '-a', id]);
      assert.equal(first.stdout.trim(), 'JOB', first.stderr);
      swap(dir);
      results[label] = (await docker(d.url, ['start', '-a', id])).stdout.trim();
    }
    assert.equal(results.pinned, 'JOB');
    assert.equal(results.unpinned, 'HOST-SECRET');
  });

  it('docker cp into a container that never started writes to the job directory (the archive call pins first)', async () => {
    const dir = jobDir('cp');
    const c = await docker(pinned.url, ['create', '-v', `${dir}:/mnt`, IMG, 'true']);
    assert.equal(c.code, 0, c.stderr);
    const id = c.stdout.trim();
    cleanup.add('container', id);
    writeFileSync(join(root, 'planted'), 'from docker cp\n');
    const cp = await docker(pinned.url, ['cp', join(root, 'planted'), `${id}:/mnt/planted`]);
    assert.equal(cp.code, 0, cp.stderr);
    assert.equal(readFileSync(join(dir, 'planted'), 'utf8'), 'from docker cp\n', 'the copy reached the job directory, not the pin placeholder');
    const back = await docker(pinned.url, ['cp', `${id}:/mnt/token`, '-']);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /JOB/);
    // swapped now: the archive call is refused like a start
    swap(dir);
    const refused = await docker(pinned.url, ['cp', `${id}:/mnt/token`, '-']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /bind-swapped/);
  });

  it('a missing bind source is created (as the daemon would) and pinned', async () => {
    const dir = join(allowed, 'later', 'out');
    const r = await docker(pinned.url, ['run', '--rm', '-v', `${dir}:/out`, IMG, 'sh', '-c', 'echo made > /out/f']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'made\n', 'the write reached the job directory, not the pin placeholder');
  });

  it('a swap racing a loop of starts through the guard never leaks the host directory', async () => {
    const dir = jobDir('race');
    const c = await docker(pinned.url, ['create', '-v', `${dir}:/x:ro`, IMG, 'cat', '/x/token']);
    assert.equal(c.code, 0, c.stderr);
    const id = c.stdout.trim();
    cleanup.add('container', id);
    // the job's swapper: directory, symlink to the secret, directory again, as fast as the shell goes
    const swapper = spawn('sh', ['-c', `cd '${allowed}' && while :; do mv race race.t && ln -s '${secret}' race && rm race && mv race.t race; done`], { stdio: 'ignore' });
    let ok = 0;
    let refused = 0;
    try {
      for (let i = 0; i < 40; i++) {
        const r = await docker(pinned.url, ['start', '-a', id]);
        assert.ok(!r.stdout.includes('HOST-SECRET'), `attempt ${i}: the host directory leaked`);
        if (r.stdout.trim() === 'JOB') ok++;
        else refused++;
      }
    } finally {
      swapper.kill('SIGKILL');
    }
    assert.equal(ok + refused, 40);
  });

  it('the reaper unmounts the owner\'s pins', async () => {
    assert.ok(mountedPins(owner).length > 0, 'pins are mounted while the containers exist');
    const rep = await reapOwner(d.engine, owner, { pinDir: pinBase });
    assert.ok((rep.pins ?? 0) > 0);
    assert.deepEqual(mountedPins(owner), []);
    assert.equal(existsSync(ownerPinDir(pinBase, owner)), false);
  });
});
