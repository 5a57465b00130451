/**
 * Ownership helpers for rules: look objects up through ctx.oracle and answer what the daemon would answer for an
 * object that does not exist, so a job cannot tell another job's object from no object at all.
 */
import { Labels, LABEL_PREFIX } from '../util/labels.js';
import { GoJsonError, decodeTyped, newObject, parseJson, serializeGo, type GoObject } from './go-json.js';
import type { Denial } from './match.js';
import type { DecideContext, ObjectKind, OwnedRef, RouteDef } from './types.js';
import { denialMessage } from './types.js';

/** The daemon's own wording for a missing object (moby errdefs.NotFound messages). */
export function notFoundMessage(kind: ObjectKind, name: string): string {
  switch (kind) {
    case 'container':
      return `No such container: ${name}`;
    case 'network':
      return `network ${name} not found`;
    case 'volume':
      return `get ${name}: no such volume`;
    case 'exec':
      return `No such exec instance: ${name}`;
    case 'image':
      return `No such image: ${name}`;
  }
}

export function notFound(kind: ObjectKind, name: string, route: RouteDef | undefined): Denial {
  return { action: 'deny', route, status: 404, rule: 'not-found', message: notFoundMessage(kind, name) };
}

export function denied(rule: string, field: string, value: unknown, route: RouteDef | undefined, status: Denial['status'] = 403): Denial {
  return { action: 'deny', route, status, rule, message: denialMessage(rule, field, value) };
}

/**
 * ctx.oracle.lookup for a reference a request names. The daemon reads a container name with or without its leading
 * `/` (`container:/db`), but the oracle's inspect `/containers/%2Fdb/json` is a path the daemon redirects (301), as
 * is any reference with an empty, `.` or `..` segment: the slash is dropped for containers, and such references
 * (which name no object: names and ids have no slashes) are missing.
 */
export async function lookupRef(ctx: DecideContext, kind: ObjectKind, name: string): Promise<OwnedRef | undefined> {
  const n = kind === 'container' && name.startsWith('/') ? name.slice(1) : name;
  if (n.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) return undefined;
  return ctx.oracle.lookup(kind, n, ctx.signal);
}

/** The object if this owner owns it; a daemon-worded 404 otherwise (not owned and missing look the same). */
export async function requireOwned(ctx: DecideContext, kind: ObjectKind, name: string, route: RouteDef | undefined): Promise<OwnedRef | Denial> {
  if (name === '') return notFound(kind, name, route);
  const ref = await lookupRef(ctx, kind, name);
  if (!ref || !ref.owned) return notFound(kind, name, route);
  return ref;
}

/** Refuses labels under io.nestling.* (the job may not spoof ownership) and adds the owner label. */
export function applyOwnerLabel(labels: GoObject | undefined, owner: string, field: string, route: RouteDef | undefined): GoObject | Denial {
  const out = labels ?? newObject();
  for (const k of Object.keys(out)) {
    if (k.toLowerCase().startsWith(LABEL_PREFIX)) return denied('reserved-label', `${field}.${k}`, out[k], route);
  }
  out[Labels.owner] = owner;
  return out;
}

/**
 * Parses a `filters` query value as moby's filters.FromJSON does (the map form `{"label":{"a=b":true}}`, else the
 * legacy `{"label":["a=b"]}`), adds `label=io.nestling.owner=<owner>` (filters of one key are ANDed for labels, so
 * this only narrows), and returns the new value in the map form.
 */
export function mergeOwnerFilter(raw: string | null, owner: string): string | undefined {
  let args: GoObject = newObject();
  if (raw !== null && raw !== '') {
    const parsed = parseFilters(raw);
    if (parsed === undefined) return undefined;
    args = parsed;
  }
  const labels = (args.label && typeof args.label === 'object' && !Array.isArray(args.label) ? args.label : newObject()) as GoObject;
  labels[`${Labels.owner}=${owner}`] = true;
  args.label = labels;
  return serializeGo(args);
}

/** A non-empty `filters` value as moby's filters.FromJSON reads it, in the map form; undefined when it is not one. */
export function parseFilters(raw: string): GoObject | undefined {
  let args: GoObject = newObject();
  {
    let node;
    try {
      node = parseJson(raw);
    } catch {
      return undefined;
    }
    let decoded: unknown;
    try {
      decoded = decodeTyped(node, 'map:map:bool', 'filters');
    } catch (e) {
      if (!(e instanceof GoJsonError)) throw e;
      try {
        const legacy = decodeTyped(node, 'map:slice:string', 'filters');
        const m = newObject();
        for (const [k, vs] of Object.entries((legacy ?? {}) as Record<string, string[] | null>)) {
          const inner = newObject();
          for (const v of vs ?? []) inner[v] = true;
          m[k] = inner;
        }
        decoded = m;
      } catch (e2) {
        if (!(e2 instanceof GoJsonError)) throw e2;
        return undefined;
      }
    }
    if (decoded === null || decoded === undefined) decoded = newObject();
    args = decoded as GoObject;
  }
  return args;
}
