/**
 * Attacks on the shared image store through the guard, against the real dockerd (two-sided: the daemon directly
 * does what the attack wants; the guard refuses it).
 *
 * 1. Moving a tag the job did not create by splitting the reference over `repo` and `tag`: the daemon drops the
 *    repo's own tag or digest when `tag` is given (`repo=victim:x&tag=v1` writes `victim:v1`), and commit writes
 *    `repo=victim:v1` as given. The guard used to check the unparseable `victim:x:v1` (the daemon's inspect answers
 *    400, read as "no such image") and let tag, commit and import move `victim:v1`.
 * 2. Spoofing the owner label of a committed or imported image through Dockerfile word processing in `changes`
 *    (quotes, backslash escapes, `$VAR` from an earlier ENV, line continuations across two `changes` values): the
 *    raw text never shows `io.nestling.`, the daemon's parser spells it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { makeTar } from '../../../src/util/tar.js';
import { startTestGuard, type TestGuard, apiRequest, type ApiResponse } from './helpers.js';

type Res = ApiResponse;
const send = apiRequest;

const BUSYBOX = 'nestling/busybox:local';
const CLI = 'nestling/cli:local';
const OWNER = 'io.nestling.owner';
const ZERO_DIGEST = `sha256:${'0'.repeat(64)}`;
const q = encodeURIComponent;

describe('guard attacks: the shared image store', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let ga: TestGuard;
  const prefix = uniquePrefix('gatki');
  const ownerA = `${prefix}-a`;
  const victim = `${prefix}-victim`; // a tag nobody of A made (like a host's or another job's image)
  const direct = `${prefix}-direct`; // the daemon-side twin of victim, moved directly to show what the daemon does
  let busyboxId = '';
  let cliId = '';
  let ownContainer = ''; // A's container (through the guard)
  let directContainer = ''; // a container made directly
  const images = new Set<string>();
  const emptyTar = makeTar([{ name: 'empty.txt', data: Buffer.from('') }]);

  const imageId = async (ref: string): Promise<string | undefined> => {
    const r = await send(d.socketPath, 'GET', `/images/${q(ref)}/json`);
    return r.status === 200 ? (JSON.parse(r.text) as { Id: string }).Id : undefined;
  };
  const labelsOf = async (ref: string): Promise<Record<string, string>> => {
    const r = await send(d.socketPath, 'GET', `/images/${q(ref)}/json`);
    assert.equal(r.status, 200, r.text);
    return (JSON.parse(r.text) as { Config: { Labels: Record<string, string> | null } }).Config.Labels ?? {};
  };
  const resetTags = async () => {
    for (const ref of [`${victim}:v1`, `${direct}:v1`]) {
      const r = await send(d.socketPath, 'POST', `/images/${BUSYBOX}/tag?repo=${q(ref.split(':')[0]!)}&tag=v1`);
      assert.equal(r.status, 201, r.text);
    }
  };
  /** the image id an answer names ({"Id":...} of commit, {"status":"sha256:..."} of import) */
  const track = (r: Res) => {
    for (const m of r.text.matchAll(/sha256:[0-9a-f]{64}/g)) images.add(m[0]);
  };

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    ga = await startTestGuard(d, ownerA);
    busyboxId = (await imageId(BUSYBOX))!;
    cliId = (await imageId(CLI))!;
    assert.ok(busyboxId && cliId && busyboxId !== cliId);
    await resetTags();
    const c = await send(ga.socketPath!, 'POST', `/containers/create?name=${prefix}-own`, JSON.stringify({ Image: BUSYBOX, Cmd: ['true'] }));
    assert.equal(c.status, 201, c.text);
    ownContainer = cleanup.add('container', (JSON.parse(c.text) as { Id: string }).Id);
    const dc = await send(d.socketPath, 'POST', `/containers/create?name=${prefix}-direct`, JSON.stringify({ Image: BUSYBOX, Cmd: ['true'] }));
    assert.equal(dc.status, 201, dc.text);
    directContainer = cleanup.add('container', (JSON.parse(dc.text) as { Id: string }).Id);
  });

  after(async () => {
    await ga?.close();
    for (const ref of [`${victim}:v1`, `${direct}:v1`, `${prefix}-new:1`, `${prefix}-new2:1`, `${prefix}-new3:1`]) {
      await send(d.socketPath, 'DELETE', `/images/${q(ref)}`).catch(() => undefined);
    }
    for (const id of images) if (id !== busyboxId && id !== cliId) cleanup.add('image', id);
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  const splitForms = [
    { title: 'repo with its own tag, and a tag', query: (repo: string) => `repo=${q(`${repo}:x`)}&tag=v1` },
    { title: 'repo with a digest, and a tag', query: (repo: string) => `repo=${q(`${repo}@${ZERO_DIGEST}`)}&tag=v1` },
  ];

  for (const f of splitForms) {
    it(`tag: ${f.title} moves the tag directly; the guard refuses (image-not-owned)`, async () => {
      await resetTags();
      const dr = await send(d.socketPath, 'POST', `/images/${CLI}/tag?${f.query(direct)}`);
      assert.equal(dr.status, 201, dr.text);
      assert.equal(await imageId(`${direct}:v1`), cliId, 'the daemon moved the tag');
      const gr = await send(ga.socketPath!, 'POST', `/images/${CLI}/tag?${f.query(victim)}`);
      assert.equal(gr.status, 403, gr.text);
      assert.match(gr.text, /denied by rule image-not-owned/);
      assert.equal(await imageId(`${victim}:v1`), busyboxId, 'the victim tag did not move');
    });
  }

  it('tag: the split form onto a new name still works through the guard', async () => {
    const r = await send(ga.socketPath!, 'POST', `/images/${BUSYBOX}/tag?repo=${q(`${prefix}-new:x`)}&tag=1`);
    assert.equal(r.status, 201, r.text);
    assert.equal(await imageId(`${prefix}-new:1`), busyboxId);
  });

  const commitForms = [
    { title: 'repo with a tag and no tag parameter', query: (repo: string) => `repo=${q(`${repo}:v1`)}` },
    { title: 'repo with its own tag, and a tag', query: (repo: string) => `repo=${q(`${repo}:x`)}&tag=v1` },
    { title: 'repo with a digest, and a tag', query: (repo: string) => `repo=${q(`${repo}@${ZERO_DIGEST}`)}&tag=v1` },
  ];

  for (const f of commitForms) {
    it(`commit: ${f.title} moves the tag directly; the guard refuses (image-not-owned)`, async () => {
      await resetTags();
      const dr = await send(d.socketPath, 'POST', `/commit?container=${directContainer}&${f.query(direct)}`, '{}');
      assert.equal(dr.status, 201, dr.text);
      track(dr);
      const moved = await imageId(`${direct}:v1`);
      assert.ok(moved && moved !== busyboxId, 'the daemon moved the tag to the committed image');
      const gr = await send(ga.socketPath!, 'POST', `/commit?container=${ownContainer}&${f.query(victim)}`, '{}');
      track(gr);
      assert.equal(gr.status, 403, gr.text);
      assert.match(gr.text, /denied by rule image-not-owned/);
      assert.equal(await imageId(`${victim}:v1`), busyboxId, 'the victim tag did not move');
    });
  }

  // (the daemon refuses to import onto a digest reference: only the tag form)
  for (const f of splitForms.slice(0, 1)) {
    it(`import: ${f.title} moves the tag directly; the guard refuses (image-not-owned)`, async () => {
      await resetTags();
      const dr = await send(d.socketPath, 'POST', `/images/create?fromSrc=-&${f.query(direct)}`, emptyTar, 'application/x-tar');
      assert.equal(dr.status, 200, dr.text);
      track(dr);
      const moved = await imageId(`${direct}:v1`);
      assert.ok(moved && moved !== busyboxId, 'the daemon moved the tag to the imported image');
      const gr = await send(ga.socketPath!, 'POST', `/images/create?fromSrc=-&${f.query(victim)}`, emptyTar, 'application/x-tar');
      track(gr);
      assert.equal(gr.status, 403, gr.text);
      assert.match(gr.text, /denied by rule image-not-owned/);
      assert.equal(await imageId(`${victim}:v1`), busyboxId, 'the victim tag did not move');
    });
  }

  it('load with manifest.json written through a symlinked directory (d -> ., d/manifest.json): the daemon moves the tag; the guard refuses (image-load)', async () => {
    await resetTags();
    // a minimal docker-save archive: one layer, its config, a manifest naming the victim tag
    const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    const layer = makeTar([{ name: 'hello.txt', data: prefix }]);
    const config = JSON.stringify({ architecture: process.arch === 'arm64' ? 'arm64' : 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha(layer)}`] } });
    const imgId = `sha256:${sha(config)}`;
    images.add(imgId);
    const manifest = JSON.stringify([{ Config: `${sha(config)}.json`, RepoTags: [`${direct}:v1`], Layers: ['l/layer.tar'] }]);
    const archive = (m: string) =>
      makeTar([
        { name: `${sha(config)}.json`, data: config },
        { name: 'l/layer.tar', data: layer },
        { name: 'd', type: 'symlink', linkname: '.' },
        { name: 'd/manifest.json', data: m },
      ]);
    const dr = await send(d.socketPath, 'POST', '/images/load?quiet=1', archive(manifest), 'application/x-tar');
    assert.equal(dr.status, 200, dr.text);
    assert.equal(await imageId(`${direct}:v1`), imgId, `the daemon read d/manifest.json as the root's: ${dr.text}`);
    const gr = await send(ga.socketPath!, 'POST', '/images/load?quiet=1', archive(manifest.replace(direct, victim)), 'application/x-tar');
    assert.equal(gr.status, 403, gr.text);
    assert.match(gr.text, /denied by rule image-load: d\/manifest\.json=an entry under a link/);
    assert.equal(await imageId(`${victim}:v1`), busyboxId, 'the victim tag did not move');
  });

  const spoofs: { title: string; changes: string[] }[] = [
    { title: 'a quoted key', changes: ['LABEL "io."nestling.owner=B'] },
    { title: 'a backslash escape in the key', changes: ['LABEL io.nestl\\ing.owner=B'] },
    { title: 'a $VAR from an earlier ENV', changes: ['ENV X=nestling', 'LABEL io.${X}.owner=B'] },
    { title: 'a line continuation across two changes', changes: ['LABEL io.nest\\', 'ling.owner=B'] },
  ];

  for (const s of spoofs) {
    const cq = s.changes.map((c) => `changes=${q(c)}`).join('&');
    it(`commit changes with ${s.title}: the daemon sets io.nestling.owner=B; the guard refuses (reserved-label)`, async () => {
      const dr = await send(d.socketPath, 'POST', `/commit?container=${directContainer}&${cq}`, JSON.stringify({ Labels: { [OWNER]: 'A' } }));
      assert.equal(dr.status, 201, dr.text);
      track(dr);
      assert.equal((await labelsOf((JSON.parse(dr.text) as { Id: string }).Id))[OWNER], 'B', 'the daemon spelled the reserved key');
      const gr = await send(ga.socketPath!, 'POST', `/commit?container=${ownContainer}&${cq}`, '{}');
      track(gr);
      assert.equal(gr.status, 403, gr.text);
      assert.match(gr.text, /denied by rule reserved-label: changes=/);
    });
  }

  it('import changes with a line continuation: the daemon sets io.nestling.owner=B; the guard refuses (reserved-label)', async () => {
    const cq = ['LABEL io.nest\\', 'ling.owner=B'].map((c) => `changes=${q(c)}`).join('&');
    const dr = await send(d.socketPath, 'POST', `/images/create?fromSrc=-&${cq}`, emptyTar, 'application/x-tar');
    assert.equal(dr.status, 200, dr.text);
    track(dr);
    const id = /sha256:[0-9a-f]{64}/.exec(dr.text)?.[0];
    assert.ok(id, dr.text);
    assert.equal((await labelsOf(id))[OWNER], 'B');
    const gr = await send(ga.socketPath!, 'POST', `/images/create?fromSrc=-&${cq}`, emptyTar, 'application/x-tar');
    track(gr);
    assert.equal(gr.status, 403, gr.text);
    assert.match(gr.text, /denied by rule reserved-label/);
  });

  it('ordinary changes still work through the guard, and the committed image is the owner\'s', async () => {
    const cq = ['ENV X=1', 'CMD ["true"]', 'LABEL app=demo'].map((c) => `changes=${q(c)}`).join('&');
    const r = await send(ga.socketPath!, 'POST', `/commit?container=${ownContainer}&repo=${q(`${prefix}-new2`)}&tag=1&${cq}`, '{}');
    assert.equal(r.status, 201, r.text);
    track(r);
    const labels = await labelsOf(`${prefix}-new2:1`);
    assert.equal(labels[OWNER], ownerA);
    assert.equal(labels.app, 'demo');
    const ir = await send(ga.socketPath!, 'POST', `/images/create?fromSrc=-&repo=${q(`${prefix}-new3`)}&tag=1&changes=${q('CMD ["true"]')}`, emptyTar, 'application/x-tar');
    assert.equal(ir.status, 200, ir.text);
    track(ir);
    assert.equal((await labelsOf(`${prefix}-new3:1`))[OWNER], ownerA);
  });
});
