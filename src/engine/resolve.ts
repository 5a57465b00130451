/**
 * Endpoint resolution as the docker CLI does it (docker/cli cli/command/cli.go resolveContextName and
 * resolveDefaultDockerEndpoint; each rule below was checked against CLI 28.2, see docs/engine.md):
 *
 *   1. --host and --context together: an error ("conflicting options").
 *   2. --context <name>: that context, even when DOCKER_HOST is set.
 *   3. --host, else DOCKER_HOST: the "default" context with that host. DOCKER_HOST silently wins over DOCKER_CONTEXT
 *      and config.json's currentContext (the CLI only warns in `docker context use/ls`; we record a candidate).
 *   4. DOCKER_CONTEXT, else `currentContext` in <DOCKER_CONFIG or ~/.docker>/config.json.
 *   5. unix:///var/run/docker.sock.
 * For the default context, DOCKER_TLS_VERIFY / DOCKER_TLS (any non-empty value, "0" included) turn TLS on; the
 * material is read from DOCKER_CERT_PATH, else the config dir (DOCKER_CONFIG or ~/.docker): ca.pem must exist,
 * cert.pem and key.pem are used when present. With TLS on and no host, the host is tcp://localhost:2376.
 *
 * Every candidate records why it did or did not apply, so `nestling doctor` can show the whole chain.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configError, usageError } from '../util/errors.js';
import type { Env } from '../util/env.js';
import type { EngineEndpoint, TlsMaterial } from './transport.js';
import { DEFAULT_SOCKET, DEFAULT_TLS_PORT, parseHostUrl } from './host-url.js';
import { DEFAULT_CONTEXT, configCurrentContext, dockerConfigDir, readContextEndpoint, resolveContextEndpoint } from './contexts.js';

export { DEFAULT_SOCKET, parseHostUrl } from './host-url.js';

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
  /** The context in effect ("default" when --host, DOCKER_HOST or the default socket decided). */
  context?: string | undefined;
  /** Things the user may not expect, e.g. DOCKER_HOST overriding DOCKER_CONTEXT. The library never prints them. */
  warnings?: string[] | undefined;
}

function readCert(path: string, source: string, required: boolean): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return undefined;
    throw configError('E_ENGINE_TLS_FILE', `cannot read ${path} (${code ?? 'error'}) for ${source}`, {
      hint:
        code === 'ENOENT'
          ? 'set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem, or unset DOCKER_TLS_VERIFY / DOCKER_TLS'
          : `check the permissions of ${path}`,
      cause: e,
      details: { path, errno: code },
    });
  }
}

/** Whether DOCKER_TLS_VERIFY or DOCKER_TLS turn TLS on (the CLI tests for a non-empty value only). */
export function tlsEnabled(env: Env): boolean {
  return Boolean(env.DOCKER_TLS_VERIFY) || Boolean(env.DOCKER_TLS);
}

/** DOCKER_TLS_VERIFY / DOCKER_TLS / DOCKER_CERT_PATH as the CLI reads them; undefined when TLS is off. */
export function tlsFromEnv(env: Env, home: string, source: string): TlsMaterial | undefined {
  if (!tlsEnabled(env)) return undefined;
  const dir = env.DOCKER_CERT_PATH || dockerConfigDir(env, home);
  return {
    verify: Boolean(env.DOCKER_TLS_VERIFY),
    ca: readCert(join(dir, 'ca.pem'), source, true),
    cert: readCert(join(dir, 'cert.pem'), source, false),
    key: readCert(join(dir, 'key.pem'), source, false),
  };
}

/** A hook for the context step (tests, or a caller with its own store). Defaults to the CLI's store on disk. */
export type ContextResolver = (input: ResolveInput) => { endpoint?: EngineEndpoint; candidate: Candidate };

function defaultEndpoint(host: string | undefined, source: string, input: ResolveInput): EngineEndpoint {
  const tls = tlsFromEnv(input.env, input.home, source);
  if (host === undefined) {
    if (tls) {
      const ep = parseHostUrl(`tcp://localhost:${DEFAULT_TLS_PORT}`, 'DOCKER_TLS_VERIFY');
      ep.tls = tls;
      return ep;
    }
    return { kind: 'unix', socketPath: DEFAULT_SOCKET, url: `unix://${DEFAULT_SOCKET}`, source: 'default socket' };
  }
  const ep = parseHostUrl(host, source, { tls: tls !== undefined });
  if (ep.kind === 'tcp' && tls) ep.tls = tls;
  return ep;
}

