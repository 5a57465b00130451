/**
 * OwnershipOracle against the upstream engine: inspect calls, as the daemon resolves references (full id, name, or
 * unique id prefix), so the decider sees exactly the object the daemon would act on.
 *
 * Caching: only lookups by *full id* are cached (ids are never reused), for a short TTL; names and prefixes always
 * ask the daemon, because another owner may create an object with that name at any moment. Negative answers are
 * never cached. `forget(id)` drops an entry (the server calls it after a DELETE).
 *
 * `countOwned(kind)` counts what the owner has now, by listing with the owner label filter (never cached: a quota
 * must see the last create). Containers are counted in every state (`all=true`): a stopped container still holds
 * its name, its writable layer and its volumes until it is removed, so `docker rm` is what frees a slot.
 * `ownedLimits()` inspects each of them for the per-job quotas (never cached either).
 */
import type { Engine } from '../engine/client.js';
import { EngineError } from '../util/errors.js';
import { Labels } from '../util/labels.js';
import type { ContainerLimits, HostSource, ObjectKind, OwnedRef, OwnershipOracle } from './types.js';

export interface EngineOracleOptions {
  owner: string;
  /** cache lifetime of a positive lookup by full id, in ms (default 2000; 0 disables the cache) */
  ttlMs?: number;
  now?: () => number;
}

interface Inspected {
  id: string;
  labels: Record<string, string> | null | undefined;
  /** for execs: the container it runs in */
  containerId?: string | undefined;
}

const FULL_ID = /^[0-9a-f]{64}$/;

export class EngineOracle implements OwnershipOracle {
  readonly #engine: Engine;
  readonly #owner: string;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { ref: OwnedRef; until: number }>();

  constructor(engine: Engine, opts: EngineOracleOptions) {
    this.#engine = engine;
    this.#owner = opts.owner;
    this.#ttl = opts.ttlMs ?? 2000;
    this.#now = opts.now ?? Date.now;
  }

