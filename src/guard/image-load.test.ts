// Our own tar reading for `docker load` (image-load.ts): where holding starts and which entries are read, however
// the archive is split across reads and however it spells names. The daemon's side is in
// test/integration/guard/image-load.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeTar, tarHeader } from '../util/tar.js';
import { HttpParseError } from './http-parser.js';
import { TarScanner, normalizeName, tagsOf } from './image-load.js';

function withType(h: Buffer, type: string): Buffer {
  h[156] = type.charCodeAt(0);
  let sum = 0;
  for (let k = 0; k < 512; k++) sum += k >= 148 && k < 156 ? 32 : h[k]!;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}
const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

/** Feeds the archive in pieces of the given sizes (cycled); returns the bytes allowed through and the scanner. */
function scan(tar: Buffer, sizes: number[]): { passed: number; s: TarScanner } {
  const s = new TarScanner();
  let passed = 0;
  let i = 0;
  let k = 0;
  while (i < tar.length) {
    const n = Math.min(sizes[k++ % sizes.length]!, tar.length - i);
    s.push(tar.subarray(i, i + n));
    i += n;
    // what may go to the engine never shrinks, never exceeds what was fed
    const r = s.releasable();
    assert.ok(r >= passed && r <= i);
    passed = r;
  }
  return { passed, s };
}

describe('image-load tar scanner', () => {
  const manifest = JSON.stringify([{ Config: 'c.json', RepoTags: ['app:ci', 'other/x:1'], Layers: ['l/layer.tar'] }]);
  const body = makeTar([
    { name: 'l', type: 'dir' },
    { name: 'l/layer.tar', data: Buffer.alloc(3000, 1) },
    { name: 'c.json', data: '{}' },
    { name: 'manifest.json', data: manifest },
    { name: 'repositories', data: '{"app":{"ci":"abc"}}' },
  ]);
  const manifestAt = body.indexOf(Buffer.from('manifest.json\0'));

  for (const sizes of [[1], [7], [511, 513], [512], [100000], [3, 1000, 17]]) {
    it(`holds from the manifest's header, whatever the reads (${sizes.join(',')})`, () => {
      const { passed, s } = scan(body, sizes);
      assert.equal(passed, manifestAt);
      assert.equal(s.holdFrom, manifestAt);
      assert.deepEqual(
        s.tagFiles.map((f) => f.name),
        ['manifest.json', 'repositories'],
      );
      assert.deepEqual(tagsOf(s.tagFiles).sort(), ['app:ci', 'other/x:1']);
    });
  }

  it('finds the manifest under ./, //, a/../, a ustar prefix, a GNU long name and a pax path', () => {
    for (const name of ['./manifest.json', '//manifest.json', 'a/../manifest.json', './/./manifest.json']) {
      const { s } = scan(makeTar([{ name: 'x', data: 'y' }, { name, data: manifest }]), [64]);
      assert.equal(s.tagFiles[0]?.name, 'manifest.json', name);
    }
    // GNU long name entry ('L') naming the next entry
    const long = Buffer.from('manifest.json\0');
    const gnu = Buffer.concat([withType(tarHeader({ name: '././@LongLink', data: long }, long.length), 'L'), pad(long), makeTar([{ name: 'decoy', data: manifest }])]);
    assert.equal(scan(gnu, [50]).s.tagFiles[0]?.name, 'manifest.json');
    // pax 'x' header with a path record
    const rec = '22 path=manifest.json\n';
    const pax = Buffer.concat([withType(tarHeader({ name: 'PaxHeaders/1', data: rec }, rec.length), 'x'), pad(Buffer.from(rec)), makeTar([{ name: 'decoy', data: manifest }])]);
    assert.equal(scan(pax, [50]).s.tagFiles[0]?.name, 'manifest.json');
    assert.equal(normalizeName('a/b/../../manifest.json'), 'manifest.json');
    assert.equal(normalizeName('sub/manifest.json'), 'sub/manifest.json');
  });

  it('holds from the end-of-archive blocks when no entry names tags (nothing after them reaches the engine early)', () => {
    const t = makeTar([{ name: 'x', data: 'y' }]);
    const { passed, s } = scan(t, [100]);
    assert.equal(passed, 1024);
    assert.equal(s.tagFiles.length, 0);
  });

  it('refuses what it cannot read with certainty: a linked manifest, a bad checksum, a bad size, unreadable tags', () => {
    const linked = makeTar([{ name: 'manifest.json', type: 'symlink', linkname: 'x.json' }]);
    assert.throws(() => scan(linked, [512]), (e: unknown) => e instanceof HttpParseError && e.status === 403 && /manifest\.json=not a regular file/.test(e.message));
    const bad = Buffer.from(makeTar([{ name: 'x', data: 'y' }]));
    bad[0] = 0x41;
    assert.throws(() => scan(bad, [512]), /bad checksum/);
    assert.throws(() => tagsOf([{ name: 'manifest.json', data: Buffer.from('{not json') }]), /manifest\.json=not valid JSON/);
    assert.throws(() => tagsOf([{ name: 'manifest.json', data: Buffer.from('[{"RepoTags":"app:ci"}]') }]), /not a list of strings/);
    assert.deepEqual(tagsOf([{ name: 'index.json', data: Buffer.from('{"manifests":[{"annotations":{"io.containerd.image.name":"docker.io/library/app:ci"}}]}') }]), ['docker.io/library/app:ci']);
  });

  it('reads base-256 sizes (GNU, for entries over 8 GiB)', () => {
    const data = Buffer.alloc(600, 2);
    const h = tarHeader({ name: 'big', data }, data.length);
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h.writeUInt32BE(600, 132);
    const t = Buffer.concat([withType(h, '0'), pad(data), makeTar([{ name: 'manifest.json', data: manifest }])]);
    const { s } = scan(t, [300]);
    assert.equal(s.tagFiles[0]?.name, 'manifest.json');
  });
});
