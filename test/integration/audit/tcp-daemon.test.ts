/**
 * A real private dockerd listening on plain TCP (loopback, a free port): audit must find it three ways: its command
 * line in /proc, its listening socket in /proc/net/tcp, and as a scanned endpoint that answers without TLS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateDockerd, type PrivateDaemon } from '../../../src/engine/local-daemon.js';
import { Engine } from '../../../src/engine/client.js';
import { parseHostUrl } from '../../../src/engine/resolve.js';
import { runAudit } from '../../../src/audit/audit.js';
import { tcpDaemonCheck } from '../../../src/audit/checks/tcp-daemon.js';
import { tcpListeners } from '../../../src/host/net.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

describe('audit finds a dockerd on TCP without TLS', { timeout: 180_000 }, () => {
  let d: PrivateDaemon;
  let port: number;
  before(async () => {
    port = await freePort();
    d = await startPrivateDockerd({ dir: mkdtempSync(join(tmpdir(), 'nst-audit-tcp-')), extraArgs: ['-H', `tcp://127.0.0.1:${port}`] });
  });
  after(async () => {
    await d?.stop();
  });

  it('the daemon really answers on plain TCP', async () => {
    const tcp = new Engine(parseHostUrl(`tcp://127.0.0.1:${port}`, 'test'));
    const p = await tcp.ping(undefined, 20_000);
    assert.ok(p.apiVersion);
  });

  it('its listening socket is in /proc/net/tcp', async () => {
    const { listeners } = await tcpListeners({ root: '/' });
    assert.ok(listeners.some((l) => l.port === port && l.address === '127.0.0.1'), JSON.stringify(listeners.filter((l) => l.port === port)));
  });

  it('from its command line in /proc, as high (loopback, no TLS)', async () => {
    const r = await runAudit({ engine: d.engine, scope: { namePrefix: 'nst-audit-tcp-none-' }, scanHost: true, host: { root: '/' } }, { checks: [tcpDaemonCheck] });
    const f = r.findings.find((x) => x.subject === `dockerd pid ${d.pid}`);
    assert.ok(f, JSON.stringify(r.findings, null, 2));
    assert.equal(f.severity, 'high');
    assert.match(f.found, new RegExp(`tcp://127\\.0\\.0\\.1:${port} without TLS`));
  });

  it('as the scanned endpoint itself', async () => {
    const tcp = new Engine(parseHostUrl(`tcp://127.0.0.1:${port}`, 'test'));
    const r = await runAudit({ engine: tcp, scope: { namePrefix: 'nst-audit-tcp-none-' }, scanHost: false, host: { root: '/' } }, { checks: [tcpDaemonCheck] });
    const f = r.findings.find((x) => x.subject === `tcp://127.0.0.1:${port}`);
    assert.ok(f, JSON.stringify(r.findings));
    assert.match(f.found, /without TLS/);
  });
});
