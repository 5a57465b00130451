/**
 * Certificates for one DinD run: a CA, a server certificate with exactly the run's SANs (serverAuth), a client
 * certificate (clientAuth); ECDSA P-256 by default (RSA-2048/4096 on request); short validity. In memory only:
 * apply.ts writes them into the containers (keys 0600). docker:dind's entrypoint generates three RSA-4096 keys
 * with openssl at every start; this takes a few milliseconds.
 */
import { webcrypto, randomBytes } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
import type * as X509 from '@peculiar/x509';
import type { DindCerts, PemPair } from './certs.js';
import type { TlsPlan } from './types.js';

type Alg = webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;
type SignAlg = webcrypto.Algorithm | webcrypto.EcdsaParams;

function keyAlgorithm(a: TlsPlan['algorithm']): { gen: Alg; sign: SignAlg } {
  switch (a) {
    case 'ecdsa-p256':
      return { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams };
    case 'rsa-2048':
    case 'rsa-4096':
      return {
        gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: a === 'rsa-2048' ? 2048 : 4096, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
        sign: { name: 'RSASSA-PKCS1-v1_5' },
      };
  }
}

function pemKey(pkcs8: ArrayBuffer): string {
  const b64 = Buffer.from(pkcs8).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

function sanNames(sans: readonly string[]): X509.JsonGeneralName[] {
  return sans.map((s) => (/^[\d.]+$|:/.test(s) ? { type: 'ip', value: s } : { type: 'dns', value: s }));
}

const serial = () => `01${randomBytes(15).toString('hex')}`;

/** @peculiar/x509 needs a Reflect polyfill loaded before it (tsyringe); loaded lazily, DinD runs only. */
async function loadX509(): Promise<typeof X509> {
  await import('reflect-metadata');
  return import('@peculiar/x509');
}

/** Loads the certificate library ahead of time (about 0.4 s), while the run does other work. */
export async function warmUpTls(): Promise<void> {
  await loadX509();
}

export async function issueDindCerts(plan: TlsPlan, now: Date = new Date()): Promise<DindCerts> {
  const x509 = await loadX509();
  const crypto = webcrypto;
  // @peculiar/x509 is typed against the DOM's Crypto; node's webcrypto is that object
  const x509Crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1];
  const { gen, sign } = keyAlgorithm(plan.algorithm);
  const usages: webcrypto.KeyUsage[] = ['sign', 'verify'];
  const [caKeys, serverKeys, clientKeys] = (await Promise.all([
    crypto.subtle.generateKey(gen, true, usages),
    crypto.subtle.generateKey(gen, true, usages),
    crypto.subtle.generateKey(gen, true, usages),
  ])) as CryptoKeyPair[];
  const notBefore = new Date(now.getTime() - 5 * 60_000); // clock skew between host and containers
  const notAfter = new Date(now.getTime() + plan.validityDays * 86_400_000);
  const caName = 'CN=nestling dind CA';
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: caName,
      notBefore,
      notAfter,
      keys: caKeys! as never,
      signingAlgorithm: sign,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys!.publicKey as never, false, x509Crypto),
      ],
    },
    x509Crypto,
  );
  const leaf = async (cn: string, keys: CryptoKeyPair, eku: string, extra: X509.Extension[]) =>
    x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: `CN=${cn}`,
        issuer: caName,
        notBefore,
        notAfter,
        publicKey: keys.publicKey as never,
        signingKey: caKeys!.privateKey as never,
        signingAlgorithm: sign,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([eku]),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys!.publicKey as never, false, x509Crypto),
          ...extra,
        ],
      },
      x509Crypto,
    );
  const server = await leaf('docker', serverKeys!, x509.ExtendedKeyUsage.serverAuth, [new x509.SubjectAlternativeNameExtension(sanNames(plan.sans), false)]);
  const client = await leaf('nestling client', clientKeys!, x509.ExtendedKeyUsage.clientAuth, []);
  const pair = async (c: X509.X509Certificate, k: CryptoKeyPair): Promise<PemPair> => ({
    cert: c.toString('pem') + '\n',
    key: pemKey(await crypto.subtle.exportKey('pkcs8', k.privateKey)),
  });
  return { ca: await pair(ca, caKeys!), server: await pair(server, serverKeys!), client: await pair(client, clientKeys!) };
}
