/** Network routes: create (bridge only, safe options, owner label, no name of another owner), connect/disconnect
 *  (owned network and owned container), by-id routes (owned), list/prune (owner label filter). */
import { asObject, asString, serializeGoBuffer } from '../go-json.js';
import { applyOwnerLabel, denied, requireOwned } from '../ownership.js';
import { isDenial } from '../match.js';
import { readBody, setParam } from './container.js';
import type { HandlerResult, RuleRequest } from './request.js';

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
    if (existing && !existing.owned) return denied('name-conflict', 'Name', name, route, 409);
  }
  const labels = applyOwnerLabel(asObject(body.Labels), ctx.owner, 'Labels', route);
  if (isDenial(labels)) return labels;
  body.Labels = labels;
  return { body: serializeGoBuffer(body) };
}

export async function networkConnect(req: RuleRequest): Promise<HandlerResult> {
  const { ctx, route } = req;
  const net = await requireOwned(ctx, 'network', req.params.id ?? '', route);
  if (isDenial(net)) return net;
  const body = readBody(req, req.route.id === 'network-connect' ? 'network-connect' : 'network-disconnect');
  if (isDenial(body)) return body;
  const c = await requireOwned(ctx, 'container', asString(body.Container), route);
  if (isDenial(c)) return c;
  body.Container = c.id;
  setParam(req, 'id', net.id);
  return { body: serializeGoBuffer(body) };
}

export async function ownedNetworkRoute(req: RuleRequest): Promise<HandlerResult> {
  const ref = await requireOwned(req.ctx, 'network', req.params.id ?? '', req.route);
  if (isDenial(ref)) return ref;
  setParam(req, 'id', ref.id);
  return undefined;
}
