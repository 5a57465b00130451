/**
 * Named caches: a volume per (mode, key) holding an inner daemon's data root, kept between runs.
 * Concurrency: a second run with the same key WAITS for the first (the daemon container's name is the lock;
 * see apply.ts createLocked): two daemons on one data root hang on containerd's lock, and copying a data root
 * (gigabytes of layers) would cost more than the cache saves. A holder whose nestling died is reaped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine/client.js';
import { CACHE_STAMP } from './apply.js';
import { Labels } from '../util/labels.js';
import { listContainers, listVolumes, removeVolume } from './engine-ops.js';

export interface CacheEntry {
  volume: string;
  key: string;
  mode: string | undefined;
  createdAt: string | undefined;
  /** when a run last released it (a stamp nestling writes into the volume; readable when the engine is local) */
  lastUsed?: string | undefined;
  /** a run holds it now (its daemon container exists) */
  inUse: boolean;
  /** bytes, when the engine reports it (GET /system/df) */
  size?: number | undefined;
}

export async function listCaches(engine: Engine, withSizes = false): Promise<CacheEntry[]> {
  const vols = await listVolumes(engine, [`${Labels.role}=cache`, `${Labels.managed}=true`]);
  const daemons = await listContainers(engine, [`${Labels.role}=daemon`]);
  const sizes = new Map<string, number>();
  if (withSizes) {
    const df = await engine.json<{ Volumes?: { Name: string; UsageData?: { Size: number } | null }[] | null }>({ method: 'GET', path: '/system/df' });
    for (const v of df.Volumes ?? []) if (v.UsageData && v.UsageData.Size >= 0) sizes.set(v.Name, v.UsageData.Size);
  }
  const stamp = (mountpoint: string | undefined): string | undefined => {
    if (!mountpoint) return undefined;
    try {
      const t = readFileSync(join(mountpoint, CACHE_STAMP), 'utf8').trim();
      return Number.isFinite(Date.parse(t)) ? t : undefined;
    } catch {
      return undefined; // not on this machine, or not readable by us: creation time it is
    }
  };
  return vols.map((v) => ({
    volume: v.Name,
    lastUsed: stamp(v.Mountpoint),
    key: v.Labels?.[Labels.cacheKey] ?? '',
    mode: v.Labels?.[Labels.mode],
    createdAt: v.CreatedAt,
    inUse: daemons.some((c) => c.Names.some((n) => n.replace(/^\//, '') === `${v.Name}-dockerd`)),
    ...(sizes.has(v.Name) ? { size: sizes.get(v.Name) } : {}),
  }));
}

/** Parses 30s, 15m, 12h, 7d, 2w. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(s.trim());
  if (!m) return undefined;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

/** Removes caches not in use, last used (else created) more than `olderThanMs` ago (all unused ones when undefined). */
export async function pruneCaches(engine: Engine, olderThanMs: number | undefined, now: number): Promise<{ removed: string[]; kept: { volume: string; why: string }[] }> {
  const removed: string[] = [];
  const kept: { volume: string; why: string }[] = [];
  for (const c of await listCaches(engine)) {
    if (c.inUse) {
      kept.push({ volume: c.volume, why: 'in use by a run' });
      continue;
    }
    const used = c.lastUsed ? Date.parse(c.lastUsed) : NaN;
    const created = c.createdAt ? Date.parse(c.createdAt) : NaN;
    const ref = Number.isFinite(used) ? used : created;
    if (olderThanMs !== undefined && Number.isFinite(ref) && now - ref < olderThanMs) {
      kept.push({ volume: c.volume, why: `${Number.isFinite(used) ? 'last used' : 'created'} ${Math.round((now - ref) / 60_000)} min ago` });
      continue;
    }
    await removeVolume(engine, c.volume);
    removed.push(c.volume);
  }
  return { removed, kept };
}
