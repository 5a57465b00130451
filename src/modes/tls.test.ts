import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { issueDindCerts } from './tls.js';

describe('DinD certificates (the run\'s adapter over src/tls)', () => {
  it('issues an ECDSA P-256 CA, server (exact SANs, serverAuth) and client (clientAuth), short validity', async () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const c = await issueDindCerts({ algorithm: 'ecdsa-p256', sans: ['docker', '127.0.0.1', 'nestling-x-dockerd'], validityDays: 7 }, now);
    const ca = new X509Certificate(c.ca.cert);
    const server = new X509Certificate(c.server.cert);
    const client = new X509Certificate(c.client.cert);
    assert.ok(ca.ca);
    assert.ok(server.verify(ca.publicKey));
    assert.ok(client.verify(ca.publicKey));
    assert.deepEqual(server.subjectAltName?.split(', ').sort(), ['DNS:docker', 'DNS:nestling-x-dockerd', 'IP Address:127.0.0.1']);
    assert.ok(server.checkHost('docker'));
    assert.ok(server.checkIP('127.0.0.1'));
    assert.equal(server.checkHost('evil.example'), undefined);
    assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(createPrivateKey(c.server.key).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(new Date(server.validTo).getTime() - now.getTime(), 7 * 86_400_000);
  });
  it('issues RSA on request', async () => {
    const c = await issueDindCerts({ algorithm: 'rsa-2048', sans: ['docker'], validityDays: 1 });
    assert.equal(createPrivateKey(c.client.key).asymmetricKeyType, 'rsa');
  });
});
