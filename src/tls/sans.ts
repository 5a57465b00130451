/**
 * subjectAltNames for the server certificate: exactly what the caller names, DNS names and IP addresses, checked
 * and normalised. Accepted forms: `docker`, `dind.job-1.internal`, `*.example.test`, `10.0.0.2`, `::1`, and
 * docker:dind's prefixed `DNS:name` / `IP:addr`.
 */
import { isIP } from 'node:net';
import { usageError } from '../util/errors.js';

export interface SanList {
  dns: string[];
  ips: string[];
}

// a label: letters, digits, hyphen, underscore (Docker container and compose service names have underscores;
// Go's crypto/x509 accepts them), not starting or ending with a hyphen
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

function badSan(value: string, why: string) {
  return usageError('E_TLS_BAD_SAN', `invalid subjectAltName ${JSON.stringify(value)}: ${why}`, {
    hint: 'give a DNS name (docker, dind.example.test) or an IP address (127.0.0.1, ::1), one per --san',
  });
}

export function parseSan(input: string): { type: 'dns' | 'ip'; value: string } {
  let v = input.trim();
  let forced: 'dns' | 'ip' | undefined;
  const m = /^(dns|ip):(.*)$/i.exec(v);
  if (m) {
    forced = m[1]!.toLowerCase() as 'dns' | 'ip';
    v = m[2]!.trim();
  }
  if (!v) throw badSan(input, 'empty');
  if (v.startsWith('[') && v.endsWith(']')) throw badSan(input, 'write an IPv6 address without brackets');
  if (v.includes('%')) throw badSan(input, 'no zone ids: a certificate holds the bare address');
  const ipVersion = isIP(v);
  if (ipVersion) {
    if (forced === 'dns') throw badSan(input, 'an IP address given as DNS:');
    // canonical text form (lower case, compressed IPv6)
    return { type: 'ip', value: ipVersion === 6 ? new URL(`http://[${v}]/`).hostname.slice(1, -1) : v };
  }
  if (forced === 'ip') throw badSan(input, 'not an IP address');
  if (/[/:@\s]/.test(v)) throw badSan(input, 'a name only: no scheme, port, path or spaces');
  const name = v.toLowerCase().replace(/\.$/, '');
  if (name.length > 253) throw badSan(input, 'longer than 253 characters');
  const labels = name.split('.');
  labels.forEach((l, i) => {
    if (l === '*' && i === 0 && labels.length > 2) return;
    if (!LABEL.test(l)) throw badSan(input, l === '' ? 'empty label' : `bad label ${JSON.stringify(l)}`);
  });
  if (/^\d+$/.test(labels.at(-1)!)) throw badSan(input, 'looks like an incomplete IP address');
  return { type: 'dns', value: name };
}

/** Parses, de-duplicates and keeps order; at least one name is required. */
export function parseSans(inputs: readonly string[]): SanList {
  const out: SanList = { dns: [], ips: [] };
  for (const input of inputs) {
    const s = parseSan(input);
    const list = s.type === 'dns' ? out.dns : out.ips;
    if (!list.includes(s.value)) list.push(s.value);
  }
  if (out.dns.length + out.ips.length === 0) {
    throw usageError('E_TLS_NO_SAN', 'the server certificate needs at least one subjectAltName', {
      hint: 'name the daemon as clients reach it, e.g. --san docker --san 127.0.0.1',
    });
  }
  return out;
}
