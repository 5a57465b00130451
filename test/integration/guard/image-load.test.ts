// `docker load` through the guard, against the real daemon: a job loads archives of its own images (plain and gzip),
// but an archive that would move a tag the job did not create is refused before the engine has all of it, however
// the archive spells its manifest's path (./manifest.json, a pax path, the legacy `repositories` file), and the
// daemon would have moved that tag if asked directly (two-sided). What the guard cannot read is refused (xz, a
// manifest that is a link).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { reapOwner } from '../../../src/guard/reaper.js';
import { makeTar, tarHeader, type TarEntry } from '../../../src/util/tar.js';
import { readBody } from '../../../src/engine/transport.js';
import { run, DOCKER_28, startTestGuard, type TestGuard } from './helpers.js';

const IMAGE = 'nestling/busybox:local';

/** The entries of an uncompressed ustar/pax archive (what `docker save` writes). */
function readTar(b: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let i = 0;
  let pax: string | undefined;
  while (i + 512 <= b.length) {
    const h = b.subarray(i, i + 512);
    if (h.every((x) => x === 0)) break;
    const cstr = (o: number, l: number) => {
      const s = h.subarray(o, o + l);
      const z = s.indexOf(0);
      return s.toString('utf8', 0, z === -1 ? l : z);
    };
    let name = cstr(0, 100);
    const prefix = cstr(345, 155);
    if (prefix) name = `${prefix}/${name}`;
    const size = parseInt(cstr(124, 12).trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    const data = b.subarray(i + 512, i + 512 + size);
    i += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString());
      pax = m?.[1];
      continue;
    }
    if (pax) name = pax;
    pax = undefined;
    out.push({ name, type: type === '5' ? 'dir' : type === '2' ? 'symlink' : 'file', linkname: cstr(157, 100) || undefined, data: Buffer.from(data) });
  }
  return out;
}

