import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendToTar,
  defaultCacheDir,
  dindImageKey,
  dindImageSpec,
  dindRootlessImageSpec,
  DIND_PACKAGES,
  ensureDindRootfs,
  imagesAssetDir,
  mmdebstrapArgs,
  rootfsKey,
  tarDataEnd,
} from './dind.js';
import { makeTar } from '../util/tar.js';
import { isNestlingError } from '../util/errors.js';
import type { ProgressEvent } from '../util/log.js';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'nst-dind-unit-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

test('the cache directory: NESTLING_CACHE_DIR, then XDG_CACHE_HOME/nestling, then ~/.cache/nestling', () => {
  assert.equal(defaultCacheDir({ NESTLING_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }, '/home/u'), '/c');
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x' }, '/home/u'), '/x/nestling');
  assert.equal(defaultCacheDir({}, '/home/u'), '/home/u/.cache/nestling');
});

test('mmdebstrap arguments: the package list, essential variant, tar output, hooks, three sources', () => {
  const args = mmdebstrapArgs('/out.tar', 'http://m/debian', 'http://m/debian-security');
  assert.ok(args.includes('--variant=essential'));
  assert.ok(args.includes(`--include=${DIND_PACKAGES.join(',')}`));
  for (const p of ['docker.io', 'iptables', 'uidmap', 'rootlesskit', 'slirp4netns', 'fuse-overlayfs']) assert.ok(DIND_PACKAGES.includes(p as (typeof DIND_PACKAGES)[number]), p);
  assert.ok(args.some((a) => a.startsWith('--customize-hook=') && a.includes('setcap cap_setuid+ep')));
  assert.ok(args.some((a) => a.includes('useradd') && a.includes('--uid 1000') && a.includes('rootless:100000:65536')));
  assert.deepEqual(args.slice(-5), ['bookworm', '/out.tar', 'deb http://m/debian bookworm main', 'deb http://m/debian bookworm-updates main', 'deb http://m/debian-security bookworm-security main']);
});

test('content keys: stable, and they change with the mirror and with an entrypoint', () => {
  const k = rootfsKey('http://a', 'http://b');
  assert.match(k, /^[0-9a-f]{32}$/);
  assert.equal(rootfsKey('http://a', 'http://b'), k);
  assert.notEqual(rootfsKey('http://other', 'http://b'), k);
  const spec = dindImageSpec();
  const ik = dindImageKey(k, spec);
  assert.equal(dindImageKey(k, dindImageSpec()), ik);
  assert.notEqual(dindImageKey(k, dindRootlessImageSpec()), ik);
  assert.notEqual(dindImageKey(k, { ...spec, entries: [{ ...spec.entries[0]!, data: 'changed' }] }), ik);
  assert.notEqual(dindImageKey(rootfsKey('http://other', 'http://b'), spec), ik);
});

test('the entrypoints ship in the package and are valid sh', () => {
  const dir = imagesAssetDir();
  for (const f of ['dind/dockerd-entrypoint.sh', 'dind-rootless/dockerd-rootless-entrypoint.sh']) {
    assert.ok(existsSync(join(dir, f)), f);
    execFileSync('sh', ['-n', join(dir, f)]);
  }
  const d = dindImageSpec();
  assert.ok(d.changes.includes('ENTRYPOINT ["dockerd-entrypoint.sh"]'));
  assert.ok(d.changes.includes('VOLUME /var/lib/docker'));
  const r = dindRootlessImageSpec();
  assert.ok(r.changes.includes('USER rootless'));
  assert.ok(r.changes.includes('VOLUME /home/rootless/.local/share/docker'));
});

