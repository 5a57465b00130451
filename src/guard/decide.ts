/**
 * decide(view, ctx): the guard's whole policy, as a pure function of the request and ownership facts.
 * The target is re-canonicalised from view.rawTarget (match.ts), so the decision never depends on how the server
 * pre-parsed it; the forwarded target is always the canonical one.
 */
import { Labels } from '../util/labels.js';
import { canonicalizeTarget, isDenial, matchRoute, serializeTarget } from './match.js';
import type { Decide, Decision } from './types.js';
import { denialMessage } from './types.js';

export const decide: Decide = async (view, ctx) => {
  const t = canonicalizeTarget(view.rawTarget);
  if (isDenial(t)) return t;
  const m = matchRoute(view.method, t.path);
  if (isDenial(m)) return m;
  const route = m.route;
  if (route.area === 'plugin' || route.area === 'swarm' || route.area === 'debug') {
    return { action: 'deny', route, status: 403, rule: `no-${route.area}`, message: denialMessage(`no-${route.area}`, 'route', route.id) };
  }
  const target = serializeTarget(t.path, t.apiVersion, t.query);
  if (route.id === 'container-create' && view.body) {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(view.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return { action: 'deny', route, status: 400, rule: 'invalid-body', message: 'nestling guard: denied by rule invalid-body: invalid JSON' };
    }
    const hc = (body.HostConfig ?? {}) as Record<string, unknown>;
    if (hc.Privileged === true) {
      return { action: 'deny', route, status: 403, rule: 'no-privileged', message: denialMessage('no-privileged', 'HostConfig.Privileged', true) };
    }
    body.Labels = { ...((body.Labels ?? {}) as Record<string, string>), [Labels.owner]: ctx.owner };
    const d: Decision = { action: 'forward', route, rewrite: { target, body: Buffer.from(JSON.stringify(body)) } };
    return d;
  }
  await Promise.resolve();
  return { action: 'forward', route, rewrite: { target }, ...(route.kind === 'hijack' || route.kind === 'h2c' ? { tunnel: route.kind } : {}) };
};
