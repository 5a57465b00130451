/**
 * The guard's audit log: one record per decision, rendered as a text line or a JSON line. Records never carry
 * bodies, header values or credentials: only the method, the path (no query string, which may carry a registry
 * auth in some clients' filters), the route id, the decision, the rule and the timing.
 */
export interface GuardDecisionRecord {
  ts: string;
  level: 'info' | 'warn' | 'error';
  /** request number on this guard, from 1 */
  req: number;
  method: string;
  /** path without the query string */
  path: string;
  /** route id from the route table, when the request matched one */
  route: string | undefined;
  owner: string;
  /** forward: passed (maybe rewritten); deny: refused; would-deny: refused in dry-run mode but forwarded; error: the
   *  guard could not process it (parse error, upstream down) */
  decision: 'forward' | 'deny' | 'would-deny' | 'error';
  rule: string | undefined;
  /** the status the client got (for tunnels: 101 or the daemon's answer) */
  status: number;
  /** ms from the request head to the response head */
  ms: number;
  /** rewrites applied, e.g. "bind /work -> /srv/jobs/1/work" */
  notes?: string[] | undefined;
  /** the refusal message (for denials and errors) */
  message?: string | undefined;
}

export type LogFormat = 'text' | 'json';

export function formatRecord(r: GuardDecisionRecord, format: LogFormat): string {
  if (format === 'json') return JSON.stringify(r);
  const parts = [
    r.ts,
    r.level,
    `req#${r.req}`,
    r.method,
    quoteIfNeeded(r.path),
    `route=${r.route ?? '-'}`,
    `owner=${quoteIfNeeded(r.owner)}`,
    `decision=${r.decision}`,
    `rule=${r.rule ?? '-'}`,
    `status=${r.status}`,
    `ms=${r.ms}`,
  ];
  if (r.notes?.length) parts.push(`notes=${JSON.stringify(r.notes.join('; '))}`);
  if (r.message) parts.push(`msg=${JSON.stringify(r.message)}`);
  return parts.join(' ');
}

function quoteIfNeeded(s: string): string {
  return /^[\x21-\x7e]+$/.test(s) && !s.includes('"') ? s : JSON.stringify(s);
}
