/**
 * The finding model shared by `nestling doctor` (probes) and `nestling audit` (checks).
 *
 * A doctor finding has a status: ok, warn, fail, or unknown (the probe could not tell, with the reason). An audit
 * finding additionally has a severity. Every finding says what was found, why it matters and how to fix it.
 */

export const STATUSES = ['ok', 'warn', 'fail', 'unknown'] as const;
export type Status = (typeof STATUSES)[number];

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function isSeverity(s: string): s is Severity {
  return (SEVERITIES as readonly string[]).includes(s);
}

export interface Finding {
  /** Stable id: the probe or check id (kebab-case), e.g. `socket`, `privileged-container`. */
  id: string;
  /** The group it belongs to (doctor: where, access, daemon, cli, recommendation; audit: containers, engine, host). */
  group: string;
  title: string;
  status: Status;
  /** Audit only. */
  severity?: Severity | undefined;
  /** Audit: the object the finding is about (container name, endpoint, process). */
  subject?: string | undefined;
  /** What was found, one line. */
  found: string;
  /** Why it matters. */
  why?: string | undefined;
  /** How to fix it: one next step. */
  fix?: string | undefined;
  /** Machine-readable facts behind the finding (for --json). */
  details?: Record<string, unknown> | undefined;
  /** How long the probe took. */
  ms?: number | undefined;
}

/** What a check returns; the runner adds id, group, title and timing. */
export type Outcome = Omit<Finding, 'id' | 'group' | 'title' | 'ms'> & { id?: string; title?: string };

export function worstStatus(findings: readonly Pick<Finding, 'status'>[]): Status {
  if (findings.some((f) => f.status === 'fail')) return 'fail';
  if (findings.some((f) => f.status === 'warn')) return 'warn';
  if (findings.some((f) => f.status === 'unknown')) return 'unknown';
  return 'ok';
}

export function countByStatus(findings: readonly Pick<Finding, 'status'>[]): Record<Status, number> {
  const out: Record<Status, number> = { ok: 0, warn: 0, fail: 0, unknown: 0 };
  for (const f of findings) out[f.status]++;
  return out;
}
