import { X509Certificate } from 'node:crypto';
import { connect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import type { EngineEndpoint } from '../../engine/transport.js';
import { Facts, getFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';
import type { Outcome } from '../../checks/model.js';

const DAY = 24 * 3600 * 1000;

function parseCert(pem: Buffer | undefined, what: string): { cert?: X509Certificate; error?: string } {
  if (!pem) return { error: `no ${what}` };
  try {
    return { cert: new X509Certificate(pem) };
  } catch (e) {
    return { error: `${what} is not a PEM certificate: ${(e as Error).message}` };
  }
}

/** What the server presents: its certificate, and whether our CA accepts it. */
function serverCertificate(ep: EngineEndpoint, signal: AbortSignal, timeoutMs: number): Promise<{ cert?: X509Certificate; authorized: boolean; error?: string }> {
  return new Promise((resolve) => {
    const opts: ConnectionOptions = { host: ep.host ?? 'localhost', port: ep.port ?? 2376, rejectUnauthorized: false };
    if (ep.tls?.ca) opts.ca = ep.tls.ca;
    if (ep.tls?.cert) opts.cert = ep.tls.cert;
    if (ep.tls?.key) opts.key = ep.tls.key;
    if (ep.host && isIP(ep.host) === 0) opts.servername = ep.host;
    const s = connect(opts);
    const onAbort = () => s.destroy(new Error('interrupted'));
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('close', () => signal.removeEventListener('abort', onAbort));
    const timer = setTimeout(() => s.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = s.getPeerCertificate(false) as PeerCertificate | undefined;
      const authorized = s.authorized;
      const error = s.authorizationError ? String(s.authorizationError) : undefined;
      let cert: X509Certificate | undefined;
      try {
        if (peer?.raw) cert = new X509Certificate(peer.raw);
      } catch {
        cert = undefined;
      }
      s.end();
      resolve({ ...(cert ? { cert } : {}), authorized, ...(error ? { error } : {}) });
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      resolve({ authorized: false, error: e.message });
    });
  });
}

export function checkValidity(c: X509Certificate, what: string, now: Date): Outcome | undefined {
  const from = new Date(c.validFrom);
  const to = new Date(c.validTo);
  if (from.getTime() > now.getTime()) return { status: 'fail', found: `${what} is not valid before ${from.toISOString()}`, fix: 'check the clock of both machines, or reissue it' };
  if (to.getTime() <= now.getTime()) return { status: 'fail', found: `${what} expired on ${to.toISOString()}`, why: 'TLS handshakes fail', fix: 'reissue the certificates (nestling certs --dir DIR)' };
  // Short-lived certificates (nestling's DinD certificates live days) warn in the last fifth of their life;
  // long-lived ones in their last 30 days.
  const left = to.getTime() - now.getTime();
  const lifetime = to.getTime() - from.getTime();
  const threshold = Math.min(30 * DAY, Math.max(3600_000, lifetime * 0.2));
  if (left < threshold) {
    const when = left >= DAY ? `${Math.floor(left / DAY)} days` : `${Math.max(1, Math.floor(left / 3600_000))} hours`;
    return { status: 'warn', found: `${what} expires in ${when} (${to.toISOString()})`, fix: 'reissue the certificates before they expire' };
  }
  return undefined;
}

/** TLS material: valid, expiring, issued by the CA, SAN matching the host we dial. */
export const tlsProbe: Probe = {
  id: 'tls',
  group: Groups.access,
  title: 'TLS',
  async run(ctx) {
    const ep = await getFact(ctx.facts, Facts.endpoint);
    if (!ep) return { status: 'unknown', found: 'no endpoint was resolved (see the endpoint probe)' };
    if (ep.kind === 'unix') return { status: 'ok', found: 'unix socket: TLS does not apply' };
    if (!ep.tls) {
      return {
        status: 'warn',
        found: `${ep.url} is plain TCP without TLS`,
        why: 'anyone who can reach that port has root on the engine host; dockerd also delays startup on purpose for such listeners',
        fix: 'use TLS (DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH) or a unix socket',
      };
    }
    const now = ctx.now();
    const problems: Outcome[] = [];
    const ca = parseCert(ep.tls.ca, 'ca.pem');
    const cl = parseCert(ep.tls.cert, 'cert.pem');
    if (ep.tls.verify && ca.error) problems.push({ status: 'fail', found: ca.error, fix: 'put the CA that signed the server certificate in DOCKER_CERT_PATH/ca.pem' });
    if (cl.error) problems.push({ status: 'fail', found: cl.error, fix: 'put the client certificate in DOCKER_CERT_PATH/cert.pem' });
    for (const [c, what] of [[ca.cert, 'the CA certificate'], [cl.cert, 'the client certificate']] as const) {
      if (!c) continue;
      const v = checkValidity(c, what, now);
      if (v) problems.push(v);
    }
    if (ca.cert && cl.cert && !cl.cert.checkIssued(ca.cert)) {
      problems.push({ status: 'fail', found: 'the client certificate was not issued by ca.pem', why: 'a daemon with --tlsverify and this CA rejects the client', fix: 'use the cert.pem issued by the same CA' });
    }
    const srv = await serverCertificate(ep, ctx.signal, ctx.engineTimeoutMs);
    if (!srv.cert) problems.push({ status: 'fail', found: `no server certificate from ${ep.host}:${ep.port}: ${srv.error ?? 'handshake failed'}` });
    else {
      const v = checkValidity(srv.cert, 'the server certificate', now);
      if (v) problems.push(v);
      const host = ep.host ?? '';
      const matches = isIP(host) ? srv.cert.checkIP(host) !== undefined : srv.cert.checkHost(host) !== undefined;
      if (!matches) {
        problems.push({
          status: 'fail',
          found: `the server certificate does not name ${host} (SAN: ${srv.cert.subjectAltName ?? 'none'})`,
          why: 'the client refuses the connection: x509: certificate is valid for other names',
          fix: `dial a name in the SAN, or reissue the server certificate with --san ${host}`,
        });
      }
      if (ep.tls.verify && ca.cert && !srv.cert.checkIssued(ca.cert)) {
        problems.push({ status: 'fail', found: `the server certificate was not issued by ca.pem (${srv.error ?? 'unknown issuer'})`, fix: 'use the ca.pem of the daemon' });
      }
    }
    if (problems.length) return problems;
    return { status: 'ok', found: `server certificate for ${ep.host} valid until ${srv.cert?.validTo ?? '?'}, issued by the CA; client certificate valid until ${cl.cert?.validTo ?? '?'}` };
  },
};
