/** What a route handler gets: the matched route, the canonical target, the decision context. */
import type { Denial } from '../match.js';
import type { DecideContext, Decision, RequestView, RouteDef } from '../types.js';

export interface RuleRequest {
  route: RouteDef;
  /** decoded template variables (`name`, `id`) */
  params: Record<string, string>;
  /** canonical version-less path */
  path: string;
  apiVersion: string | undefined;
  /** canonical query (Go's reading); handlers may modify it, decide() serialises it into the forwarded target */
  query: URLSearchParams;
  view: RequestView;
  ctx: DecideContext;
  /** notes for the audit log about rewrites */
  notes: string[];
}

/** A handler either denies, or forwards with an optional canonical body. */
export type HandlerResult =
  | Denial
  | {
      body?: Buffer | undefined;
      responseFilter?: Extract<Decision, { action: 'forward' }>['responseFilter'];
      uploadCheck?: Extract<Decision, { action: 'forward' }>['uploadCheck'];
    }
  | undefined;

export type RouteHandler = (req: RuleRequest) => Promise<HandlerResult> | HandlerResult;

/** The first value of a query key, as Go's r.Form.Get / r.FormValue. */
export function formValue(q: URLSearchParams, key: string): string {
  return q.get(key) ?? '';
}
