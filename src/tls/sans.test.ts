import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSan, parseSans } from './sans.js';
import { isNestlingError } from '../util/errors.js';

test('DNS names are lower-cased, IPs canonicalised, prefixes understood', () => {
  assert.deepEqual(parseSan('Docker'), { type: 'dns', value: 'docker' });
  assert.deepEqual(parseSan('dind.job_1.example.test.'), { type: 'dns', value: 'dind.job_1.example.test' });
  assert.deepEqual(parseSan('*.svc.example.test'), { type: 'dns', value: '*.svc.example.test' });
  assert.deepEqual(parseSan('10.0.0.2'), { type: 'ip', value: '10.0.0.2' });
  assert.deepEqual(parseSan('0:0:0:0:0:0:0:1'), { type: 'ip', value: '::1' });
  assert.deepEqual(parseSan('FD00::A'), { type: 'ip', value: 'fd00::a' });
  assert.deepEqual(parseSan('DNS:docker'), { type: 'dns', value: 'docker' });
  assert.deepEqual(parseSan('ip:127.0.0.1'), { type: 'ip', value: '127.0.0.1' });
});

test('bad SANs are usage errors with a hint', () => {
  for (const bad of ['', ' ', 'tcp://docker', 'docker:2376', 'a b', '-docker', 'docker-', 'a..b', '[::1]', 'fe80::1%eth0', 'IP:docker', 'DNS:10.0.0.1', '10.0.0', '*.com', 'x'.repeat(64), `${'a.'.repeat(127)}ab`, 'bad/name', 'user@host', 'é.test']) {
    assert.throws(
      () => parseSan(bad),
      (e: unknown) => isNestlingError(e) && e.code === 'E_TLS_BAD_SAN' && e.exitCode === 2 && Boolean(e.hint),
      `expected ${JSON.stringify(bad)} to be refused`,
    );
  }
});

test('parseSans de-duplicates, keeps order, and needs at least one name', () => {
  assert.deepEqual(parseSans(['docker', '127.0.0.1', 'DOCKER', '::1', 'IP:127.0.0.1', 'localhost']), {
    dns: ['docker', 'localhost'],
    ips: ['127.0.0.1', '::1'],
  });
  assert.throws(() => parseSans([]), (e: unknown) => isNestlingError(e) && e.code === 'E_TLS_NO_SAN');
});
