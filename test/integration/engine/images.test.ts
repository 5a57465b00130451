/** build (classic builder, tar context FROM the local busybox), import, inspect, tag, list, remove: nothing pulled. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buildImage, importImage, inspectImage, listImages, removeImage, tagImage } from '../../../src/engine/endpoints/images.js';
import { createContainer } from '../../../src/engine/endpoints/containers.js';
import { makeTar } from '../../../src/util/tar.js';
import { EngineError } from '../../../src/util/errors.js';
import type { JsonMessage } from '../../../src/engine/types/api.js';
import { BUSYBOX, engineFixture, type EngineFixture } from './setup.js';

let fx: EngineFixture;
before(async () => {
  fx = await engineFixture('eng-img');
});
after(async () => {
  await fx?.cleanup.sweepPrefix(fx.prefix);
  await fx?.cleanup.run();
});

test('buildImage: a tar context streamed chunked, progress lines, the aux image ID, labels and tags', async () => {
  const tag = `${fx.prefix}/built:1`;
  fx.cleanup.add('image', tag);
  const context = makeTar([
    { name: 'Dockerfile', data: `FROM ${BUSYBOX}\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt > /copy.txt\nCMD ["cat", "/copy.txt"]\n` },
    { name: 'hello.txt', data: 'hello from the context\n' },
  ]);
  const seen: JsonMessage[] = [];
  const r = await buildImage(fx.engine, Readable.from([context.subarray(0, 700), context.subarray(700)]), {
    tags: [tag],
    labels: { 'io.nestling.test': fx.prefix },
    onProgress: (m) => seen.push(m),
  });
  assert.ok(seen.some((m) => /Step 1\/\d+ : FROM/.test(m.stream ?? '')), `step lines arrive as progress: ${JSON.stringify(seen.slice(0, 3))}`);
  assert.match(r.imageId ?? '', /^sha256:[0-9a-f]{64}$/);
  const ins = await inspectImage(fx.engine, tag);
  assert.equal(ins.Id, r.imageId);
  assert.equal(ins.Config?.Labels?.['io.nestling.test'], fx.prefix);
  assert.deepEqual(ins.Config?.Cmd, ['cat', '/copy.txt']);
  const listed = await listImages(fx.engine, { filters: { label: [`io.nestling.test=${fx.prefix}`] } });
  assert.deepEqual(listed.map((i) => i.Id), [r.imageId]);
});

test('a failing build step is an EngineError carrying the daemon message, after the step output', async () => {
  const seen: string[] = [];
  const context = makeTar([{ name: 'Dockerfile', data: `FROM ${BUSYBOX}\nRUN echo about to fail && exit 9\n` }]);
  await assert.rejects(buildImage(fx.engine, context, { onProgress: (m) => seen.push(m.stream ?? '') }), (e: unknown) => {
    assert.ok(e instanceof EngineError, String(e));
    assert.equal(e.code, 'E_ENGINE_PROGRESS_ERROR');
    assert.match(e.engineMessage ?? '', /returned a non-zero code: 9/);
    assert.equal(e.route, 'POST /build');
    return true;
  });
  assert.ok(seen.some((s) => s.includes('about to fail')));
});

test('a build FROM an image that is not local fails instead of pulling (no registry is reachable)', async () => {
  const context = makeTar([{ name: 'Dockerfile', data: `FROM ${fx.prefix}/absent:1\n` }]);
  await assert.rejects(buildImage(fx.engine, context), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_PROGRESS_ERROR');
});

test('a broken context: the daemon\'s error, not a crash', async () => {
  await assert.rejects(buildImage(fx.engine, Buffer.from('this is not a tar archive at all'.repeat(40))), (e: unknown) => e instanceof EngineError);
});

test('importImage (docker import) with changes, then tag, a 409 while in use, and remove', async () => {
  const repo = `${fx.prefix}/imported`;
  fx.cleanup.add('image', `${repo}:1`);
  fx.cleanup.add('image', `${repo}:2`);
  const rootfs = makeTar([
    { name: 'etc', type: 'dir' },
    { name: 'etc/marker', data: 'imported\n' },
  ]);
  const r = await importImage(fx.engine, rootfs, { repo, tag: '1', changes: ['ENV IMPORTED=yes', 'LABEL io.nestling.test=import'] });
  assert.match(r.imageId ?? '', /^sha256:[0-9a-f]{64}$/);
  const ins = await inspectImage(fx.engine, `${repo}:1`);
  assert.ok(ins.Config?.Env?.includes('IMPORTED=yes'));
  assert.equal(ins.Config?.Labels?.['io.nestling.test'], 'import');
  assert.equal(await tagImage(fx.engine, `${repo}:1`, repo, '2'), 'tagged');
  assert.deepEqual((await inspectImage(fx.engine, `${repo}:2`)).RepoTags?.sort(), [`${repo}:1`, `${repo}:2`]);
  const c = await createContainer(fx.engine, { Image: `${repo}:1`, Cmd: ['/nothing'] }, { name: `${fx.prefix}-user` });
  fx.cleanup.add('container', c.Id);
  const untagged = await removeImage(fx.engine, `${repo}:2`);
  assert.deepEqual(untagged, [{ Untagged: `${repo}:2` }]);
  await assert.rejects(removeImage(fx.engine, ins.Id), (e: unknown) => e instanceof EngineError && e.statusCode === 409 && e.code === 'E_ENGINE_CONFLICT');
  await fx.cleanup.run();
  await assert.rejects(inspectImage(fx.engine, `${repo}:1`), (e: unknown) => e instanceof EngineError && e.statusCode === 404);
});

test('importing a broken tar: an error line or status becomes an EngineError', async () => {
  await assert.rejects(importImage(fx.engine, Buffer.from('garbage'.repeat(100)), { repo: `${fx.prefix}/broken`, tag: '1' }), (e: unknown) => e instanceof EngineError);
});
