import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanHostPath, isPathWithin, mapJobPath } from './path-rewrite.js';

test('isPathWithin compares whole segments', () => {
  assert.equal(isPathWithin('/srv/ci', '/srv/ci'), true);
  assert.equal(isPathWithin('/srv/ci/a', '/srv/ci'), true);
  assert.equal(isPathWithin('/srv/ci-other', '/srv/ci'), false);
  assert.equal(isPathWithin('/anything', '/'), true);
});

test('cleanHostPath is path.Clean', () => {
  assert.equal(cleanHostPath('/a//b/./c/../d/'), '/a/b/d');
  assert.equal(cleanHostPath('/../..'), '/');
});

test('mapJobPath uses the longest matching mapping on segment boundaries', () => {
  const maps = [
    { jobPath: '/builds', hostPath: '/srv/ci/job-1' },
    { jobPath: '/builds/cache', hostPath: '/srv/cache/job-1' },
    { jobPath: '/', hostPath: '/srv/ci/job-1/root' },
  ];
  assert.equal(mapJobPath('/builds/src', maps).path, '/srv/ci/job-1/src');
  assert.equal(mapJobPath('/builds/cache/x', maps).path, '/srv/cache/job-1/x');
  assert.equal(mapJobPath('/builds', maps).path, '/srv/ci/job-1');
  assert.equal(mapJobPath('/buildsx', maps).path, '/srv/ci/job-1/root/buildsx');
  assert.equal(mapJobPath('/etc', []).path, '/etc');
  assert.equal(mapJobPath('/etc', []).mapping, undefined);
});
