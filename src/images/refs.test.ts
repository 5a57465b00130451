import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isImageReference, localImages, officialImages, resolveImages, OFFICIAL_DOCKER_VERSION } from './refs.js';
import { isNestlingError } from '../util/errors.js';

test('official images by default', () => {
  const r = resolveImages();
  assert.equal(r.set, 'official');
  assert.deepEqual({ cli: r.cli, dind: r.dind, dindRootless: r.dindRootless }, officialImages());
  assert.equal(r.dind, `docker:${OFFICIAL_DOCKER_VERSION}-dind`);
  assert.equal(r.dindRootless, `docker:${OFFICIAL_DOCKER_VERSION}-dind-rootless`);
  assert.deepEqual(r.sources, { cli: 'official', dind: 'official', dindRootless: 'official' });
  assert.equal(resolveImages({ dockerVersion: '27.5' }).cli, 'docker:27.5-cli');
});

test('--images local or NESTLING_IMAGES=local: the nestling/*:local images', () => {
  const fromFlag = resolveImages({ images: 'local' });
  assert.deepEqual({ cli: fromFlag.cli, dind: fromFlag.dind, dindRootless: fromFlag.dindRootless }, { ...localImages });
  assert.equal(fromFlag.dind, 'nestling/dind:local');
  assert.equal(resolveImages({ env: { NESTLING_IMAGES: 'local' } }).dindRootless, 'nestling/dind-rootless:local');
  // the flag wins over the environment
  assert.equal(resolveImages({ images: 'official', env: { NESTLING_IMAGES: 'local' } }).set, 'official');
  assert.equal(resolveImages({ images: '', env: { NESTLING_IMAGES: 'local' } }).set, 'local');
});

test('each image overridable: flag > NESTLING_*_IMAGE > the set', () => {
  const env = { NESTLING_IMAGES: 'local', NESTLING_DIND_IMAGE: 'registry.local:5000/ci/dind:1', NESTLING_CLI_IMAGE: 'ci/cli:2' };
  const r = resolveImages({ env, overrides: { cli: 'my/cli@sha256:' + 'a'.repeat(64) } });
  assert.equal(r.cli, `my/cli@sha256:${'a'.repeat(64)}`);
  assert.equal(r.dind, 'registry.local:5000/ci/dind:1');
  assert.equal(r.dindRootless, 'nestling/dind-rootless:local');
  assert.deepEqual(r.sources, { cli: 'flag', dind: 'env', dindRootless: 'local' });
  assert.equal(resolveImages({ env: { NESTLING_DIND_ROOTLESS_IMAGE: 'x/rootless:3' } }).dindRootless, 'x/rootless:3');
});

test('bad input: unknown set, invalid references', () => {
  assert.throws(() => resolveImages({ images: 'latest' }), (e: unknown) => isNestlingError(e) && e.code === 'E_CONFIG_IMAGES' && e.category === 'usage' && Boolean(e.hint));
  assert.throws(() => resolveImages({ env: { NESTLING_IMAGES: 'Local' } }), (e: unknown) => isNestlingError(e) && e.code === 'E_CONFIG_IMAGES' && e.category === 'config' && /NESTLING_IMAGES/.test(e.message));
  assert.throws(() => resolveImages({ env: { NESTLING_DIND_IMAGE: 'Docker:dind' } }), (e: unknown) => isNestlingError(e) && e.code === 'E_CONFIG_IMAGE_REF' && /NESTLING_DIND_IMAGE/.test(e.message));
  assert.throws(() => resolveImages({ overrides: { cli: 'a b' } }), (e: unknown) => isNestlingError(e) && e.code === 'E_CONFIG_IMAGE_REF' && e.exitCode === 2);
});

test('image reference grammar', () => {
  for (const ok of ['docker:28-dind', 'nestling/dind:local', 'localhost:5000/a/b:c', 'a.b.c/d__e/f-g:1.2_3', `x@sha256:${'0'.repeat(64)}`, 'busybox']) {
    assert.ok(isImageReference(ok), ok);
  }
  for (const bad of ['', 'UPPER/case', 'a:b:c', 'a/', '/a', 'a:', 'a@sha256:xyz', 'a b', `a:${'t'.repeat(129)}`, '-a']) {
    assert.ok(!isImageReference(bad), bad);
  }
});
