/**
 * Test helpers for the decider (used by its unit tests and golden fixtures): a fake ownership oracle from a table
 * and a RequestView builder. Not used by the guard itself.
 */
import { defaultPolicy } from '../policy.js';
import type { DecideContext, EffectivePolicy, ObjectKind, OwnedRef, PathMapping, RequestView } from '../types.js';

export interface FakeWorld {
  /** kind -> name/id/prefix -> ref */
  objects?: Partial<Record<ObjectKind, Record<string, OwnedRef>>>;
  /** image references (normalised, e.g. busybox:latest) -> ref */
  images?: Record<string, OwnedRef>;
  /** host symlinks: path prefix -> target (applied once, longest prefix) */
  symlinks?: Record<string, string>;
  policy?: Partial<EffectivePolicy>;
  mappings?: PathMapping[];
  jobNetwork?: string;
  owner?: string;
}

export function fakeContext(w: FakeWorld = {}): DecideContext {
  const links = Object.entries(w.symlinks ?? {}).sort((a, b) => b[0].length - a[0].length);
  return {
    owner: w.owner ?? 'job-1',
    policy: { ...defaultPolicy(), ...(w.policy ?? {}) },
    mappings: w.mappings ?? [],
    jobNetwork: w.jobNetwork,
    resolveHostPath: (p: string) => {
      for (const [from, to] of links) {
        if (p === from || p.startsWith(from + '/')) return Promise.resolve(to + p.slice(from.length));
      }
      return Promise.resolve(p);
    },
    oracle: {
      lookup: (kind: ObjectKind, idOrName: string) => Promise.resolve(w.objects?.[kind]?.[idOrName]),
      lookupImageRef: (ref: string) => Promise.resolve(w.images?.[ref]),
      countOwned: (kind: ObjectKind) => Promise.resolve(Object.values(w.objects?.[kind] ?? {}).filter((r) => r.owned).length),
      // the golden worlds' containers mount no host paths
      hostSources: () => Promise.resolve([]),
      volumeBindDevice: () => Promise.resolve(undefined),
      imageLabels: () => Promise.resolve({}),
    },
  };
}

export function makeView(method: string, rawTarget: string, body?: unknown, headers: Record<string, string> = {}): RequestView {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { method, rawTarget, path: rawTarget.split('?')[0] ?? '', apiVersion: undefined, query: new URLSearchParams(rawTarget.split('?')[1] ?? ''), headers, body: b };
}
