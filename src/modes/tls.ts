/**
 * Certificates for one DinD run, from src/tls (generateDindCerts: a CA, a server certificate with exactly the
 * run's SANs and serverAuth, a client certificate with clientAuth; ECDSA P-256 by default, RSA on request; short
 * validity). In memory only: apply.ts writes them into the containers (keys 0600). docker:dind's entrypoint makes
 * three RSA-4096 keys with openssl at every start instead.
 */
import type { DindCerts } from './certs.js';
import type { TlsPlan } from './types.js';

/** The certificate library (@peculiar/x509 behind src/tls) takes ~0.4 s to load: loaded lazily, DinD runs only. */
export async function warmUpTls(): Promise<void> {
  await import('../tls/generate.js');
}

export async function issueDindCerts(plan: TlsPlan, now?: Date): Promise<DindCerts> {
  const { generateDindCerts } = await import('../tls/generate.js');
  const rsa = plan.algorithm !== 'ecdsa-p256';
  const b = await generateDindCerts({
    sans: plan.sans,
    rsa,
    ...(rsa ? { rsaBits: plan.algorithm === 'rsa-4096' ? (4096 as const) : (2048 as const) } : {}),
    validityDays: plan.validityDays,
    ...(now ? { now } : {}),
  });
  return { ca: b.ca, server: b.server, client: b.client };
}
