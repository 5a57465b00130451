/**
 * Quotas from the policy (per container): Memory, NanoCpus, PidsLimit. An unset (zero/unlimited) value is set to the
 * quota on create; a larger one is refused. CPU given as CpuQuota/CpuPeriod is checked against NanoCpus instead
 * (the daemon refuses both at once).
 *
 * Per job (jobMemoryBytes, jobNanoCpus, jobPidsLimit): the limits of the owner's containers in every state (a stopped
 * container keeps its reservation until it is removed) plus the new or updated one must stay within the sum. Each
 * needs its per-container quota (the policy file enforces it), so no container of the job is unlimited.
 */
import type { GoObject } from '../go-json.js';
import { denied } from '../ownership.js';
import type { Denial } from '../match.js';
import type { ContainerLimits, DecideContext, EffectivePolicy, RouteDef } from '../types.js';

function big(v: unknown): bigint {
  return typeof v === 'bigint' ? v : 0n;
}

/** `mode` create: fill unset values; update: only check the values the update sets. */
export function applyQuotas(hc: GoObject, policy: EffectivePolicy, route: RouteDef, mode: 'create' | 'update', prefix = 'HostConfig.'): Denial | undefined {
  const q = policy.quotas;
  if (q.memoryBytes !== undefined) {
    const max = BigInt(q.memoryBytes);
    const m = big(hc.Memory);
    if (m > max || m < 0n) return denied('quota', `${prefix}Memory`, m.toString(), route);
    if (m === 0n && mode === 'create') hc.Memory = max;
    const swap = big(hc.MemorySwap);
    if (swap < 0n) return denied('quota', `${prefix}MemorySwap`, swap.toString(), route);
  }
  if (q.nanoCpus !== undefined) {
    const max = BigInt(q.nanoCpus);
    const n = big(hc.NanoCpus);
    const quota = big(hc.CpuQuota);
    const period = big(hc.CpuPeriod);
    if (n > max) return denied('quota', `${prefix}NanoCpus`, n.toString(), route);
    if (quota > 0n) {
      const p = period > 0n ? period : 100000n;
      if ((quota * 1_000_000_000n) / p > max) return denied('quota', `${prefix}CpuQuota`, quota.toString(), route);
    } else if (n <= 0n && mode === 'create') {
      if (period > 0n) return denied('quota', `${prefix}CpuPeriod`, period.toString(), route);
      hc.NanoCpus = max;
    } else if (mode === 'update' && quota < 0n) {
      return denied('quota', `${prefix}CpuQuota`, quota.toString(), route);
    }
  }
  if (q.pidsLimit !== undefined) {
    const max = BigInt(q.pidsLimit);
    const has = 'PidsLimit' in hc && hc.PidsLimit !== null;
    const p = big(hc.PidsLimit);
    if (p > max) return denied('quota', `${prefix}PidsLimit`, p.toString(), route);
    if (p <= 0n) {
      if (mode === 'update' && has) return denied('quota', `${prefix}PidsLimit`, p.toString(), route);
      if (mode === 'create') hc.PidsLimit = max;
    }
  }
  return undefined;
}

/** The limits a create or update body leaves a container with (`current`: its limits before an update). */
function limitsAfter(hc: GoObject, current: ContainerLimits | undefined): Omit<ContainerLimits, 'id'> {
  const mem = big(hc.Memory);
  const nano = big(hc.NanoCpus);
  const quota = big(hc.CpuQuota);
  const period = big(hc.CpuPeriod);
  const pids = big(hc.PidsLimit);
  return {
    memoryBytes: mem > 0n ? Number(mem) : (current?.memoryBytes ?? 0),
    nanoCpus: nano > 0n ? Number(nano) : quota > 0n ? Number((quota * 1_000_000_000n) / (period > 0n ? period : 100000n)) : (current?.nanoCpus ?? 0),
    pidsLimit: pids > 0n ? Number(pids) : (current?.pidsLimit ?? 0),
  };
}

/**
 * The per-job sums, after applyQuotas (so a create's unset limits already hold the per-container quota). `updating`:
 * the id of the container an update changes (its old limits are replaced, not added).
 */
export async function checkJobQuotas(hc: GoObject, ctx: DecideContext, route: RouteDef, updating?: string): Promise<Denial | undefined> {
  const q = ctx.policy.quotas;
  const checks = [
    ['jobMemoryBytes', q.jobMemoryBytes, 'memoryBytes', q.memoryBytes],
    ['jobNanoCpus', q.jobNanoCpus, 'nanoCpus', q.nanoCpus],
    ['jobPidsLimit', q.jobPidsLimit, 'pidsLimit', q.pidsLimit],
  ] as const;
  if (checks.every(([, max]) => max === undefined)) return undefined;
  if (!ctx.oracle.ownedLimits) return denied('quota', 'jobQuotas', 'this guard cannot sum the job\'s limits', route);
  const all = await ctx.oracle.ownedLimits(ctx.signal);
  const current = updating === undefined ? undefined : all.find((c) => c.id === updating);
  const others = all.filter((c) => c.id !== updating);
  const next = limitsAfter(hc, current);
  for (const [field, max, key, per] of checks) {
    if (max === undefined) continue;
    // a container without a limit (made before this policy) is counted at the per-container quota
    const value = (c: Omit<ContainerLimits, 'id'>) => (c[key] > 0 ? c[key] : (per ?? 0));
    const reserved = others.reduce((s, c) => s + value(c), 0);
    const mine = value(next);
    if (reserved + mine > max) return denied('quota', field, `${max} (the job's other containers reserve ${reserved}, this one ${mine})`, route);
  }
  return undefined;
}
