import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isNestlingError } from '../util/errors.js';
import { parsePolicy, policyJsonSchema, printPolicy } from './policy-file.js';
import { defaultPolicy } from './policy.js';

function err(text: string): string {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (e) {
    assert.ok(isNestlingError(e));
    assert.equal(e.exitCode, 2);
    return e.message;
  }
  assert.fail('expected an error');
}

test('a minimal file is the baseline', () => {
  assert.deepEqual(parsePolicy('version: 1\n'), defaultPolicy());
});

test('relaxations and quotas are applied', () => {
  const p = parsePolicy('version: 1\nallowBind: [/srv/ci/]\nallowCaps: [net_admin]\nallowRuntimes: [runsc]\nhostPorts: [{from: 8000, to: 8999}]\nquotas: {memoryBytes: 1073741824, pidsLimit: 100}\ndefaults: {user: "1000"}\n');
  assert.deepEqual(p.allowBind, ['/srv/ci']);
  assert.deepEqual(p.allowCaps, ['NET_ADMIN']);
  assert.deepEqual(p.allowRuntimes, ['runsc']);
  assert.deepEqual(p.hostPorts, [{ from: 8000, to: 8999 }]);
  assert.deepEqual(p.quotas, { memoryBytes: 1073741824, pidsLimit: 100 });
  assert.deepEqual(p.defaults, { user: '1000' });
});

test('errors name the line and column', () => {
  assert.equal(err('version: 1\nallowBind:\n  - /ok\n  - relative\n'), 'p.yaml:4:5: allowBind.1: must be an absolute host path');
  assert.equal(err('version: 1\nquotas:\n  pids: 3\n'), 'p.yaml:3:3: quotas: Unrecognized key: "pids" (pids)');
  assert.match(err('version: 1\nallowCaps: []\nallowCaps: []\n'), /^p\.yaml:3:1: .*unique/);
  assert.match(err('version: 2\n'), /^p\.yaml:1:10: version:/);
  assert.match(err('version: 1\nhostPorts: [{from: 9, to: 3}]\n'), /^p\.yaml:2:13: hostPorts\.0: from must not be above to/);
  assert.match(err('version: 1\nallowBind: [/a/../etc]\n'), /must not contain \.\./);
  assert.match(err('allowBind: [/a]\n'), /version/);
  assert.match(err('version: [\n'), /^p\.yaml:\d+:\d+: /);
});

test('per-job quotas need their per-container quota, and are not below it', () => {
  const p = parsePolicy('version: 1\nquotas:\n  memoryBytes: 100000000\n  jobMemoryBytes: 300000000\n  pidsLimit: 10\n  jobPidsLimit: 30\n');
  assert.equal(p.quotas.jobMemoryBytes, 300000000);
  assert.equal(p.quotas.jobPidsLimit, 30);
  assert.equal(err('version: 1\nquotas:\n  jobNanoCpus: 2000000000\n'), 'p.yaml:3:16: quotas.jobNanoCpus: needs quotas.nanoCpus (every container must have a limit for the job sum to hold)');
  assert.equal(err('version: 1\nquotas:\n  pidsLimit: 100\n  jobPidsLimit: 50\n'), 'p.yaml:4:17: quotas.jobPidsLimit: must not be below quotas.pidsLimit');
});

test('printPolicy round-trips', () => {
  const p = parsePolicy('version: 1\nallowBind: [/srv]\nallowCaps: [NET_ADMIN]\nquotas: {nanoCpus: 1000000000, jobNanoCpus: 3000000000, containersPerJob: 4}\ndefaults: {cgroupParent: ci.slice}\n');
  assert.deepEqual(parsePolicy(printPolicy(p)), p);
  assert.deepEqual(parsePolicy(printPolicy(defaultPolicy())), defaultPolicy());
});

test('schema/policy.schema.json is generated from the zod schema (node scripts/gen-policy-schema.mjs)', () => {
  const committed = JSON.parse(readFileSync(new URL('../../../schema/policy.schema.json', import.meta.url), 'utf8')) as unknown;
  assert.deepEqual(committed, policyJsonSchema());
});

test('learnPolicy: the least relaxation that allows what dry-run refused; the rest is listed', async () => {
  const { learnPolicy, parseDenialMessage } = await import('./policy-file.js');
  const msgs = [
    'nestling guard: denied by rule bind-outside-allowlist: HostConfig.Binds[0]=/srv/ci/work/',
    'nestling guard: denied by rule cap-add: HostConfig.CapAdd=cap_net_admin',
    'nestling guard: denied by rule runtime: HostConfig.Runtime=runsc',
    'nestling guard: denied by rule host-port: HostConfig.PortBindings.80/tcp.HostPort=80',
    'nestling guard: denied by rule no-privileged: HostConfig.Privileged=true',
  ];
  const obs = msgs.map((m) => parseDenialMessage(m)).filter((x) => x !== undefined);
  assert.equal(obs.length, 5);
  const r = learnPolicy(obs);
  assert.deepEqual(r.policy.allowBind, ['/srv/ci/work']);
  assert.deepEqual(r.policy.allowCaps, ['NET_ADMIN']);
  assert.deepEqual(r.policy.allowRuntimes, ['runsc']);
  assert.deepEqual(r.policy.hostPorts, [{ from: 80, to: 80 }, { from: 1024, to: 65535 }]);
  assert.deepEqual(r.unrelaxable.map((u) => u.rule), ['no-privileged']);
  assert.deepEqual(parsePolicy(r.yaml), r.policy);
  assert.match(r.yaml, /# {3}no-privileged: HostConfig.Privileged=true/);
});