export function resolveEndpoint(input: ResolveInput, resolveContext?: ContextResolver): Resolution {
  const candidates: Candidate[] = [];
  const warnings: string[] = [];
  const dh = input.env.DOCKER_HOST || undefined;
  if (input.host && input.context) {
    throw usageError('E_ENGINE_HOST_CONTEXT_CONFLICT', 'conflicting options: cannot specify both --host and --context', {
      hint: 'give one of them (as the docker CLI requires)',
    });
  }

  // Which context? (resolveContextName)
  let name: string | undefined;
  let from: string;
  if (input.context) {
    name = input.context;
    from = '--context';
    candidates.push({ source: '--context', applied: true, reason: `--context ${input.context}` });
    if (dh && input.context !== DEFAULT_CONTEXT) {
      candidates.push({ source: 'DOCKER_HOST', applied: false, reason: `DOCKER_HOST=${dh} ignored: --context wins` });
    }
  } else {
    candidates.push({ source: '--context', applied: false, reason: 'not given' });
    if (input.host || dh) {
      name = DEFAULT_CONTEXT;
      from = input.host ? '--host' : 'DOCKER_HOST';
      const overridden = input.env.DOCKER_CONTEXT ? `DOCKER_CONTEXT=${input.env.DOCKER_CONTEXT}` : undefined;
      if (overridden && overridden !== `DOCKER_CONTEXT=${DEFAULT_CONTEXT}`) {
        warnings.push(`${from} overrides ${overridden}`);
        candidates.push({ source: 'DOCKER_CONTEXT', applied: false, reason: `${overridden} ignored: ${from} wins` });
      }
    } else if (input.env.DOCKER_CONTEXT) {
      name = input.env.DOCKER_CONTEXT;
      from = 'DOCKER_CONTEXT';
      candidates.push({ source: 'DOCKER_CONTEXT', applied: true, reason: `DOCKER_CONTEXT=${name}` });
    } else {
      const cfg = configCurrentContext(input.env, input.home);
      name = cfg.name ?? DEFAULT_CONTEXT;
      from = cfg.name ? cfg.path : 'none';
      candidates.push({
        source: 'config currentContext',
        applied: cfg.name !== undefined,
        reason: cfg.name ? `currentContext "${cfg.name}" in ${cfg.path}` : `no currentContext (${cfg.path})`,
      });
    }
  }

  if (name !== DEFAULT_CONTEXT) {
    // The built-in store is read here directly (so messages say where the name came from); a custom hook gets the name.
    if (resolveContext && resolveContext !== resolveContextEndpoint) {
      const r = resolveContext({ ...input, context: name });
      candidates.push(r.candidate);
      if (r.endpoint) return { endpoint: r.endpoint, candidates, context: name, warnings };
    } else {
      const r = readContextEndpoint(name, from, input.env, input.home);
      candidates.push({ source: 'context', applied: true, reason: `context "${name}" (${from}): ${r.endpoint.url}` });
      return { endpoint: r.endpoint, candidates, context: name, warnings };
    }
  }

  // The default context: --host > DOCKER_HOST > default socket (or tcp://localhost:2376 with TLS on).
  if (input.host) {
    candidates.push({ source: '--host', applied: true, reason: `--host ${input.host}` });
    return { endpoint: defaultEndpoint(input.host, '--host', input), candidates, context: DEFAULT_CONTEXT, warnings };
  }
  candidates.push({ source: '--host', applied: false, reason: 'not given' });
  if (dh && !input.context) {
    candidates.push({ source: 'DOCKER_HOST', applied: true, reason: `DOCKER_HOST=${dh}` });
    return { endpoint: defaultEndpoint(dh, 'DOCKER_HOST', input), candidates, context: DEFAULT_CONTEXT, warnings };
  }
  if (dh && input.context === DEFAULT_CONTEXT) {
    // `--context default` is the default context, whose host comes from DOCKER_HOST.
    candidates.push({ source: 'DOCKER_HOST', applied: true, reason: `DOCKER_HOST=${dh} (context default)` });
    return { endpoint: defaultEndpoint(dh, 'DOCKER_HOST', input), candidates, context: DEFAULT_CONTEXT, warnings };
  }
  if (!dh) candidates.push({ source: 'DOCKER_HOST', applied: false, reason: 'not set' });
  const ep = defaultEndpoint(undefined, 'default socket', input);
  candidates.push({ source: ep.source, applied: true, reason: ep.url });
  return { endpoint: ep, candidates, context: DEFAULT_CONTEXT, warnings };
}
