/**
 * Docker CLI contexts: ~/.docker/config.json `currentContext`, DOCKER_CONTEXT, and the stores under
 * ~/.docker/contexts/meta/<sha256(name)>/meta.json (+ tls/<sha256(name)>/docker/{ca,cert,key}.pem).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configError } from '../util/errors.js';
import type { Env } from '../util/env.js';
import { parseHostUrl, type ContextResolver, type ResolveInput } from './resolve.js';
import type { EngineEndpoint } from './transport.js';

export function dockerConfigDir(env: Env, home: string): string {
  return env.DOCKER_CONFIG || join(home, '.docker');
}

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw configError('E_ENGINE_CONTEXT_READ', `cannot read ${what} ${path}: ${(e as Error).message}`, {
      hint: `fix or remove ${path}`,
      cause: e,
    });
  }
}

export function currentContextName(env: Env, home: string, flag?: string): { name: string | undefined; from: string } {
  if (flag) return { name: flag, from: '--context' };
  if (env.DOCKER_CONTEXT) return { name: env.DOCKER_CONTEXT, from: 'DOCKER_CONTEXT' };
  const cfg = join(dockerConfigDir(env, home), 'config.json');
  if (existsSync(cfg)) {
    const j = readJson(cfg, 'docker config') as { currentContext?: unknown };
    if (typeof j.currentContext === 'string' && j.currentContext) return { name: j.currentContext, from: cfg };
  }
  return { name: undefined, from: 'none' };
}

export const resolveContextEndpoint: ContextResolver = (input: ResolveInput) => {
  const { name, from } = currentContextName(input.env, input.home, input.context);
  if (!name || name === 'default') {
    return { candidate: { source: 'context', applied: false, reason: name === 'default' ? `context "default" (${from}) means the default socket` : 'no current context' } };
  }
  const dir = dockerConfigDir(input.env, input.home);
  const id = createHash('sha256').update(name).digest('hex');
  const metaPath = join(dir, 'contexts', 'meta', id, 'meta.json');
  if (!existsSync(metaPath)) {
    throw configError('E_ENGINE_CONTEXT_MISSING', `docker context "${name}" (from ${from}) does not exist`, {
      hint: '`docker context ls` lists the contexts; unset DOCKER_CONTEXT or run `docker context use default`',
      details: { context: name, metaPath },
    });
  }
  const meta = readJson(metaPath, 'context') as { Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } } };
  const host = meta.Endpoints?.docker?.Host;
  if (typeof host !== 'string') {
    throw configError('E_ENGINE_CONTEXT_INVALID', `docker context "${name}" has no docker endpoint`, { hint: `inspect ${metaPath}` });
  }
  const ep: EngineEndpoint = parseHostUrl(host, `context ${name}`);
  if (ep.kind === 'tcp') {
    const tlsDir = join(dir, 'contexts', 'tls', id, 'docker');
    if (existsSync(tlsDir)) {
      const read = (f: string) => (existsSync(join(tlsDir, f)) ? readFileSync(join(tlsDir, f)) : undefined);
      ep.tls = { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem'), verify: meta.Endpoints?.docker?.SkipTLSVerify !== true };
    }
  }
  return { endpoint: ep, candidate: { source: 'context', applied: true, reason: `context "${name}" (${from}): ${host}` } };
};
