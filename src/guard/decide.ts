/**
 * decide(view, ctx): the guard's whole policy as a function of the request and ownership facts (no sockets).
 *
 * 1. The target is re-canonicalised from view.rawTarget (match.ts) the way Go + gorilla/mux read it; what moby would
 *    redirect or reject is refused. The forwarded target is always the canonical re-serialisation.
 * 2. Form-encoded bodies are refused (Go merges them into r.Form, ahead of the query).
 * 3. The route's handler (ROUTE_POLICY, one entry per route id, fail closed) checks and rewrites; JSON bodies are
 *    read as Go reads them (go-json.ts) and forwarded in canonical form.
 * decide() rejects only when the ownership oracle rejects (the server answers 502 then) or the signal aborts.
 */
import { GoJsonError, parseJson } from './go-json.js';
import { canonicalizeTarget, isDenial, matchRoute, serializeTarget, type Denial } from './match.js';
import { denied, requireOwned } from './ownership.js';
import { containerCreate, containerList, containerRename, containerUpdate, ownedContainerRoute, setParam } from './rules/container.js';
import { execCreate, ownedExecRoute } from './rules/exec.js';
import { build, imageCommit, imageCreate, imageDelete, imageLoad, imagePush, imageTag } from './rules/image.js';
import { networkConnect, networkCreate, ownedNetworkRoute } from './rules/network.js';
import type { HandlerResult, RouteHandler, RuleRequest } from './rules/request.js';
import { events, ownerFiltered } from './rules/system.js';
import { ownedVolumeRoute, volumeCreate } from './rules/volume.js';
import type { Decide, DecideContext, Decision, RouteDef } from './types.js';

const allow: RouteHandler = () => undefined;
const refuse =
  (rule: string): RouteHandler =>
  (req) =>
    denied(rule, 'route', req.route.id, req.route);
/** Plugins are refused, but inspect answers the daemon's 404: `docker inspect NAME` walks every object type and
 *  must end with "No such object", not a policy message about plugins. */
const pluginNotFound: RouteHandler = (req) => ({
  action: 'deny',
  route: req.route,
  status: 404,
  rule: 'no-plugin',
  message: `plugin "${req.params.name ?? ''}" not found`,
});
const validJson: RouteHandler = (req) => {
  const b = req.view.body;
  if (!b || b.length === 0) return denied('invalid-body', 'body', 'empty', req.route, 400);
  try {
    parseJson(b);
  } catch (e) {
    if (e instanceof GoJsonError) return denied('invalid-body', 'body', e.message, req.route, 400);
    throw e;
  }
  return undefined;
};
const systemDf: RouteHandler = () => ({ responseFilter: 'system-df' });
/** Images are shared for reading, but the list hides those carrying another owner's label (response-filter.ts). */
const imagesList: RouteHandler = () => ({ responseFilter: 'images-list' });
const ownedContainerJson: RouteHandler = async (req) => (await ownedContainerRoute(req)) ?? validJson(req);

