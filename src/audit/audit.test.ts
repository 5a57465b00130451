import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { KNOWN_AUTHZ_BYPASSES, parseEngineVersion } from './checks/authz-bypass.js';
import { dockerdListeners, tcpDaemonCheck } from './checks/tcp-daemon.js';
import { runAudit, auditExitCode } from './audit.js';
import { Engine } from '../engine/client.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/proc/', import.meta.url));

describe('AuthZ bypass version ranges', () => {
  const affected = (id: string, v: string) => KNOWN_AUTHZ_BYPASSES.find((b) => b.id === id)!.affects(parseEngineVersion(v)!);
  it('CVE-2024-41110: fixed in 23.0.15, 25.0.6, 26.1.5, 27.1.1; earlier branches all affected', () => {
    for (const v of ['19.03.15', '20.10.24+dfsg1', '20.10.27', '23.0.14', '24.0.9', '25.0.5', '26.0.2', '26.1.4', '27.0.3', '27.1.0']) assert.equal(affected('CVE-2024-41110', v), true, v);
    for (const v of ['23.0.15', '25.0.6', '26.1.5', '27.1.1', '28.2.2', '29.0.0']) assert.equal(affected('CVE-2024-41110', v), false, v);
  });
  it('CVE-2026-34040: before 29.3.1', () => {
    assert.equal(affected('CVE-2026-34040', '28.2.2'), true);
    assert.equal(affected('CVE-2026-34040', '29.3.1'), false);
    assert.equal(parseEngineVersion('garbage'), undefined);
  });
});

describe('dockerd command lines', () => {
  it('reads -H, --host=, -Hvalue and TLS flags', () => {
    assert.deepEqual(dockerdListeners(['dockerd', '-H', 'tcp://0.0.0.0:2375', '--host=unix:///x.sock', '-Htcp://1.2.3.4:1']), { hosts: ['tcp://0.0.0.0:2375', 'unix:///x.sock', 'tcp://1.2.3.4:1'], tls: false, tlsverify: false });
    assert.deepEqual(dockerdListeners(['dockerd', '--tlsverify', '-H', 'tcp://0.0.0.0:2376']).tlsverify, true);
  });
  it('on a fake host: a dockerd on 0.0.0.0:2375 without TLS (critical), daemon.json hosts, not the --tlsverify one', async () => {
    const engine = new Engine({ kind: 'unix', socketPath: '/nonexistent.sock', url: 'unix:///nonexistent.sock', source: 'test' });
    const r = await runAudit({ engine, scope: {}, scanHost: true, host: { root: join(FIXTURES, 'host-no-sys-resource') } }, { checks: [tcpDaemonCheck] });
    const subjects = r.findings.map((f) => [f.subject, f.severity]);
    assert.deepEqual(subjects, [
      ['dockerd pid 4242', 'critical'],
      ['/etc/docker/daemon.json', 'critical'],
    ]);
    assert.equal(auditExitCode(r, 'critical'), 5);
  });
});
