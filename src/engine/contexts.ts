/**
 * Docker CLI contexts: `currentContext` in <DOCKER_CONFIG or ~/.docker>/config.json, DOCKER_CONTEXT, --context,
 * and the store under <config dir>/contexts/meta/<sha256(name)>/meta.json with its TLS material in
 * <config dir>/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem — the layout `docker context create` writes.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { configError } from '../util/errors.js';
import type { Env } from '../util/env.js';
import { parseHostUrl, DEFAULT_SOCKET } from './host-url.js';
import type { ContextResolver, ResolveInput } from './resolve.js';
import type { EngineEndpoint, TlsMaterial } from './transport.js';

/** The name of the context that means "the endpoint from --host / DOCKER_HOST / the default socket". */
export const DEFAULT_CONTEXT = 'default';

export function dockerConfigDir(env: Env, home: string): string {
  return env.DOCKER_CONFIG || join(home, '.docker');
}

/** The directory name the CLI uses for a context: the hex sha256 of its name. */
export function contextId(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readJson(path: string, what: string, code: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    throw configError(code, `cannot read ${what} ${path} (${errno ?? 'error'})`, {
      hint: errno === 'EACCES' ? `check the permissions of ${path}` : `fix or remove ${path}`,
      cause: e,
      details: { path, errno },
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw configError(code, `${what} ${path} is not valid JSON: ${(e as Error).message}`, {
      hint: `fix or remove ${path}`,
      cause: e,
      details: { path },
    });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The `currentContext` of config.json, or undefined when there is none. A malformed config.json is an error here,
 * where the docker CLI only warns and falls back to the default socket: nestling fails closed rather than talk to an
 * engine the user did not choose.
 */
export function configCurrentContext(env: Env, home: string): { name: string | undefined; path: string } {
  const path = join(dockerConfigDir(env, home), 'config.json');
  if (!exists(path)) return { name: undefined, path };
  const j = readJson(path, 'docker config', 'E_ENGINE_CONFIG_INVALID');
  if (!isObject(j)) {
    throw configError('E_ENGINE_CONFIG_INVALID', `docker config ${path} is not a JSON object`, { hint: `fix or remove ${path}`, details: { path } });
  }
  const cur = j.currentContext;
  if (cur !== undefined && cur !== null && typeof cur !== 'string') {
    throw configError('E_ENGINE_CONFIG_INVALID', `docker config ${path}: currentContext is not a string`, { hint: `fix or remove ${path}`, details: { path } });
  }
  return { name: cur || undefined, path };
}

/** Kept for callers of the first cut: the context name from a flag, DOCKER_CONTEXT or config.json. */
export function currentContextName(env: Env, home: string, flag?: string): { name: string | undefined; from: string } {
  if (flag) return { name: flag, from: '--context' };
  if (env.DOCKER_CONTEXT) return { name: env.DOCKER_CONTEXT, from: 'DOCKER_CONTEXT' };
  const c = configCurrentContext(env, home);
  return c.name ? { name: c.name, from: c.path } : { name: undefined, from: 'none' };
}

export interface ContextEndpoint {
  endpoint: EngineEndpoint;
  metaPath: string;
  tlsDir: string;
}

function readTlsFile(path: string, context: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return undefined;
    throw configError('E_ENGINE_TLS_FILE', `cannot read ${path} (${errno ?? 'error'}) for context "${context}"`, {
      hint: `check the permissions of ${path}`,
      cause: e,
      details: { path, errno },
    });
  }
}

/** Reads one named context from the store; `from` says where the name came from (for messages). */
export function readContextEndpoint(name: string, from: string, env: Env, home: string): ContextEndpoint {
  const dir = dockerConfigDir(env, home);
  const id = contextId(name);
  const metaPath = join(dir, 'contexts', 'meta', id, 'meta.json');
  const tlsDir = join(dir, 'contexts', 'tls', id, 'docker');
  if (!exists(metaPath)) {
    throw configError('E_ENGINE_CONTEXT_MISSING', `docker context "${name}" (from ${from}) does not exist`, {
      hint:
        from === 'DOCKER_CONTEXT'
          ? '`docker context ls` lists the contexts; unset DOCKER_CONTEXT or create the context'
          : '`docker context ls` lists the contexts; `docker context use default` goes back to the default socket',
      details: { context: name, from, metaPath },
    });
  }
  const meta = readJson(metaPath, `docker context "${name}" metadata`, 'E_ENGINE_CONTEXT_INVALID');
  const docker = isObject(meta) && isObject(meta.Endpoints) ? meta.Endpoints.docker : undefined;
  if (!isObject(docker)) {
    throw configError('E_ENGINE_CONTEXT_INVALID', `docker context "${name}" has no docker endpoint`, {
      hint: `inspect ${metaPath}, or recreate the context with \`docker context create ${name} --docker host=...\``,
      details: { context: name, metaPath },
    });
  }
  const host = docker.Host;
  if (host !== undefined && typeof host !== 'string') {
    throw configError('E_ENGINE_CONTEXT_INVALID', `docker context "${name}": Endpoints.docker.Host is not a string`, { hint: `inspect ${metaPath}`, details: { metaPath } });
  }
  const ca = readTlsFile(join(tlsDir, 'ca.pem'), name);
  const cert = readTlsFile(join(tlsDir, 'cert.pem'), name);
  const key = readTlsFile(join(tlsDir, 'key.pem'), name);
  const hasTls = ca !== undefined || cert !== undefined || key !== undefined;
  const source = `context ${name}`;
  const endpoint = parseHostUrl(host || `unix://${DEFAULT_SOCKET}`, source, { tls: hasTls });
  if (endpoint.kind === 'tcp' && (hasTls || docker.SkipTLSVerify === true)) {
    const tls: TlsMaterial = { ca, cert, key, verify: docker.SkipTLSVerify !== true };
    endpoint.tls = tls;
  }
  return { endpoint, metaPath, tlsDir };
}

/**
 * The first cut's resolver hook, kept for callers: resolves the context named by `input.context`, DOCKER_CONTEXT or
 * config.json. resolveEndpoint() decides whether contexts apply at all (DOCKER_HOST and --host win over them).
 */
export const resolveContextEndpoint: ContextResolver = (input: ResolveInput) => {
  const { name, from } = currentContextName(input.env, input.home, input.context);
  if (!name || name === DEFAULT_CONTEXT) {
    return {
      candidate: { source: 'context', applied: false, reason: name === DEFAULT_CONTEXT ? `context "default" (${from}) means the default socket` : 'no current context' },
    };
  }
  const r = readContextEndpoint(name, from, input.env, input.home);
  return { endpoint: r.endpoint, candidate: { source: 'context', applied: true, reason: `context "${name}" (${from}): ${r.endpoint.url}` } };
};
