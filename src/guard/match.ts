/**
 * Request-target canonicalisation and route matching, the way moby's router reads a target:
 *
 * - Go's net/http parses the origin-form target (`url.ParseRequestURI`): the path is percent-decoded (invalid escapes
 *   are a 400), `+` stays `+` in the path; the query is parsed by `url.ParseQuery` (split on `&`, a `;` is an error
 *   since Go 1.17, `+` is a space, invalid escapes are errors). moby's handlers read `r.Form`.
 * - gorilla/mux matches the DECODED path (moby does not set UseEncodedPath), so `%2F` is a `/`; before matching it
 *   compares the path with `cleanPath(path)` (path.Clean, keeping a trailing slash) and answers a 301 redirect when
 *   they differ. We refuse such paths (`ambiguous-path`): what a client meant by `/a/../b` is not for us to guess.
 * - Every route exists twice: `/v{version:[0-9.]+}` + template, and the bare template. We accept only `vX.Y`.
 * - Templates: `{name}` matches `[^/]+`, `{name:re}` matches `re` (e.g. greedy `.*`, names may contain slashes),
 *   anchored; the first route in registration order whose path and method match wins. A path that matches only with
 *   another method is refused as `method-not-allowed` (moby answers 404 "page not found"). HEAD is only accepted on
 *   routes registered for HEAD (moby registers GET routes for GET only).
 */
import { ROUTES } from './routes/index.js';
import type { Decision, RouteDef } from './types.js';

export interface CanonicalTarget {
  /** decoded path without the version prefix */
  path: string;
  /** "1.41" when the target had /v1.41, else undefined */
  apiVersion: string | undefined;
  /** the query as Go's url.ParseQuery reads it: every pair in order */
  query: URLSearchParams;
}

export type Denial = Extract<Decision, { action: 'deny' }>;

export interface RouteMatch {
  route: RouteDef;
  /** template variables, decoded */
  params: Record<string, string>;
}

function deny(status: Denial['status'], rule: string, message: string, route?: RouteDef): Denial {
  return { action: 'deny', route, status, rule, message: `nestling guard: denied by rule ${rule}: ${message}` };
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/** The oldest API version the guard forwards (1.24: the start route stopped reading a HostConfig body). */
export const MIN_GUARDED_API_MINOR = 24;

/** Go's url unescape: every `%` must start a valid escape. Returns undefined on an invalid escape or non-UTF-8. */
function unescapeGo(s: string, plusIsSpace: boolean): string | undefined {
  if (!s.includes('%') && !(plusIsSpace && s.includes('+'))) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const h = s.slice(i + 1, i + 3);
      if (!HEX.test(h)) return undefined;
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (plusIsSpace && c === 0x2b) {
      bytes.push(0x20);
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i] ?? '', 'utf8')) bytes.push(b);
    }
  }
  const buf = Buffer.from(bytes);
  const out = buf.toString('utf8');
  // Go keeps invalid UTF-8 bytes as they are; JS cannot represent them, so such a target is refused.
  if (!Buffer.from(out, 'utf8').equals(buf)) return undefined;
  return out;
}