/** Every route id has an explicit entry: a route without one is refused (fail closed). */
export const ROUTE_POLICY: Readonly<Record<string, RouteHandler>> = {
  // container
  'container-archive-head': ownedContainerRoute,
  'container-list': containerList,
  'container-export': ownedContainerRoute,
  'container-changes': ownedContainerRoute,
  'container-inspect': ownedContainerRoute,
  'container-top': ownedContainerRoute,
  'container-logs': ownedContainerRoute,
  'container-stats': ownedContainerRoute,
  'container-attach-ws': ownedContainerRoute,
  'container-archive-get': ownedContainerRoute,
  'container-create': containerCreate,
  'container-kill': ownedContainerRoute,
  'container-pause': ownedContainerRoute,
  'container-unpause': ownedContainerRoute,
  'container-restart': ownedContainerRoute,
  'container-start': ownedContainerRoute,
  'container-stop': ownedContainerRoute,
  'container-wait': ownedContainerRoute,
  'container-resize': ownedContainerRoute,
  'container-attach': ownedContainerRoute,
  'container-copy': ownedContainerJson,
  'container-rename': containerRename,
  'container-update': containerUpdate,
  'container-prune': ownerFiltered,
  'container-commit': imageCommit,
  'container-archive-put': ownedContainerRoute,
  'container-delete': ownedContainerRoute,
  // exec
  'exec-create': execCreate,
  'exec-start': ownedExecRoute,
  'exec-resize': ownedExecRoute,
  'exec-inspect': ownedExecRoute,
  // checkpoint
  'checkpoint-list': refuse('no-checkpoint'),
  'checkpoint-create': refuse('no-checkpoint'),
  'checkpoint-delete': refuse('no-checkpoint'),
  // image
  'image-list': imagesList,
  'image-search': allow,
  'image-get-all': allow,
  'image-get': allow,
  'image-history': allow,
  'image-inspect': allow,
  'image-attestations': allow,
  'image-load': imageLoad,
  'image-create': imageCreate,
  'image-push': imagePush,
  'image-tag': imageTag,
  'image-prune': ownerFiltered,
  'image-delete': imageDelete,
  // system
  'system-ping': allow,
  'system-ping-head': allow,
  'system-events': events,
  'system-info': allow,
  'system-version': allow,
  'system-df': systemDf,
  'system-auth': validJson,
  // volume
  'volume-list': ownerFiltered,
  'volume-inspect': ownedVolumeRoute,
  'volume-create': volumeCreate,
  'volume-prune': ownerFiltered,
  'volume-update': ownedVolumeRoute,
  'volume-delete': ownedVolumeRoute,
  // build
  build,
  'build-prune': refuse('system-wide'),
  'build-cancel': allow,
  // session / grpc / distribution
  session: allow,
  // the h2c connection is allowed; each gRPC call on it is decided by the proxy (grpc/buildkit.ts)
  grpc: allow,
  'distribution-inspect': allow,
  // network
  'network-list': ownerFiltered,
  'network-list-slash': ownerFiltered,
  'network-inspect': ownedNetworkRoute,
  'network-create': networkCreate,
  'network-connect': networkConnect,
  'network-disconnect': networkConnect,
  'network-prune': ownerFiltered,
  'network-delete': ownedNetworkRoute,
  // plugin, swarm, debug: refused
  ...Object.fromEntries(
    [
      'plugin-list', 'plugin-privileges', 'plugin-delete', 'plugin-enable', 'plugin-disable', 'plugin-pull',
      'plugin-push', 'plugin-upgrade', 'plugin-set', 'plugin-create',
    ].map((id) => [id, refuse('no-plugin')]),
  ),
  'plugin-inspect': pluginNotFound,
  ...Object.fromEntries(
    [
      'swarm-init', 'swarm-join', 'swarm-leave', 'swarm-inspect', 'swarm-unlockkey', 'swarm-update', 'swarm-unlock',
      'service-list', 'service-inspect', 'service-create', 'service-update', 'service-delete', 'service-logs',
      'node-list', 'node-inspect', 'node-delete', 'node-update', 'task-list', 'task-inspect', 'task-logs',
      'secret-list', 'secret-create', 'secret-delete', 'secret-inspect', 'secret-update',
      'config-list', 'config-create', 'config-delete', 'config-inspect', 'config-update',
    ].map((id) => [id, refuse('no-swarm')]),
  ),
  ...Object.fromEntries(
    ['debug-vars', 'debug-pprof-index', 'debug-pprof-cmdline', 'debug-pprof-profile', 'debug-pprof-symbol', 'debug-pprof-trace', 'debug-pprof-named'].map(
      (id) => [id, refuse('no-debug')],
    ),
  ),
};

