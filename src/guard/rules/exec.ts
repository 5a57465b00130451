/** Exec routes: only into owned containers; no privileged exec; a forced user stays forced. */
import { denied, requireOwned } from '../ownership.js';
import { isDenial } from '../match.js';
import { serializeGoBuffer } from '../go-json.js';
import { applyForcedUser, readBody, setParam } from './container.js';
import type { HandlerResult, RuleRequest } from './request.js';

export async function execCreate(req: RuleRequest): Promise<HandlerResult> {
  const { ctx, route } = req;
  const ref = await requireOwned(ctx, 'container', req.params.name ?? '', route);
  if (isDenial(ref)) return ref;
  const body = readBody(req, 'exec-create');
  if (isDenial(body)) return body;
  if (body.Privileged === true) return denied('exec-privileged', 'Privileged', true, route);
  const u = applyForcedUser(body, ctx.policy.defaults.user, 'User', route);
  if (u) return u;
  setParam(req, 'name', ref.id);
  return { body: serializeGoBuffer(body) };
}

/** exec start/resize/inspect: the exec's container must be owned (the oracle answers for the exec). */
export async function ownedExecRoute(req: RuleRequest): Promise<HandlerResult> {
  const key = req.params.name !== undefined ? 'name' : 'id';
  const ref = await requireOwned(req.ctx, 'exec', req.params[key] ?? '', req.route);
  if (isDenial(ref)) return ref;
  setParam(req, key, ref.id);
  if (req.route.id === 'exec-start') {
    const body = readBody(req, 'exec-start', true);
    if (isDenial(body)) return body;
    return { body: serializeGoBuffer(body) };
  }
  return undefined;
}
