/**
 * DOCKER_HOST-style URLs, parsed the way the docker CLI parses them (docker/cli opts.ParseHost →
 * parseDockerDaemonHost, checked against CLI 28.2):
 *   - no scheme means tcp (`localhost:2375` → tcp://localhost:2375);
 *   - `unix://` with no path means the default socket;
 *   - `tcp://` with no host means localhost, with no port 2375 (2376 when TLS is on);
 *   - tcp, unix are supported; ssh, npipe and fd exist in the CLI but not in nestling; anything else (http://,
 *     https:// included) is "invalid bind address format", as in the CLI.
 */
import { usageError } from '../util/errors.js';
import type { EngineEndpoint } from './transport.js';

export const DEFAULT_SOCKET = '/var/run/docker.sock';
export const DEFAULT_TCP_PORT = 2375;
export const DEFAULT_TLS_PORT = 2376;

export interface ParseHostOptions {
  /** TLS is on (DOCKER_TLS / DOCKER_TLS_VERIFY, or a context with TLS material): the default port is 2376. */
  tls?: boolean | undefined;
}

/** Parses a DOCKER_HOST-style URL. TLS material is attached by the caller. */
export function parseHostUrl(raw: string, source: string, opts: ParseHostOptions = {}): EngineEndpoint {
  const s = raw.trim();
  if (s === '') throw usageError('E_ENGINE_HOST_EMPTY', `${source} is empty`, { hint: 'unset it, or set it to unix:///var/run/docker.sock' });
  const m = /^([^:/]*):\/\/(.*)$/s.exec(s);
  const scheme = m ? m[1]!.toLowerCase() : 'tcp';
  const rest = m ? m[2]! : s;
  if (scheme === 'unix') {
    const path = rest === '' ? DEFAULT_SOCKET : rest;
    if (!path.startsWith('/')) {
      throw usageError('E_ENGINE_HOST_PATH', `${source}=${s}: the socket path must be absolute`, { hint: 'e.g. unix:///var/run/docker.sock' });
    }
    return { kind: 'unix', socketPath: path, url: `unix://${path}`, source };
  }
  if (scheme === 'tcp') return parseTcp(s, rest, source, opts.tls === true);
  if (scheme === 'ssh' || scheme === 'npipe' || scheme === 'fd') {
    throw usageError('E_ENGINE_HOST_SCHEME', `${source}=${s}: the ${scheme}:// scheme is not supported by nestling`, {
      hint:
        scheme === 'ssh'
          ? 'forward the remote socket (ssh -L /tmp/docker.sock:/var/run/docker.sock host) and use unix:///tmp/docker.sock'
          : 'use unix:///path/to/docker.sock or tcp://host:port',
      details: { value: s, scheme },
    });
  }
  throw usageError('E_ENGINE_HOST_SCHEME', `${source}=${s}: unknown scheme ${scheme}:// (invalid bind address format)`, {
    hint: 'use unix:///path/to/docker.sock or tcp://host:port (the docker CLI accepts no other scheme, http:// included)',
    details: { value: s, scheme },
  });
}

function parseTcp(original: string, rest: string, source: string, tls: boolean): EngineEndpoint {
  // host[:port][/path]; IPv6 in brackets. A path is kept by the CLI in the URL but carries no meaning for the API.
  const hm = /^(\[[^\]\s]*\]|[^:/[\]\s]*)(?::(\d*))?(\/.*)?$/.exec(rest);
  if (!hm) {
    throw usageError('E_ENGINE_HOST_ADDR', `${source}=${original} is not host:port`, { hint: 'e.g. tcp://127.0.0.1:2376', details: { value: original } });
  }
  const rawHost = hm[1] ?? '';
  const host = rawHost === '' || rawHost === '[]' ? 'localhost' : rawHost.replace(/^\[|\]$/g, '');
  const port = hm[2] ? Number(hm[2]) : tls ? DEFAULT_TLS_PORT : DEFAULT_TCP_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError('E_ENGINE_HOST_ADDR', `${source}=${original}: bad port ${hm[2] ?? ''}`, { hint: 'ports are 1-65535', details: { value: original } });
  }
  const shown = host.includes(':') ? `[${host}]` : host;
  return { kind: 'tcp', host, port, url: `tcp://${shown}:${port}`, source };
}
