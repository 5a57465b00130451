/**
 * `nestling audit`: scans an engine (and, optionally, this machine) for risky Docker exposure. Each finding has a
 * severity; `auditExitCode` is 5 when findings at or above --fail-on exist.
 */
import { severityRank, type Finding, type Severity } from '../checks/model.js';
import { runChecks } from '../checks/runner.js';
import { paint, renderFinding, statusTag } from '../checks/render.js';
import { auditReads, type AuditCheck, type AuditEnvironment } from './context.js';
import { AUDIT_CHECKS } from './checks/index.js';

export const AUDIT_SCHEMA = 'nestling.audit/v1';

export interface AuditReport {
  schema: typeof AUDIT_SCHEMA;
  engine: string;
  scope: { namePrefix?: string | undefined; labels?: string[] | undefined; host: boolean };
  containersScanned: number | undefined;
  counts: Record<Severity, number>;
  /** Checks that could not run (engine errors, timeouts): `unknown` findings. */
  unknown: number;
  findings: Finding[];
}

export async function runAudit(env: AuditEnvironment, opts: { timeoutMs?: number; signal?: AbortSignal | undefined; checks?: readonly AuditCheck[] } = {}): Promise<AuditReport> {
  const read = auditReads(env, opts.signal);
  const { findings } = await runChecks(opts.checks ?? AUDIT_CHECKS, { ...env, read }, { timeoutMs: opts.timeoutMs ?? 60_000, signal: opts.signal });
  const counts: Record<Severity, number> = { info: 0, low: 0, medium: 0, high: 0, critical: 0 };
  for (const f of findings) if (f.severity && f.status !== 'ok') counts[f.severity]++;
  const sorted = [...findings].sort((a, b) => (b.severity ? severityRank(b.severity) : -1) - (a.severity ? severityRank(a.severity) : -1));
  let scanned: number | undefined;
  try {
    scanned = (await read.containers()).length;
  } catch {
    scanned = undefined;
  }
  return {
    schema: AUDIT_SCHEMA,
    engine: env.engine.endpoint.url,
    scope: { namePrefix: env.scope.namePrefix, labels: env.scope.labels, host: env.scanHost },
    containersScanned: scanned,
    counts,
    unknown: findings.filter((f) => f.status === 'unknown').length,
    findings: sorted,
  };
}

/** 5 when a risk (not an `ok`/info note) at or above `failOn` exists, else 0. */
export function auditExitCode(r: AuditReport, failOn: Severity): 0 | 5 {
  const min = severityRank(failOn);
  return r.findings.some((f) => f.status !== 'ok' && f.status !== 'unknown' && f.severity !== undefined && severityRank(f.severity) >= min) ? 5 : 0;
}

export function renderAuditReport(r: AuditReport, color: boolean): string[] {
  const lines = [paint(`audit of ${r.engine}${r.scope.namePrefix ? `, containers named ${r.scope.namePrefix}*` : ''}${r.scope.labels?.length ? `, labels ${r.scope.labels.join(',')}` : ''}${r.scope.host ? ', and this machine' : ''}`, '1', color)];
  lines.push(`  ${r.containersScanned ?? '?'} container(s) scanned`);
  const risks = r.findings.filter((f) => f.status !== 'ok');
  const notes = r.findings.filter((f) => f.status === 'ok');
  if (!risks.length) lines.push('  no risky exposure found');
  for (const f of risks) lines.push(...(f.status === 'unknown' ? renderFinding({ ...f, severity: undefined }, color) : renderFinding(f, color)));
  for (const f of notes) lines.push(...renderFinding({ ...f, severity: undefined }, color, false));
  const c = r.counts;
  lines.push('');
  lines.push(`${statusTag(risks.some((f) => f.status === 'fail') ? 'fail' : risks.length ? 'warn' : 'ok', color)} ${c.critical} critical, ${c.high} high, ${c.medium} medium, ${c.low} low${r.unknown ? `, ${r.unknown} check(s) could not run` : ''}`);
  return lines;
}
