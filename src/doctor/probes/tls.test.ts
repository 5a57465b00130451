import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:tls';
import { generateDindCerts, type CertBundle } from '../../tls/generate.js';
import { runDoctor } from '../doctor.js';
import { endpointProbe } from './endpoint.js';
import { tlsProbe } from './tls.js';
import type { DoctorEnvironment } from '../context.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A real TLS listener on loopback presenting `server` (and asking for a client certificate, as dockerd --tlsverify). */
function listen(b: CertBundle): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer({ cert: b.server.cert, key: b.server.key, ca: b.ca.cert, requestCert: true, rejectUnauthorized: false }, (c) => c.end());
    servers.push(s);
    s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port));
  });
}

async function probe(port: number, ca: string, client: { cert: string; key: string }) {
  const env: DoctorEnvironment = {
    host: { root: '/' },
    env: {},
    home: '/nonexistent',
    resolve: () => ({
      endpoint: { kind: 'tcp', host: '127.0.0.1', port, url: `tcp://127.0.0.1:${port}`, source: 'test', tls: { verify: true, ca: Buffer.from(ca), cert: Buffer.from(client.cert), key: Buffer.from(client.key) } },
      candidates: [],
    }),
    exec: () => Promise.resolve({ code: undefined, stdout: '', stderr: '', error: 'ENOENT' }),
    now: () => new Date(),
    engineTimeoutMs: 3000,
    probeContainers: false,
    images: 'local',
    dockerVersion: '28',
  };
  const r = await runDoctor(env, { probes: [endpointProbe, tlsProbe], timeoutMs: 5000 });
  return r.findings.filter((f) => f.id === 'tls');
}

describe('tls probe against a real TLS handshake', () => {
  it('a server certificate for 127.0.0.1 issued by the CA: ok', async () => {
    const b = await generateDindCerts({ sans: ['docker', '127.0.0.1'], validityDays: 30 });
    const f = await probe(await listen(b), b.ca.cert, b.client);
    assert.deepEqual(f.map((x) => x.status), ['ok'], JSON.stringify(f));
  });
  it('a server certificate that does not name the host dialled: SAN mismatch, fail', async () => {
    const b = await generateDindCerts({ sans: ['docker'], validityDays: 30 });
    const f = await probe(await listen(b), b.ca.cert, b.client);
    const san = f.find((x) => /does not name 127\.0\.0\.1/.test(x.found));
    assert.equal(san?.status, 'fail', JSON.stringify(f));
    assert.match(san?.found ?? '', /DNS:docker/);
  });
  it('a CA and client certificate from another CA: both named', async () => {
    const b = await generateDindCerts({ sans: ['127.0.0.1'], validityDays: 30 });
    const other = await generateDindCerts({ sans: ['127.0.0.1'], validityDays: 30 });
    const f = await probe(await listen(b), other.ca.cert, b.client);
    assert.ok(f.some((x) => x.status === 'fail' && /client certificate was not issued by ca\.pem/.test(x.found)), JSON.stringify(f));
    assert.ok(f.some((x) => x.status === 'fail' && /server certificate was not issued by ca\.pem/.test(x.found)), JSON.stringify(f));
  });
});