function header(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

/** Go's ParseForm reads application/x-www-form-urlencoded bodies into r.Form (ahead of the query); FormValue may
 *  parse multipart too. Such a body could carry parameters the guard never saw in the target. */
function checkContentType(view: { headers: Record<string, string | string[] | undefined> }, route: RouteDef): Denial | undefined {
  const ct = header(view.headers['content-type']).split(';')[0]?.trim().toLowerCase() ?? '';
  if (ct === 'application/x-www-form-urlencoded' || ct.startsWith('multipart/')) return denied('bad-content-type', 'Content-Type', ct, route, 400);
  return undefined;
}

/**
 * Decisions of body-less requests that consulted nothing but the request and the guard's own owner and policy (no
 * ownership lookup, no host path resolution) are cached per decide context (one per guard): the same request gets
 * the same answer without being decided again. Anything that looked at an object or the filesystem is decided anew
 * every time. Bounded.
 */
const CACHE = new WeakMap<object, Map<string, Decision>>();
const CACHE_MAX = 2048;

function cacheKey(view: { method: string; rawTarget: string; headers: Record<string, string | string[] | undefined>; body: Buffer | undefined }): string | undefined {
  const bodyless = view.body === undefined || view.body.length === 0;
  return bodyless ? `${view.method} ${header(view.headers['content-type'])} ${view.rawTarget}` : undefined;
}

/** The decision decide() would return from its cache for this request, without a promise; undefined when not cached. */
export function cachedDecision(view: Parameters<Decide>[0], ctx: DecideContext): Decision | undefined {
  const key = cacheKey(view);
  return key === undefined ? undefined : CACHE.get(ctx)?.get(key);
}

export const decide: Decide = async (view, ctx) => {
  const key = cacheKey(view);
  if (key === undefined) return decideUncached(view, ctx);
  let cache = CACHE.get(ctx);
  const hit = cache?.get(key);
  if (hit) return hit;
  let consulted = false;
  const oracle = ctx.oracle;
  const tracked: DecideContext = {
    ...ctx,
    oracle: new Proxy(oracle, {
      get(target, prop, receiver) {
        const v: unknown = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          consulted = true;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }),
    resolveHostPath: (p) => {
      consulted = true;
      return ctx.resolveHostPath(p);
    },
  };
  const d = await decideUncached(view, tracked);
  if (!consulted) {
    if (!cache) CACHE.set(ctx, (cache = new Map()));
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, freeze(d));
  }
  return d;
};

const decideUncached: Decide = async (view, ctx) => {
  const t = canonicalizeTarget(view.rawTarget);
  if (isDenial(t)) return t;
  const m = matchRoute(view.method, t.path);
  if (isDenial(m)) return m;
  const route = m.route;
  const ct = checkContentType(view, route);
  if (ct) return ct;
  // A route without a body gets none forwarded (old API versions read a HostConfig from the body of start): the
  // body is dropped, not refused, because clients send harmless ones (dockerode's stop sends its options).
  const dropBody = route.body === 'none' && view.body !== undefined && view.body.length > 0;
  const handler = ROUTE_POLICY[route.id];
  if (!handler) return denied('unknown-route', 'route', route.id, route);
  const req: RuleRequest = { route, params: { ...m.params }, path: t.path, apiVersion: t.apiVersion, query: t.query, view, ctx, notes: [] };
  const r: HandlerResult = await handler(req);
  if (isDenial(r)) return r;
  if (dropBody) req.notes.push(`body dropped: ${route.id} takes none`);
  const d: Decision = {
    action: 'forward',
    route,
    rewrite: {
      target: serializeTarget(req.path, req.apiVersion, req.query),
      ...(r?.body ? { body: r.body } : dropBody ? { body: Buffer.alloc(0) } : {}),
    },
    ...(r?.responseFilter ? { responseFilter: r.responseFilter } : {}),
    ...(r?.uploadCheck ? { uploadCheck: r.uploadCheck } : {}),
    ...(route.kind === 'hijack' || route.kind === 'h2c' ? { tunnel: route.kind } : {}),
    ...(req.notes.length ? { notes: req.notes } : {}),
  };
  return d;
};

function freeze(d: Decision): Decision {
  if (d.action === 'forward') {
    if (d.rewrite) Object.freeze(d.rewrite);
    if (d.notes) Object.freeze(d.notes);
  }
  return Object.freeze(d);
}

export { requireOwned, setParam };
