/**
 * Quotas from the policy (per container): Memory, NanoCpus, PidsLimit. An unset (zero/unlimited) value is set to the
 * quota on create; a larger one is refused. CPU given as CpuQuota/CpuPeriod is checked against NanoCpus instead
 * (the daemon refuses both at once).
 */
import type { GoObject } from '../go-json.js';
import { denied } from '../ownership.js';
import type { Denial } from '../match.js';
import type { EffectivePolicy, RouteDef } from '../types.js';

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