  /** Drops every cached entry for this id (after the object was removed or changed). */
  forget(id: string): void {
    for (const k of this.#cache.keys()) if (k.endsWith(`:${id}`)) this.#cache.delete(k);
  }

  async lookup(kind: ObjectKind, idOrName: string, signal?: AbortSignal): Promise<OwnedRef | undefined> {
    const key = `${kind}:${idOrName}`;
    const hit = this.#cache.get(key);
    if (hit && hit.until > this.#now()) return hit.ref;
    if (hit) this.#cache.delete(key);
    const ins = await this.#inspect(kind, idOrName, signal);
    if (!ins) return undefined;
    let owned: boolean;
    if (kind === 'exec') {
      if (!ins.containerId) return undefined;
      const c = await this.lookup('container', ins.containerId, signal);
      owned = c?.owned ?? false;
    } else owned = ins.labels?.[Labels.owner] === this.#owner;
    const ref: OwnedRef = { id: ins.id, owned };
    if (this.#ttl > 0 && (FULL_ID.test(idOrName) || (kind === 'volume' && idOrName === ins.id))) {
      this.#cache.set(key, { ref, until: this.#now() + this.#ttl });
    }
    return ref;
  }

  async countOwned(kind: ObjectKind, signal?: AbortSignal): Promise<number> {
    const filters = JSON.stringify({ label: { [`${Labels.owner}=${this.#owner}`]: true } });
    switch (kind) {
      case 'container': {
        const l = await this.#engine.json<unknown[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters }, signal });
        return l.length;
      }
      case 'network':
        return (await this.#engine.json<unknown[]>({ method: 'GET', path: '/networks', query: { filters }, signal })).length;
      case 'volume':
        return ((await this.#engine.json<{ Volumes?: unknown[] | null }>({ method: 'GET', path: '/volumes', query: { filters }, signal })).Volumes ?? []).length;
      case 'image':
        return (await this.#engine.json<unknown[]>({ method: 'GET', path: '/images/json', query: { filters }, signal })).length;
      case 'exec': {
        // execs have no labels: those of the owner's containers (the daemon keeps them until their container goes)
        const l = await this.#engine.json<{ Id: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters }, signal });
        let n = 0;
        for (const c of l) {
          const j = await this.#engine.json<{ ExecIDs?: string[] | null }>({ method: 'GET', path: `/containers/${c.Id}/json`, signal });
          n += (j.ExecIDs ?? []).length;
        }
        return n;
      }
    }
  }

  async ownedLimits(signal?: AbortSignal): Promise<ContainerLimits[]> {
    const filters = JSON.stringify({ label: { [`${Labels.owner}=${this.#owner}`]: true } });
    const list = await this.#engine.json<{ Id: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters }, signal });
    const out: ContainerLimits[] = [];
    for (const c of list) {
      let hc: { Memory?: number; NanoCpus?: number; CpuQuota?: number; CpuPeriod?: number; PidsLimit?: number | null };
      try {
        hc = (await this.#engine.json<{ HostConfig?: typeof hc }>({ method: 'GET', path: `/containers/${c.Id}/json`, signal })).HostConfig ?? {};
      } catch (err) {
        if (err instanceof EngineError && err.statusCode === 404) continue; // removed meanwhile
        throw err;
      }
      const quota = hc.CpuQuota ?? 0;
      const nano = (hc.NanoCpus ?? 0) > 0 ? hc.NanoCpus! : quota > 0 ? Math.floor((quota * 1e9) / ((hc.CpuPeriod ?? 0) > 0 ? hc.CpuPeriod! : 100_000)) : 0;
      out.push({ id: c.Id, memoryBytes: Math.max(0, hc.Memory ?? 0), nanoCpus: nano, pidsLimit: Math.max(0, hc.PidsLimit ?? 0) });
    }
    return out;
  }

  async lookupImageRef(ref: string, signal?: AbortSignal): Promise<OwnedRef | undefined> {
    const ins = await this.#inspect('image', ref, signal);
    if (!ins) return undefined;
    return { id: ins.id, owned: ins.labels?.[Labels.owner] === this.#owner };
  }

  async hostSources(containerId: string, signal?: AbortSignal): Promise<HostSource[] | undefined> {
    let j: { HostConfig?: { Binds?: string[] | null; Mounts?: { Type?: string; Source?: string }[] | null }; Mounts?: { Type?: string; Name?: string }[] | null };
    try {
      j = await this.#engine.json({ method: 'GET', path: `/containers/${encodeURIComponent(containerId)}/json`, signal });
    } catch (err) {
      if (err instanceof EngineError && err.statusCode === 404) return undefined;
      throw err;
    }
    const out: HostSource[] = [];
    (j.HostConfig?.Binds ?? []).forEach((b, i) => {
      // SOURCE:TARGET[:MODE]; a source without a leading / is a named volume (checked below with the mounts)
      const src = b.split(':')[0] ?? '';
      if (src.startsWith('/')) out.push({ field: `HostConfig.Binds[${i}]`, path: src });
    });
    (j.HostConfig?.Mounts ?? []).forEach((m, i) => {
      if (m.Type === 'bind' && m.Source) out.push({ field: `HostConfig.Mounts[${i}].Source`, path: m.Source });
    });
    for (const m of j.Mounts ?? []) {
      if (m.Type !== 'volume' || !m.Name) continue;
      const device = await this.volumeBindDevice(m.Name, signal);
      if (device) out.push({ field: `volume ${m.Name} device`, path: device });
    }
    return out;
  }

  async imageLabels(ref: string, signal?: AbortSignal): Promise<Record<string, string> | undefined> {
    const ins = await this.#inspect('image', ref, signal);
    return ins ? (ins.labels ?? {}) : undefined;
  }

  async imageExposedPorts(ref: string, signal?: AbortSignal): Promise<string[] | undefined> {
    let j: { Config?: { ExposedPorts?: Record<string, unknown> | null } | null };
    try {
      j = await this.#engine.json({ method: 'GET', path: `/images/${encodeURIComponent(ref)}/json`, signal });
    } catch (err) {
      if (err instanceof EngineError && (err.statusCode === 404 || err.statusCode === 400)) return undefined;
      throw err;
    }
    return Object.keys(j.Config?.ExposedPorts ?? {});
  }

  async volumeBindDevice(name: string, signal?: AbortSignal): Promise<string | undefined> {
    if (name === '' || name.includes('\0')) return undefined;
    let v: { Driver?: string; Options?: Record<string, string> | null };
    try {
      v = await this.#engine.json({ method: 'GET', path: `/volumes/${encodeURIComponent(name)}`, signal });
    } catch (err) {
      if (err instanceof EngineError && (err.statusCode === 404 || err.statusCode === 400)) return undefined;
      throw err;
    }
    const o = v.Options ?? {};
    return (v.Driver ?? 'local') === 'local' && o.device && /(^|,)r?bind(,|$)/.test(o.o ?? '') ? o.device : undefined;
  }

  async #inspect(kind: ObjectKind, idOrName: string, signal?: AbortSignal): Promise<Inspected | undefined> {
    if (idOrName === '' || idOrName.includes('\0')) return undefined;
    const e = encodeURIComponent(idOrName);
    const path = {
      container: `/containers/${e}/json`,
      exec: `/exec/${e}/json`,
      network: `/networks/${e}`,
      volume: `/volumes/${e}`,
      image: `/images/${e}/json`,
    }[kind];
    let j: Record<string, unknown>;
    try {
      j = await this.#engine.json<Record<string, unknown>>({ method: 'GET', path, signal });
    } catch (err) {
      // 404: no such object. 400 happens for malformed references (e.g. an invalid image reference).
      if (err instanceof EngineError && (err.statusCode === 404 || err.statusCode === 400)) return undefined;
      throw err;
    }
    switch (kind) {
      case 'container':
        return { id: String(j.Id), labels: (j.Config as { Labels?: Record<string, string> } | undefined)?.Labels };
      case 'image':
        return { id: String(j.Id), labels: (j.Config as { Labels?: Record<string, string> } | undefined)?.Labels };
      case 'network':
        return { id: String(j.Id), labels: j.Labels as Record<string, string> | undefined };
      case 'volume':
        return { id: String(j.Name), labels: j.Labels as Record<string, string> | undefined };
      case 'exec':
        return { id: String(j.ID), labels: undefined, containerId: typeof j.ContainerID === 'string' ? j.ContainerID : undefined };
    }
  }
}
