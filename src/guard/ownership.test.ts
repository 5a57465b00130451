import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeOwnerFilter, notFoundMessage } from './ownership.js';

test('owner filter: added to no filters, merged into the map form and the legacy list form', () => {
  assert.equal(mergeOwnerFilter(null, 'j'), '{"label":{"io.nestling.owner=j":true}}');
  assert.equal(mergeOwnerFilter('', 'j'), '{"label":{"io.nestling.owner=j":true}}');
  assert.equal(mergeOwnerFilter('{"label":{"a=b":true},"status":{"exited":true}}', 'j'), '{"label":{"a=b":true,"io.nestling.owner=j":true},"status":{"exited":true}}');
  assert.equal(mergeOwnerFilter('{"label":["a=b"],"name":["x"]}', 'j'), '{"label":{"a=b":true,"io.nestling.owner=j":true},"name":{"x":true}}');
  assert.equal(mergeOwnerFilter('null', 'j'), '{"label":{"io.nestling.owner=j":true}}');
});

test('owner filter: a job cannot widen it (its own owner label value is ANDed with ours)', () => {
  const merged = JSON.parse(mergeOwnerFilter('{"label":{"io.nestling.owner=other":true}}', 'j') ?? '{}') as { label: Record<string, boolean> };
  assert.deepEqual(Object.keys(merged.label), ['io.nestling.owner=other', 'io.nestling.owner=j']);
});

test('malformed filters are refused', () => {
  for (const f of ['{', '[]', '"x"', '{"label":"a"}', '{"label":{"a":"yes"}}', '{"label":[1]}']) assert.equal(mergeOwnerFilter(f, 'j'), undefined, f);
});

test('not-found wording is the daemon wording per kind', () => {
  assert.equal(notFoundMessage('container', 'x'), 'No such container: x');
  assert.equal(notFoundMessage('network', 'x'), 'network x not found');
  assert.equal(notFoundMessage('volume', 'x'), 'get x: no such volume');
  assert.equal(notFoundMessage('exec', 'x'), 'No such exec instance: x');
  assert.equal(notFoundMessage('image', 'x'), 'No such image: x');
});