test('appendToTar: the cached rootfs end marker is cut and the entries follow; tar(1) reads the result', async () => {
  // a rootfs made by GNU tar (what mmdebstrap writes), with a file whose data ends in zero blocks
  const src = join(root, 'src');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(join(src, 'zeros'), Buffer.concat([Buffer.from('x'), Buffer.alloc(4096)]));
  const tarPath = join(root, 'rootfs.tar');
  execFileSync('tar', ['--xattrs', '-cf', tarPath, '-C', src, '.']);
  const end = tarDataEnd(tarPath);
  assert.equal(end % 512, 0);
  assert.ok(end < readFileSync(tarPath).length);
  const stream = appendToTar(tarPath, [{ name: 'usr/local/bin/entry.sh', data: '#!/bin/sh\necho hi\n', mode: 0o755 }, { name: 'etc/passwd', data: 'replaced\n' }]);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const out = join(root, 'out.tar');
  writeFileSync(out, Buffer.concat(chunks));
  const list = execFileSync('tar', ['-tvf', out], { encoding: 'utf8' });
  assert.match(list, /\.\/zeros/);
  assert.match(list, /-rwxr-xr-x .* usr\/local\/bin\/entry\.sh/);
  const x = join(root, 'x');
  mkdirSync(x);
  execFileSync('tar', ['-xf', out, '-C', x]);
  assert.equal(readFileSync(join(x, 'zeros')).length, 4097, 'trailing zero data is not mistaken for the end');
  assert.equal(readFileSync(join(x, 'etc/passwd'), 'utf8'), 'replaced\n', 'a later entry wins, as on import');
  assert.equal(readFileSync(join(x, 'usr/local/bin/entry.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
  // our own writer's archives too
  const mine = join(root, 'mine.tar');
  writeFileSync(mine, makeTar([{ name: 'a', data: 'a' }]));
  assert.equal(tarDataEnd(mine), 1024);
});

test('tarDataEnd refuses a truncated archive', () => {
  const p = join(root, 'trunc.tar');
  writeFileSync(p, makeTar([{ name: 'a', data: Buffer.alloc(2000, 1) }]).subarray(0, 1536));
  assert.throws(() => tarDataEnd(p), (e: unknown) => isNestlingError(e) && e.code === 'E_IMAGES_BAD_ROOTFS');
});

/** A stand-in for mmdebstrap that writes its last-but-three argument (the output) and some progress lines. */
function fakeMmdebstrap(body: string): string {
  const p = join(root, `fake-mmdebstrap-${Math.random().toString(36).slice(2)}`);
  writeFileSync(p, `#!/bin/sh\nn=$(($# - 3)); i=0\nfor a; do i=$((i + 1)); [ $i -eq $n ] && out=$a; done\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

test('ensureDindRootfs: progress from stderr lines, atomic cache write, then cached', async () => {
  const cacheDir = join(root, 'cache1', 'deep');
  const calls = join(root, 'calls1');
  const bin = fakeMmdebstrap(`echo run >> ${calls}; echo 'I: downloading packages with apt...' >&2; printf 'I: success' >&2; printf 'tar-bytes' > "$out"`);
  const events: ProgressEvent[] = [];
  const first = await ensureDindRootfs({ cacheDir, mmdebstrap: bin, progress: (e) => events.push(e) });
  assert.equal(first.built, true);
  assert.equal(readFileSync(first.path, 'utf8'), 'tar-bytes');
  assert.ok(events.some((e) => e.message === 'I: downloading packages with apt...'));
  assert.ok(events.some((e) => e.message === 'I: success'), 'a last line without a newline is still reported');
  assert.deepEqual(readdirSync(cacheDir), [`dind-rootfs-${first.key}.tar`], 'no temporary or lock file left');
  const second = await ensureDindRootfs({ cacheDir, mmdebstrap: bin });
  assert.deepEqual(second, { ...first, built: false });
  assert.equal(readFileSync(calls, 'utf8'), 'run\n', 'mmdebstrap ran once');
});

test('ensureDindRootfs: a failing mmdebstrap leaves nothing in the cache and reports its last lines', async () => {
  const cacheDir = join(root, 'cache2');
  const bin = fakeMmdebstrap(`printf partial > "$out"; echo 'E: apt-get update failed' >&2; exit 1`);
  await assert.rejects(ensureDindRootfs({ cacheDir, mmdebstrap: bin }), (e: unknown) => {
    assert.ok(isNestlingError(e));
    assert.equal(e.code, 'E_IMAGES_MMDEBSTRAP');
    assert.match(e.message, /E: apt-get update failed/);
    assert.match(String(e.details.logTail), /apt-get update failed/);
    return true;
  });
  assert.deepEqual(readdirSync(cacheDir), []);
  await assert.rejects(ensureDindRootfs({ cacheDir, mmdebstrap: join(root, 'no-such-binary') }), (e: unknown) => isNestlingError(e) && e.code === 'E_IMAGES_NO_MMDEBSTRAP' && /apt-get install mmdebstrap/.test(e.hint ?? ''));
});

test('ensureDindRootfs: a second builder waits for the first instead of building twice', async () => {
  const cacheDir = join(root, 'cache3');
  const calls = join(root, 'calls3');
  const bin = fakeMmdebstrap(`echo run >> ${calls}; sleep 1; printf done > "$out"`);
  const [a, b] = await Promise.all([ensureDindRootfs({ cacheDir, mmdebstrap: bin }), ensureDindRootfs({ cacheDir, mmdebstrap: bin })]);
  assert.equal(a.path, b.path);
  assert.deepEqual([a.built, b.built].sort(), [false, true]);
  assert.equal(readFileSync(calls, 'utf8'), 'run\n');
});

test('ensureDindRootfs: a stale lock (dead pid) is taken over; an unusable cache dir is a clear error', async () => {
  const cacheDir = join(root, 'cache4');
  mkdirSync(cacheDir);
  const key = rootfsKey('http://deb.debian.org/debian', 'http://deb.debian.org/debian-security');
  writeFileSync(join(cacheDir, `dind-rootfs-${key}.tar.lock`), '999999999');
  const r = await ensureDindRootfs({ cacheDir, mmdebstrap: fakeMmdebstrap(`printf ok > "$out"`) });
  assert.equal(r.built, true);
  const file = join(root, 'a-file');
  writeFileSync(file, '');
  await assert.rejects(ensureDindRootfs({ cacheDir: join(file, 'cache') }), (e: unknown) => isNestlingError(e) && e.code === 'E_IMAGES_CACHE_DIR' && /NESTLING_CACHE_DIR/.test(e.hint ?? ''));
});
