/**
 * Network routes: create (bridge only, safe options, owner label, no name of another owner), connect/disconnect
 * (owned network and owned container), by-id routes (owned), prune (owner label filter).
 *
 * The daemon's predefined networks (`bridge`, `host`, `none`: moby refuses to create, remove or rename networks of
 * those names) belong to no job and to every job: a job lists them and inspects them (scripts and Testcontainers
 * read the `bridge` gateway), with the `Containers` map emptied (it would name other jobs' containers); it may
 * connect its own containers to `bridge` and `none` (as `docker run` does by default); `host` is refused
 * (host-namespace) and removing any of them is refused (system-wide). Other networks stay owner-only.
 */
import { asObject, asString, serializeGoBuffer } from '../go-json.js';
import { applyOwnerLabel, denied, mergeOwnerFilter, notFound, requireOwned } from '../ownership.js';
import { isDenial } from '../match.js';
import type { DecideContext } from '../types.js';
import { readBody, setParam } from './container.js';
import type { HandlerResult, RuleRequest } from './request.js';

/** The daemon's predefined networks (moby runconfig.IsPreDefinedNetwork, less `default`, which is an alias). */
export const PREDEFINED_NETWORKS: readonly string[] = ['bridge', 'host', 'none'];

/**
 * The predefined network `ref` names, if it names one: by name, or by the id (or id prefix) the daemon resolves to
 * the same network. Asks the oracle (read-only inspects); undefined for anything else.
 */
export async function predefinedNetwork(ctx: DecideContext, ref: string): Promise<{ name: string; id: string } | undefined> {
  if (ref === '') return undefined;
  const target = await ctx.oracle.lookup('network', ref, ctx.signal);
  if (!target || target.owned) return undefined;
  for (const name of PREDEFINED_NETWORKS) {
    const p = name === ref ? target : await ctx.oracle.lookup('network', name, ctx.signal);
    if (p && !p.owned && p.id === target.id) return { name, id: target.id };
  }
  return undefined;
}

/**
 * Network list: the job's own networks and the predefined ones. The daemon's label filter cannot say "owned OR
 * predefined", so the job's own `filters` (validated) go to the daemon and the server filters the answer
 * (response-filter.ts `network-list`).
 */
export function networkList(req: RuleRequest): HandlerResult {
  const all = req.query.getAll('filters');
  const first = all[0] ?? null;
  if (mergeOwnerFilter(first, req.ctx.owner) === undefined) return denied('bad-filters', 'filters', (first ?? '').slice(0, 200), req.route, 400);
  // Go's r.Form.Get reads the first value: forward exactly that one
  req.query.delete('filters');
  if (first !== null) req.query.append('filters', first);
  return { responseFilter: 'network-list' };
}

/** Bridge driver options that only affect the job's own network. */
export const SAFE_NETWORK_OPTIONS: ReadonlySet<string> = new Set([
  'com.docker.network.driver.mtu',
  'com.docker.network.bridge.enable_icc',
  'com.docker.network.bridge.enable_ip_masquerade',
  'com.docker.network.container_iface_prefix',
]);

export async function networkCreate(req: RuleRequest): Promise<HandlerResult> {
  const { ctx, route } = req;
  const body = readBody(req, 'network-create');
  if (isDenial(body)) return body;
  const driver = asString(body.Driver);
  if (driver !== '' && driver !== 'bridge') return denied('network-driver', 'Driver', driver, route);
  if (body.Ingress === true) return denied('network-driver', 'Ingress', true, route);
  const scope = asString(body.Scope);
  if (scope !== '' && scope !== 'local') return denied('network-driver', 'Scope', scope, route);
  if (body.ConfigOnly === true) return denied('network-driver', 'ConfigOnly', true, route);
  const cf = asString(asObject(body.ConfigFrom)?.Network);
  if (cf !== '') return denied('network-driver', 'ConfigFrom.Network', cf, route);
  for (const k of Object.keys(asObject(body.Options) ?? {})) {
    if (!SAFE_NETWORK_OPTIONS.has(k)) return denied('network-option', `Options.${k}`, asObject(body.Options)?.[k], route);
  }
  const ipamDriver = asString(asObject(body.IPAM)?.Driver);
  if (ipamDriver !== '' && ipamDriver !== 'default') return denied('network-driver', 'IPAM.Driver', ipamDriver, route);
  const name = asString(body.Name);
  if (name !== '') {
    const existing = await ctx.oracle.lookup('network', name, ctx.signal);
    // the lookup also resolves id prefixes: a network found by its id is no name conflict for the daemon, and a 409
    // would tell the job that another owner's network id starts with this name
    if (existing && !existing.owned && !existing.id.startsWith(name)) return denied('name-conflict', 'Name', name, route, 409);
  }
  const labels = applyOwnerLabel(asObject(body.Labels), ctx.owner, 'Labels', route);
  if (isDenial(labels)) return labels;
  body.Labels = labels;
  return { body: serializeGoBuffer(body) };
}

export async function networkConnect(req: RuleRequest): Promise<HandlerResult> {
  const { ctx, route } = req;
  const name = req.params.id ?? '';
  let net = await requireOwned(ctx, 'network', name, route);
  if (isDenial(net)) {
    const pre = await predefinedNetwork(ctx, name);
    if (!pre) return net;
    if (pre.name === 'host') return denied('host-namespace', 'network', 'host', route);
    net = { id: pre.id, owned: false };
  }
  const body = readBody(req, req.route.id === 'network-connect' ? 'network-connect' : 'network-disconnect');
  if (isDenial(body)) return body;
  const c = await requireOwned(ctx, 'container', asString(body.Container), route);
  if (isDenial(c)) return c;
  body.Container = c.id;
  setParam(req, 'id', net.id);
  return { body: serializeGoBuffer(body) };
}

/** Inspect and delete by id: owned; a predefined network may be inspected (filtered), never removed. */
export async function ownedNetworkRoute(req: RuleRequest): Promise<HandlerResult> {
  const name = req.params.id ?? '';
  const ref = await requireOwned(req.ctx, 'network', name, req.route);
  if (!isDenial(ref)) {
    setParam(req, 'id', ref.id);
    return undefined;
  }
  if (req.route.id !== 'network-inspect' && req.route.id !== 'network-delete') return ref;
  const pre = await predefinedNetwork(req.ctx, name);
  if (!pre) return notFound('network', name, req.route);
  if (req.route.id === 'network-delete') return denied('system-wide', 'network', pre.name, req.route);
  setParam(req, 'id', pre.id);
  return { responseFilter: 'network-inspect' };
}
