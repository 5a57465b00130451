/**
 * Certificates for a TLS-protected inner dockerd, in the shape docker:dind uses: a CA, a server certificate whose
 * subjectAltNames are exactly the names given, and a client certificate. ECDSA P-256 by default (milliseconds to
 * make, where docker:dind spends seconds on three RSA-4096 keys), RSA 2048/4096 when asked. Short validity
 * (7 days by default): these certificates live as long as a CI job. Keys come from node's WebCrypto and the
 * certificates are assembled by @peculiar/x509.
 */
import { randomBytes, webcrypto } from 'node:crypto';
// @peculiar/x509 v2 resolves its algorithm providers through tsyringe, which needs a Reflect metadata polyfill
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { usageError } from '../util/errors.js';
import { parseSans, type SanList } from './sans.js';

export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048' | 'rsa-4096';

export interface GenerateCertsOptions {
  /** DNS names and IP addresses the server answers on (docker:dind's DOCKER_TLS_SAN, e.g. `docker`, `127.0.0.1`). */
  sans: readonly string[];
  /** RSA instead of ECDSA P-256. */
  rsa?: boolean | undefined;
  /** RSA modulus length (with rsa); 2048 by default. */
  rsaBits?: 2048 | 4096 | undefined;
  /** Days from `now` until every certificate expires; 7 by default, at most 825. */
  validityDays?: number | undefined;
  now?: Date | undefined;
  /** Clock skew tolerated between the machine that made the certificates and the ones that check them. */
  backdateMinutes?: number | undefined;
}

export interface KeyPairPem {
  /** PEM certificate */
  cert: string;
  /** PEM private key (PKCS#8) */
  key: string;
}

export interface CertBundle {
  algorithm: KeyAlgorithm;
  ca: KeyPairPem;
  server: KeyPairPem;
  client: KeyPairPem;
  sans: SanList;
  notBefore: Date;
  notAfter: Date;
}

export const DEFAULT_VALIDITY_DAYS = 7;
export const MAX_VALIDITY_DAYS = 825;

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;
const subtle = webcrypto.subtle;
// @peculiar/x509 takes a DOM Crypto; node's webcrypto is one (this project has no DOM lib to name the type)
const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1];

function keyParams(alg: KeyAlgorithm): { gen: webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams; sign: Algorithm | EcdsaParams } {
  switch (alg) {
    case 'ecdsa-p256':
      return { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams };
    case 'rsa-2048':
    case 'rsa-4096':
      return {
        gen: {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: alg === 'rsa-2048' ? 2048 : 4096,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        sign: { name: 'RSASSA-PKCS1-v1_5' },
      };
  }
}

async function newKeys(alg: KeyAlgorithm): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(keyParams(alg).gen, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A positive 128-bit serial number (RFC 5280: at most 20 octets, positive). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

export function resolveAlgorithm(opts: Pick<GenerateCertsOptions, 'rsa' | 'rsaBits'>): KeyAlgorithm {
  if (!opts.rsa) {
    if (opts.rsaBits !== undefined) throw usageError('E_TLS_BAD_OPTION', 'rsaBits needs rsa', { hint: 'pass --rsa with the bit count' });
    return 'ecdsa-p256';
  }
  const bits = opts.rsaBits ?? 2048;
  if (bits !== 2048 && bits !== 4096) {
    throw usageError('E_TLS_BAD_OPTION', `RSA keys of ${String(bits)} bits are not offered`, { hint: 'choose 2048 or 4096' });
  }
  return bits === 2048 ? 'rsa-2048' : 'rsa-4096';
}

export async function generateDindCerts(opts: GenerateCertsOptions): Promise<CertBundle> {
  const sans = parseSans(opts.sans);
  const algorithm = resolveAlgorithm(opts);
  const days = opts.validityDays ?? DEFAULT_VALIDITY_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw usageError('E_TLS_BAD_VALIDITY', `validity of ${String(days)} days is out of range`, {
      hint: `give a whole number of days from 1 to ${MAX_VALIDITY_DAYS} (the default, ${DEFAULT_VALIDITY_DAYS}, suits a CI job)`,
    });
  }
  const now = opts.now ?? new Date();
  // whole seconds: X.509 times carry no fractions, and callers compare what they asked for with what they got
  const base = Math.floor(now.getTime() / 1000) * 1000;
  const notBefore = new Date(base - (opts.backdateMinutes ?? 5) * 60_000);
  const notAfter = new Date(base + days * 86_400_000);
  const { sign } = keyParams(algorithm);
  const rsa = algorithm !== 'ecdsa-p256';

  const [caKeys, serverKeys, clientKeys] = await Promise.all([newKeys(algorithm), newKeys(algorithm), newKeys(algorithm)]);
  const caName = `CN=nestling dind CA ${serial().slice(0, 8)}`;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: caName,
      notBefore,
      notAfter,
      keys: caKeys,
      signingAlgorithm: sign,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const aki = await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto);
  const leafUsage = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
  const issue = async (keys: CryptoKeyPair, subject: string, extensions: x509.Extension[]) =>
    x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject,
        issuer: caCert.subject,
        notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        signingAlgorithm: sign,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(leafUsage, true),
          ...extensions,
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
          aki,
        ],
      },
      crypto,
    );
  const serverCert = await issue(serverKeys, `CN=${sans.dns[0] ?? sans.ips[0] ?? 'docker'}`, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([
      ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
      ...sans.ips.map((value) => ({ type: 'ip' as const, value })),
    ]),
  ]);
  const clientCert = await issue(clientKeys, 'CN=nestling dind client', [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])]);

  const [caKey, serverKey, clientKey] = await Promise.all([keyPem(caKeys.privateKey), keyPem(serverKeys.privateKey), keyPem(clientKeys.privateKey)]);
  return {
    algorithm,
    ca: { cert: caCert.toString('pem'), key: caKey },
    server: { cert: serverCert.toString('pem'), key: serverKey },
    client: { cert: clientCert.toString('pem'), key: clientKey },
    sans,
    notBefore,
    notAfter,
  };
}
