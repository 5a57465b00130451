import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDindCerts, type CertBundle } from './generate.js';
import { isNestlingError } from '../util/errors.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function openssl(args: string[], files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nst-tls-'));
  try {
    for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c);
    return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function check(b: CertBundle, keyType: 'ec' | 'rsa', bits?: number) {
  const ca = new X509Certificate(b.ca.cert);
  const server = new X509Certificate(b.server.cert);
  const client = new X509Certificate(b.client.cert);
  assert.equal(ca.ca, true);
  assert.equal(server.ca, false);
  assert.equal(client.ca, false);
  assert.ok(ca.verify(ca.publicKey), 'CA self-signed');
  assert.ok(server.verify(ca.publicKey) && server.checkIssued(ca), 'server issued by CA');
  assert.ok(client.verify(ca.publicKey) && client.checkIssued(ca), 'client issued by CA');
  assert.deepEqual(server.keyUsage, [SERVER_AUTH]);
  assert.deepEqual(client.keyUsage, [CLIENT_AUTH]);
  for (const [pair, cert] of [[b.ca, ca], [b.server, server], [b.client, client]] as const) {
    const key = createPrivateKey(pair.key);
    assert.equal(key.asymmetricKeyType, keyType);
    if (bits) assert.equal(key.asymmetricKeyDetails?.modulusLength, bits);
    else assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(cert.checkPrivateKey(key), 'key matches certificate');
    assert.ok(createPublicKey(key).export({ format: 'der', type: 'spki' }).equals(cert.publicKey.export({ format: 'der', type: 'spki' })));
  }
  // three distinct keys
  assert.equal(new Set([b.ca.key, b.server.key, b.client.key]).size, 3);
  // the independent oracle: openssl's own chain and purpose checks
  const files = { 'ca.pem': b.ca.cert, 'server.pem': b.server.cert, 'client.pem': b.client.cert };
  assert.match(openssl(['verify', '-CAfile', 'ca.pem', '-purpose', 'sslserver', 'server.pem'], files), /server\.pem: OK/);
  assert.match(openssl(['verify', '-CAfile', 'ca.pem', '-purpose', 'sslclient', 'client.pem'], files), /client\.pem: OK/);
  assert.throws(() => openssl(['verify', '-CAfile', 'ca.pem', '-purpose', 'sslclient', 'server.pem'], files), 'server cert is not a client cert');
  assert.throws(() => openssl(['verify', '-CAfile', 'ca.pem', '-purpose', 'sslserver', 'client.pem'], files), 'client cert is not a server cert');
  const text = openssl(['x509', '-noout', '-text', '-in', 'ca.pem'], files);
  assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
  assert.match(text, /Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
}

test('ECDSA P-256 by default: CA, server (serverAuth, exact SANs), client (clientAuth), chain verifies', async () => {
  const b = await generateDindCerts({ sans: ['docker', 'dind.example.test', '127.0.0.1', '::1'] });
  assert.equal(b.algorithm, 'ecdsa-p256');
  check(b, 'ec');
  const server = new X509Certificate(b.server.cert);
  assert.equal(server.subjectAltName, 'DNS:docker, DNS:dind.example.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.ok(server.checkHost('docker'));
  assert.ok(server.checkHost('dind.example.test'));
  assert.equal(server.checkHost('other.example.test'), undefined);
  assert.ok(server.checkIP('127.0.0.1'));
  assert.equal(server.checkIP('127.0.0.2'), undefined);
  assert.equal(new X509Certificate(b.client.cert).subjectAltName, undefined);
  const text = openssl(['x509', '-noout', '-text', '-in', 's.pem'], { 's.pem': b.server.cert });
  assert.match(text, /ecdsa-with-SHA256/);
  assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
});

test('RSA 2048 and 4096 when asked', async () => {
  check(await generateDindCerts({ sans: ['docker'], rsa: true }), 'rsa', 2048);
  const b4 = await generateDindCerts({ sans: ['docker'], rsa: true, rsaBits: 4096 });
  assert.equal(b4.algorithm, 'rsa-4096');
  check(b4, 'rsa', 4096);
  const text = openssl(['x509', '-noout', '-text', '-in', 's.pem'], { 's.pem': b4.server.cert });
  assert.match(text, /sha256WithRSAEncryption/);
  assert.match(text, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
});

test('validity: short by default, from now (backdated for clock skew) to now + days', async () => {
  const now = new Date('2030-01-02T03:04:05.678Z');
  const b = await generateDindCerts({ sans: ['docker'], now });
  const s = new X509Certificate(b.server.cert);
  assert.equal(new Date(s.validFrom).toISOString(), '2030-01-02T02:59:05.000Z');
  assert.equal(new Date(s.validTo).toISOString(), '2030-01-09T03:04:05.000Z');
  for (const pem of [b.ca.cert, b.client.cert]) assert.equal(new X509Certificate(pem).validTo, s.validTo);
  const b30 = await generateDindCerts({ sans: ['docker'], now, validityDays: 30, backdateMinutes: 0 });
  const s30 = new X509Certificate(b30.server.cert);
  assert.equal(new Date(s30.validFrom).toISOString(), '2030-01-02T03:04:05.000Z');
  assert.equal(new Date(s30.validTo).toISOString(), '2030-02-01T03:04:05.000Z');
  // expired certificates are refused by the oracle
  const old = await generateDindCerts({ sans: ['docker'], now: new Date('2001-01-01T00:00:00Z'), validityDays: 1 });
  assert.throws(() => openssl(['verify', '-CAfile', 'ca.pem', 's.pem'], { 'ca.pem': old.ca.cert, 's.pem': old.server.cert }));
});

test('a certificate from another CA does not verify', async () => {
  const a = await generateDindCerts({ sans: ['docker'] });
  const b = await generateDindCerts({ sans: ['docker'] });
  assert.equal(new X509Certificate(a.server.cert).verify(new X509Certificate(b.ca.cert).publicKey), false);
  assert.throws(() => openssl(['verify', '-CAfile', 'ca.pem', 's.pem'], { 'ca.pem': b.ca.cert, 's.pem': a.server.cert }));
  assert.notEqual(new X509Certificate(a.ca.cert).serialNumber, new X509Certificate(b.ca.cert).serialNumber);
});

test('bad options are usage errors', async () => {
  for (const [opts, code] of [
    [{ sans: [] }, 'E_TLS_NO_SAN'],
    [{ sans: ['bad name'] }, 'E_TLS_BAD_SAN'],
    [{ sans: ['docker'], validityDays: 0 }, 'E_TLS_BAD_VALIDITY'],
    [{ sans: ['docker'], validityDays: 1.5 }, 'E_TLS_BAD_VALIDITY'],
    [{ sans: ['docker'], validityDays: 10_000 }, 'E_TLS_BAD_VALIDITY'],
    [{ sans: ['docker'], rsa: true, rsaBits: 1024 }, 'E_TLS_BAD_OPTION'],
    [{ sans: ['docker'], rsaBits: 4096 }, 'E_TLS_BAD_OPTION'],
  ] as const) {
    await assert.rejects(
      generateDindCerts(opts as Parameters<typeof generateDindCerts>[0]),
      (e: unknown) => isNestlingError(e) && e.code === code && e.exitCode === 2,
      JSON.stringify(opts),
    );
  }
});
