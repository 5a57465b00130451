/**
 * Endpoint resolution as the docker CLI does it:
 *   --host  >  DOCKER_HOST (+ DOCKER_TLS_VERIFY / DOCKER_CERT_PATH or ~/.docker)  >  DOCKER_CONTEXT or the current
 *   context in ~/.docker/config.json  >  unix:///var/run/docker.sock
 * Every candidate records why it did or did not apply, so `nestling doctor` can show the whole chain.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configError, usageError } from '../util/errors.js';
import type { Env } from '../util/env.js';
import type { EngineEndpoint, TlsMaterial } from './transport.js';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

export interface ResolveInput {
  /** --host flag */
  host?: string | undefined;
  /** --context flag */
  context?: string | undefined;
  env: Env;
  home: string;
}

export interface Candidate {
  source: string;
  applied: boolean;
  reason: string;
}

export interface Resolution {
  endpoint: EngineEndpoint;
  candidates: Candidate[];
}

/** Parses a DOCKER_HOST-style URL. TLS material is attached by the caller. */
export function parseHostUrl(raw: string, source: string): EngineEndpoint {
  const s = raw.trim();
  if (s === '') throw usageError('E_ENGINE_HOST_EMPTY', `${source} is empty`, { hint: 'unset it, or set it to unix:///var/run/docker.sock' });
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(s);
  if (!m) {
    throw usageError('E_ENGINE_HOST_SCHEME', `${source}=${s} has no scheme`, {
      hint: 'use unix:///path/to/docker.sock or tcp://host:port',
    });
  }
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'unix') {
    if (!rest.startsWith('/')) throw usageError('E_ENGINE_HOST_PATH', `${source}=${s}: the socket path must be absolute`, { hint: 'e.g. unix:///var/run/docker.sock' });
    return { kind: 'unix', socketPath: rest, url: `unix://${rest}`, source };
  }
  if (scheme === 'tcp' || scheme === 'http' || scheme === 'https') {
    const hm = /^(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(rest);
    if (!hm) throw usageError('E_ENGINE_HOST_ADDR', `${source}=${s} is not host:port`, { hint: 'e.g. tcp://127.0.0.1:2376' });
    const host = hm[1]!.replace(/^\[|\]$/g, '');
    const port = hm[2] ? Number(hm[2]) : scheme === 'http' ? 2375 : 2376;
    if (!(port > 0 && port < 65536)) throw usageError('E_ENGINE_HOST_ADDR', `${source}=${s}: bad port`, { hint: 'ports are 1-65535' });
    return { kind: 'tcp', host, port, url: `tcp://${hm[1]}:${port}`, source };
  }
  if (scheme === 'ssh' || scheme === 'npipe' || scheme === 'fd') {
    throw usageError('E_ENGINE_HOST_SCHEME', `${source}=${s}: the ${scheme}:// scheme is not supported by nestling`, {
      hint: scheme === 'ssh' ? 'forward the remote socket (ssh -L /tmp/docker.sock:/var/run/docker.sock host) and use unix:///tmp/docker.sock' : 'use unix:// or tcp://',
    });
  }
  throw usageError('E_ENGINE_HOST_SCHEME', `${source}=${s}: unknown scheme ${scheme}://`, { hint: 'use unix:///path/to/docker.sock or tcp://host:port' });
}

function readCert(dir: string, file: string, source: string): Buffer {
  const p = join(dir, file);
  try {
    return readFileSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw configError('E_ENGINE_TLS_FILE', `cannot read ${p} (${code ?? 'error'}) for ${source}`, {
      hint: code === 'ENOENT' ? 'set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem' : `check the permissions of ${p}`,
      cause: e,
      details: { path: p },
    });
  }
}

/** DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as the CLI reads them (DOCKER_TLS too). */
export function tlsFromEnv(env: Env, home: string, source: string): TlsMaterial | undefined {
  const verify = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '';
  const tls = verify || (env.DOCKER_TLS !== undefined && env.DOCKER_TLS !== '');
  if (!tls) return undefined;
  const dir = env.DOCKER_CERT_PATH || join(home, '.docker');
  return {
    verify,
    ca: verify ? readCert(dir, 'ca.pem', source) : undefined,
    cert: readCert(dir, 'cert.pem', source),
    key: readCert(dir, 'key.pem', source),
  };
}

/** Context resolution is filled in by contexts.ts; this indirection keeps resolve.ts small. */
export type ContextResolver = (input: ResolveInput) => { endpoint?: EngineEndpoint; candidate: Candidate };

export function resolveEndpoint(input: ResolveInput, resolveContext?: ContextResolver): Resolution {
  const candidates: Candidate[] = [];
  if (input.host) {
    const ep = parseHostUrl(input.host, '--host');
    if (ep.kind === 'tcp') ep.tls = tlsFromEnv(input.env, input.home, '--host');
    candidates.push({ source: '--host', applied: true, reason: `--host ${input.host}` });
    return { endpoint: ep, candidates };
  }
  candidates.push({ source: '--host', applied: false, reason: 'not given' });
  const dh = input.env.DOCKER_HOST;
  if (dh !== undefined && dh !== '') {
    const ep = parseHostUrl(dh, 'DOCKER_HOST');
    if (ep.kind === 'tcp') ep.tls = tlsFromEnv(input.env, input.home, 'DOCKER_HOST');
    candidates.push({ source: 'DOCKER_HOST', applied: true, reason: `DOCKER_HOST=${dh}` });
    return { endpoint: ep, candidates };
  }
  candidates.push({ source: 'DOCKER_HOST', applied: false, reason: 'not set' });
  if (resolveContext) {
    const r = resolveContext(input);
    candidates.push(r.candidate);
    if (r.endpoint) return { endpoint: r.endpoint, candidates };
  }
  candidates.push({ source: 'default socket', applied: true, reason: `unix://${DEFAULT_SOCKET}` });
  return { endpoint: { kind: 'unix', socketPath: DEFAULT_SOCKET, url: `unix://${DEFAULT_SOCKET}`, source: 'default socket' }, candidates };
}
