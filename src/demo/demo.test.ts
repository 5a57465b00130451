import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyRun, demoRunArgs } from './demo.js';

test('a mode whose run exits 3 is reported as not applicable, with nestling\'s reason', () => {
  const r = classifyRun('sysbox', 3, 10, '', 'nestling: mode sysbox is not applicable on this host: no runtime\nhint: install it\n');
  assert.equal(r.status, 'not-applicable');
  assert.equal(r.detail, 'mode sysbox is not applicable on this host: no runtime');
});

test('other non-zero exits are failures; zero is ok with the job\'s last line', () => {
  assert.equal(classifyRun('dind', 1, 10, 'x\n', 'boom\n').status, 'failed');
  assert.deepEqual(classifyRun('dood', 0, 10, 'a\nhello\n', ''), { mode: 'dood', status: 'ok', exitCode: 0, ms: 10, detail: 'hello' });
});

test('inner-daemon modes preload the base image; sibling modes do not', () => {
  assert.ok(demoRunArgs('dind', 't:1').includes('--preload'));
  assert.ok(!demoRunArgs('dood', 't:1').includes('--preload'));
  assert.deepEqual(demoRunArgs('dood', 't:1').slice(0, 5), ['run', '--mode', 'dood', '--images', 'local']);
});