/** path.Clean, as Go defines it (lexical). */
export function goPathClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** gorilla/mux cleanPath: path.Clean, rooted, keeping a trailing slash. */
export function muxCleanPath(p: string): string {
  if (p === '') return '/';
  if (!p.startsWith('/')) p = '/' + p;
  let np = goPathClean(p);
  if (p.endsWith('/') && np !== '/') np += '/';
  return np;
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Parses a request target the way Go + gorilla/mux would, refusing what they would redirect or reject. */
export function canonicalizeTarget(rawTarget: string): CanonicalTarget | Denial {
  if (!rawTarget.startsWith('/')) return deny(400, 'bad-target', `target=${JSON.stringify(rawTarget.slice(0, 200))} (origin-form only)`);
  if (CONTROL.test(rawTarget) || rawTarget.includes(' ') || rawTarget.includes('#')) {
    return deny(400, 'bad-target', `target=${JSON.stringify(rawTarget.slice(0, 200))}`);
  }
  const q = rawTarget.indexOf('?');
  const rawPath = q < 0 ? rawTarget : rawTarget.slice(0, q);
  const rawQuery = q < 0 ? '' : rawTarget.slice(q + 1);
  const decoded = unescapeGo(rawPath, false);
  if (decoded === undefined || CONTROL.test(decoded)) return deny(400, 'bad-target', `path=${JSON.stringify(rawPath.slice(0, 200))}`);
  if (muxCleanPath(decoded) !== decoded) return deny(400, 'ambiguous-path', `path=${JSON.stringify(decoded.slice(0, 200))}`);
  let path = decoded;
  let apiVersion: string | undefined;
  const vm = /^\/v([0-9.]+)(\/.*)$/.exec(decoded);
  if (vm) {
    if (!/^\d{1,3}\.\d{1,3}$/.test(vm[1] ?? '')) return deny(400, 'bad-api-version', `version=${vm[1] ?? ''}`);
    const [major = 0, minor = 0] = (vm[1] ?? '').split('.').map(Number);
    // Below 1.24 the daemon reads a HostConfig from the body of POST /containers/{id}/start, among other legacy
    // behaviours the decider does not model: refused.
    if (major < 1 || (major === 1 && minor < MIN_GUARDED_API_MINOR)) return deny(400, 'bad-api-version', `version=${vm[1] ?? ''} (the guard needs 1.${MIN_GUARDED_API_MINOR} or newer)`);
    apiVersion = vm[1];
    path = vm[2] ?? '/';
  }
  const query = parseGoQuery(rawQuery);
  if (query === undefined) return deny(400, 'bad-query', `query=${JSON.stringify(rawQuery.slice(0, 200))}`);
  return { path, apiVersion, query };
}

/** url.ParseQuery, refusing what Go reports as an error (a `;`, an invalid escape). */
export function parseGoQuery(raw: string): URLSearchParams | undefined {
  const out = new URLSearchParams();
  if (raw === '') return out;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    if (pair.includes(';')) return undefined;
    const eq = pair.indexOf('=');
    const k = unescapeGo(eq < 0 ? pair : pair.slice(0, eq), true);
    const v = unescapeGo(eq < 0 ? '' : pair.slice(eq + 1), true);
    if (k === undefined || v === undefined) return undefined;
    out.append(k, v);
  }
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface Compiled {
  route: RouteDef;
  re: RegExp;
  names: string[];
}

/** A moby path template as an anchored regexp, variables as capture groups. */
export function compileTemplate(template: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  let src = '^';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      src += escapeRe(template.slice(i));
      break;
    }
    src += escapeRe(template.slice(i, open));
    const close = template.indexOf('}', open);
    const inner = template.slice(open + 1, close);
    const colon = inner.indexOf(':');
    names.push(colon < 0 ? inner : inner.slice(0, colon));
    src += `(${colon < 0 ? '[^/]+' : inner.slice(colon + 1)})`;
    i = close + 1;
  }
  return { re: new RegExp(src + '$', 's'), names };
}

const COMPILED: readonly Compiled[] = ROUTES.map((route) => ({ route, ...compileTemplate(route.path) }));

/** The first path segment of a template or path ("" when it starts with a variable). */
function firstSegment(p: string): string {
  const end = p.indexOf('/', 1);
  const seg = end < 0 ? p.slice(1) : p.slice(1, end);
  return seg.includes('{') ? '' : seg;
}

/** Routes by first segment, each list in registration order (every template starts with a literal segment). */
const BY_FIRST_SEGMENT: ReadonlyMap<string, readonly Compiled[]> = (() => {
  const m = new Map<string, Compiled[]>();
  for (const c of COMPILED) {
    const k = firstSegment(c.route.path);
    if (k === '') throw new Error(`route ${c.route.id}: a template must start with a literal segment`);
    m.set(k, [...(m.get(k) ?? []), c]);
  }
  return m;
})();

/** Finds the route for a canonical (version-less) path, in registration order. */
export function matchRoute(method: string, path: string): RouteMatch | Denial {
  let pathMatched: RouteDef | undefined;
  for (const c of BY_FIRST_SEGMENT.get(firstSegment(path)) ?? []) {
    const m = c.re.exec(path);
    if (!m) continue;
    if (c.route.method !== method) {
      pathMatched ??= c.route;
      continue;
    }
    const params: Record<string, string> = {};
    c.names.forEach((n, idx) => (params[n] = m[idx + 1] ?? ''));
    return { route: c.route, params };
  }
  if (pathMatched) return deny(405, 'method-not-allowed', `${method} ${path}`);
  return deny(403, 'unknown-route', `${method} ${path}`);
}

function encodePathGo(p: string): string {
  // Go's shouldEscape(encodePath) leaves unreserved characters and $&+,/:;=@ as they are.
  return encodeURIComponent(p).replace(/%(24|26|2B|2C|2F|3A|3B|3D|40)/gi, (s) => decodeURIComponent(s));
}

/** Re-serialises a canonical target for the upstream: what is forwarded is what was matched and checked. */
export function serializeTarget(path: string, apiVersion: string | undefined, query: URLSearchParams): string {
  const qs: string[] = [];
  for (const [k, v] of query) qs.push(`${encodeQueryGo(k)}=${encodeQueryGo(v)}`);
  return (apiVersion ? `/v${apiVersion}` : '') + encodePathGo(path) + (qs.length ? `?${qs.join('&')}` : '');
}

function encodeQueryGo(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}

export function isDenial(x: unknown): x is Denial {
  return typeof x === 'object' && x !== null && (x as { action?: unknown }).action === 'deny';
}
