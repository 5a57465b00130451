/**
 * `nestling doctor`: runs every probe (concurrently, each under a timeout), and returns a report. Never throws for
 * a probe's sake: a probe that fails, hangs or reads garbage is an `unknown` finding with the reason.
 */
import { countByStatus, worstStatus, type Finding, type Status } from '../checks/model.js';
import { runChecks } from '../checks/runner.js';
import { paint, renderFinding, statusTag } from '../checks/render.js';
import { sharedReads, type DoctorEnvironment } from './context.js';
import { PROBES } from './probes/index.js';
import type { Probe } from './probe.js';
import type { RecommendationDetails } from './probes/recommendation.js';

export const DOCTOR_SCHEMA = 'nestling.doctor/v1';

export interface DoctorReport {
  schema: typeof DOCTOR_SCHEMA;
  /** fail when any probe failed; warn and unknown do not fail the run */
  status: Status;
  counts: Record<Status, number>;
  recommendation: RecommendationDetails | undefined;
  findings: Finding[];
}

export interface DoctorOptions {
  /** Default timeout of one probe. */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Run only these probes (ids); for tests. */
  probes?: readonly Probe[] | undefined;
}

export async function runDoctor(env: DoctorEnvironment, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const probes = opts.probes ?? PROBES;
  const ctx = { ...env, read: sharedReads(env) };
  const { findings } = await runChecks(probes, ctx, { timeoutMs: opts.timeoutMs ?? 10_000, signal: opts.signal, publish: true });
  const rec = findings.find((f) => f.id === 'recommendation');
  return {
    schema: DOCTOR_SCHEMA,
    status: worstStatus(findings),
    counts: countByStatus(findings),
    recommendation: rec?.details as RecommendationDetails | undefined,
    findings,
  };
}

/** doctor exits 3 (environment) when any probe fails, 0 otherwise. */
export function doctorExitCode(r: DoctorReport): 0 | 3 {
  return r.findings.some((f) => f.status === 'fail') ? 3 : 0;
}

export function renderDoctorReport(r: DoctorReport, color: boolean): string[] {
  const lines: string[] = [];
  let group = '';
  for (const f of r.findings) {
    if (f.group !== group) {
      group = f.group;
      if (lines.length) lines.push('');
      lines.push(paint(group, '1', color));
    }
    lines.push(...renderFinding(f, color));
  }
  lines.push('');
  const c = r.counts;
  lines.push(`${statusTag(r.status, color)} ${c.ok} ok, ${c.warn} warn, ${c.fail} fail, ${c.unknown} unknown`);
  if (r.recommendation?.mode) lines.push(`recommended mode: ${r.recommendation.mode}${r.recommendation.guard ? ' with the guard' : ''}`);
  return lines;
}
