/** Lists, prunes and events: filtered to the owner with a label filter merged into `filters`. */
import { denied, mergeOwnerFilter } from '../ownership.js';
import { networkList } from './network.js';
import type { HandlerResult, RuleRequest } from './request.js';

export function ownerFiltered(req: RuleRequest): HandlerResult {
  // the network list also shows the daemon's predefined networks (network.ts): filtered in the response instead
  if (req.route.id === 'network-list' || req.route.id === 'network-list-slash') return networkList(req);
  const merged = mergeOwnerFilter(req.query.get('filters'), req.ctx.owner);
  if (merged === undefined) return denied('bad-filters', 'filters', (req.query.get('filters') ?? '').slice(0, 200), req.route, 400);
  req.query.delete('filters');
  req.query.append('filters', merged);
  return undefined;
}

export function events(req: RuleRequest): HandlerResult {
  const r = ownerFiltered(req);
  if (r) return r;
  return { responseFilter: 'events' };
}
