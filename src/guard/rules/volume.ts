/** Volume routes: create (local driver, safe options, owner label, no name of another owner), by-name routes. */
import { asObject, asString, serializeGoBuffer } from '../go-json.js';
import { applyOwnerLabel, denied, lookupRef, requireOwned } from '../ownership.js';
import { isDenial } from '../match.js';
import { readBody, setParam } from './container.js';
import { checkLocalDriverOpts } from './mounts.js';
import type { HandlerResult, RuleRequest } from './request.js';

export async function volumeCreate(req: RuleRequest): Promise<HandlerResult> {
  const { ctx, route } = req;
  const body = readBody(req, 'volume-create');
  if (isDenial(body)) return body;
  const driver = asString(body.Driver);
  if (driver !== '' && driver !== 'local') return denied('volume-driver', 'Driver', driver, route);
  if (body.ClusterVolumeSpec !== undefined) return denied('no-swarm', 'ClusterVolumeSpec', '{...}', route);
  const d = await checkLocalDriverOpts(asObject(body.DriverOpts), 'DriverOpts', ctx, route, req.notes);
  if (d) return d;
  const name = asString(body.Name);
  if (name !== '') {
    const existing = await lookupRef(ctx, 'volume', name);
    if (existing && !existing.owned) return denied('name-conflict', 'Name', name, route, 409);
  }
  const labels = applyOwnerLabel(asObject(body.Labels), ctx.owner, 'Labels', route);
  if (isDenial(labels)) return labels;
  body.Labels = labels;
  return { body: serializeGoBuffer(body) };
}

export async function ownedVolumeRoute(req: RuleRequest): Promise<HandlerResult> {
  const ref = await requireOwned(req.ctx, 'volume', req.params.name ?? '', req.route);
  if (isDenial(ref)) return ref;
  setParam(req, 'name', ref.id);
  if (req.route.id === 'volume-update') return denied('no-swarm', 'route', req.route.id, req.route);
  return undefined;
}