/** A pax extended header entry carrying `path`. */
function paxPathEntry(path: string): Buffer {
  const rec = (len: number) => `${len} path=${path}\n`;
  let len = rec(0).length;
  while (rec(len).length !== len) len = rec(len).length;
  const data = Buffer.from(rec(len));
  const h = tarHeader({ name: 'PaxHeaders/x', data }, data.length);
  h[156] = 'x'.charCodeAt(0);
  let sum = 0;
  for (let k = 0; k < 512; k++) sum += k >= 148 && k < 156 ? 32 : h[k]!;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

describe('guard: docker load', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('gload');
  const owner = `${prefix}-owner`;
  const own = `${prefix}-own:1`;
  const foreign = `${prefix}-foreign:1`;
  let dir: string;
  let ownArchive: Buffer;
  let foreignId: string;

  const send = (socketPath: string, body: Buffer, path = '/v1.41/images/load?quiet=1'): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ socketPath, method: 'POST', path, headers: { Host: 'docker', 'Content-Type': 'application/x-tar', 'Content-Length': String(body.length) }, timeout: 120_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const imageId = async (ref: string): Promise<string | undefined> => {
    const r = await d.engine.request({ method: 'GET', path: `/images/${ref}/json`, acceptStatus: () => true });
    const body = (await readBody(r)).toString();
    return r.statusCode === 200 ? (JSON.parse(body) as { Id: string }).Id : undefined;
  };
  /** the job's archive with other tags, and its manifest entry renamed or replaced */
  const retagged = (tags: string[], how: 'plain' | 'dot' | 'pax' | 'symlink' | 'repositories' = 'plain'): Buffer => {
    const entries = readTar(ownArchive).filter((e) => e.name !== 'manifest.json' && e.name !== 'repositories');
    const manifest = JSON.parse(readTar(ownArchive).find((e) => e.name === 'manifest.json')!.data!.toString()) as { RepoTags: string[] }[];
    manifest[0]!.RepoTags = tags;
    const mj = JSON.stringify(manifest);
    if (how === 'repositories') {
      // the legacy file names the tags; manifest.json without RepoTags
      manifest[0]!.RepoTags = [];
      const id = (JSON.parse(mj) as { Config: string }[])[0]!.Config.replace(/\.json$/, '').replace(/^blobs\/sha256\//, '');
      const repos: Record<string, Record<string, string>> = {};
      for (const t of tags) {
        const c = t.lastIndexOf(':');
        (repos[t.slice(0, c)] ??= {})[t.slice(c + 1)] = id;
      }
      return makeTar([...entries, { name: 'manifest.json', data: JSON.stringify(manifest) }, { name: 'repositories', data: JSON.stringify(repos) }]);
    }
    if (how === 'symlink') return makeTar([...entries, { name: 'real-manifest.json', data: mj }, { name: 'manifest.json', type: 'symlink', linkname: 'real-manifest.json' }]);
    if (how === 'dot') return makeTar([...entries, { name: './manifest.json', data: mj }]);
    if (how === 'pax') {
      const body = makeTar([...entries, { name: 'decoy.json', data: mj }]);
      // put a pax header naming manifest.json right before the decoy entry's header
      const decoyAt = body.indexOf(Buffer.from('decoy.json\0'));
      return Buffer.concat([body.subarray(0, decoyAt), paxPathEntry('manifest.json'), body.subarray(decoyAt)]);
    }
    return makeTar([...entries, { name: 'manifest.json', data: mj }]);
  };

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    dir = mkdtempSync(join(tmpdir(), 'nst-load-'));
    g = await startTestGuard(d, owner);
    // the job's own image, built through the guard; the foreign one made on the daemon directly
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${IMAGE}\nLABEL made=by-the-job\n`);
    const b = await run(DOCKER_28, ['build', '-q', '-t', own, dir], { env: { DOCKER_HOST: g.url, DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
    assert.equal(b.code, 0, b.stderr);
    cleanup.add('image', own);
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${IMAGE}\nLABEL made=by-someone-else\n`);
    const f = await run(DOCKER_28, ['build', '-q', '-t', foreign, dir], { env: { DOCKER_HOST: d.url, DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
    assert.equal(f.code, 0, f.stderr);
    cleanup.add('image', foreign);
    foreignId = (await imageId(foreign))!;
    const s = await d.engine.request({ method: 'GET', path: `/images/${own}/get` });
    ownArchive = await readBody(s);
  });
  after(async () => {
    await g?.close();
    await reapOwner(d.engine, owner, { images: true }).catch(() => undefined);
    await cleanup.run();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a job saves, removes and loads back its own image with the docker CLI (plain and gzip)', { timeout: 180_000 }, async () => {
    const env = { DOCKER_HOST: g.url };
    const save = await run(DOCKER_28, ['save', '-o', join(dir, 'own.tar'), own], { env, timeoutMs: 120_000 });
    assert.equal(save.code, 0, save.stderr);
    const rm = await run(DOCKER_28, ['rmi', own], { env });
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(await imageId(own), undefined);
    const load = await run(DOCKER_28, ['load', '-i', join(dir, 'own.tar')], { env, timeoutMs: 120_000 });
    assert.equal(load.code, 0, load.stderr);
    assert.match(load.stdout, new RegExp(`Loaded image: ${prefix}-own:1`));
    assert.ok(await imageId(own));
    // gzip: the guard inflates it to read the names, the daemon gets the plain archive
    writeFileSync(join(dir, 'own.tar.gz'), gzipSync(ownArchive));
    const gz = await run(DOCKER_28, ['load', '-i', join(dir, 'own.tar.gz')], { env, timeoutMs: 120_000 });
    assert.equal(gz.code, 0, gz.stderr);
    assert.match(gz.stdout, /Loaded image/);
  });

  it('an archive naming a tag another owner (or the host) made: the daemon would move it; the guard refuses and the tag stays', { timeout: 180_000 }, async () => {
    const evil = retagged([foreign]);
    // directly, the daemon moves the foreign tag to the job's image (the attack)
    const direct = await send(d.socketPath, evil);
    assert.equal(direct.status, 200, direct.text);
    assert.notEqual(await imageId(foreign), foreignId, 'the daemon moved the tag');
    // put it back, then try through the guard
    const restore = await d.engine.request({ method: 'POST', path: `/images/${foreignId}/tag`, query: { repo: foreign.split(':')[0]!, tag: '1' } });
    restore.resume();
    assert.equal(await imageId(foreign), foreignId);
    for (const how of ['plain', 'dot', 'pax', 'repositories'] as const) {
      const r = await send(g.socketPath!, retagged([`${prefix}-fine:${how}`, foreign], how));
      assert.equal(r.status, 403, `${how}: ${r.text}`);
      assert.match(JSON.parse(r.text).message as string, new RegExp(`denied by rule image-not-owned: RepoTags=${foreign}`), how);
      assert.equal(await imageId(foreign), foreignId, `${how}: the tag did not move`);
      assert.equal(await imageId(`${prefix}-fine:${how}`), undefined, `${how}: nothing of the refused archive was loaded`);
    }
    // gzip-compressed, the same
    const gz = await send(g.socketPath!, gzipSync(evil));
    assert.equal(gz.status, 403, gz.text);
    assert.equal(await imageId(foreign), foreignId);
  });

  it('what the guard cannot read is refused: a manifest that is a link (the daemon follows it), xz compression', { timeout: 120_000 }, async () => {
    const tag = `${prefix}-linked:1`;
    const linked = retagged([tag], 'symlink');
    const direct = await send(d.socketPath, linked);
    assert.equal(direct.status, 200, `the daemon follows the link: ${direct.text}`);
    assert.ok(await imageId(tag));
    cleanup.add('image', tag);
    const r = await send(g.socketPath!, retagged([`${prefix}-linked:2`], 'symlink'));
    assert.equal(r.status, 403, r.text);
    assert.match(JSON.parse(r.text).message as string, /denied by rule image-load: manifest\.json=not a regular file/);
    if (existsSync('/usr/bin/xz')) {
      const xz = execFileSync('/usr/bin/xz', ['-c', '-0'], { input: ownArchive, maxBuffer: 1 << 30 });
      const x = await send(g.socketPath!, xz);
      assert.equal(x.status, 403, x.text);
      assert.match(JSON.parse(x.text).message as string, /denied by rule image-load: compression=xz/);
    }
  });

  it('a job may load onto new tags and onto its own', async () => {
    const r = await send(g.socketPath!, retagged([`${prefix}-new:1`, own]));
    assert.equal(r.status, 200, r.text);
    assert.ok(await imageId(`${prefix}-new:1`));
    cleanup.add('image', `${prefix}-new:1`);
  });
});
