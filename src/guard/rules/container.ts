/**
 * Container routes: create (every HostConfig rule, owner label, forced defaults, quotas, per-job network), update
 * (no escalation), commit (owner label, no tag over another owner's tag), and every by-name route (owned only,
 * rewritten to the full id).
 */
import { asObject, asString, GoJsonError, newObject, readGoBody, serializeGo, serializeGoBuffer, type BodyRoot, type GoObject } from '../go-json.js';
import { applyOwnerLabel, denied, lookupRef, parseFilters, requireOwned } from '../ownership.js';
import { isDenial, type Denial } from '../match.js';
import type { RouteDef } from '../types.js';
import { checkDevices } from './devices.js';
import { checkHostSource, checkMounts, labelAnonymousVolumes, parseBind } from './mounts.js';
import { cleanHostPath } from '../path-rewrite.js';
import { LABEL_PREFIX, Labels } from '../../util/labels.js';
import { checkNamespaces } from './namespaces.js';
import { checkHostPorts, checkPublishedCount, countBindings } from './ports.js';
import { checkCaps, checkMaskedPaths, checkOomScoreAdj, checkPrivileged, checkSecurityOpts } from './privilege.js';
import { applyQuotas, checkJobQuotas } from './quotas.js';
import type { HandlerResult, RuleRequest } from './request.js';
import { applyCgroupParent, checkLogDriver, checkRuntime, checkSysctls } from './runtime.js';
import { ownerFiltered } from './system.js';

/** Reads the body of a JSON route as the daemon would; a denial when it cannot. `allowEmpty` = {} for no body. */
export function readBody(req: RuleRequest, root: BodyRoot, allowEmpty = false): GoObject | Denial {
  const b = req.view.body;
  if (!b || b.length === 0 || /^\s*$/.test(b.toString('latin1'))) {
    if (allowEmpty) return newObject();
    return denied('invalid-body', 'body', 'empty', req.route, 400);
  }
  try {
    return readGoBody(b, root);
  } catch (e) {
    if (e instanceof GoJsonError) return denied('invalid-body', e.field || 'body', e.message, req.route, 400);
    throw e;
  }
}

/** A forced user (policy defaults.user): set when unset, refused when different. */
export function applyForcedUser(obj: GoObject, forced: string | undefined, field: string, route: RouteDef): Denial | undefined {
  if (!forced) return undefined;
  const u = asString(obj.User);
  if (u !== '' && u !== forced) return denied('forced-user', field, u, route);
  obj.User = forced;
  return undefined;
}

const SPECIAL_NETWORKS = new Set(['', 'default', 'bridge', 'none']);

/**
 * `-P` publishes every exposed port (the request's and the image's) on an ephemeral host port: counted against the
 * published-ports quota with the explicit bindings.
 */
async function checkPublishAll(body: GoObject, hc: GoObject, req: RuleRequest): Promise<Denial | undefined> {
  if (hc.PublishAllPorts !== true) return undefined;
  const exposed = new Set<string>(Object.keys(asObject(body.ExposedPorts) ?? {}));
  if (req.ctx.oracle.imageExposedPorts && typeof body.Image === 'string' && body.Image !== '') {
    for (const k of (await req.ctx.oracle.imageExposedPorts(body.Image, req.ctx.signal)) ?? []) exposed.add(k);
  }
  // ports with explicit bindings use those (counted there); each other exposed port gets an ephemeral one
  const bindings = asObject(hc.PortBindings) ?? {};
  const unbound = [...exposed].filter((k) => !(k in bindings)).length;
  return checkPublishedCount(countBindings(hc) + unbound, 'HostConfig.PublishAllPorts', req.ctx.policy, req.route);
}

/** User-defined networks named by NetworkMode or NetworkingConfig must be owned; the default may be rewritten. */
async function checkNetworks(body: GoObject, hc: GoObject, req: RuleRequest): Promise<Denial | undefined> {
  const { ctx, route } = req;
  let mode = asString(hc.NetworkMode);
  if ((mode === '' || mode === 'default') && ctx.jobNetwork) {
    hc.NetworkMode = ctx.jobNetwork;
    req.notes.push(`NetworkMode ${mode || '(default)'} -> ${ctx.jobNetwork}`);
    mode = ctx.jobNetwork;
  }
  const nc = asObject(body.NetworkingConfig);
  const eps = asObject(nc?.EndpointsConfig);
  const names = new Set<string>();
  if (!SPECIAL_NETWORKS.has(mode) && mode !== 'host' && !mode.startsWith('container:')) names.add(mode);
  for (const k of Object.keys(eps ?? {})) if (!SPECIAL_NETWORKS.has(k)) names.add(k);
  for (const n of names) {
    if (n === ctx.jobNetwork) continue;
    const ref = await requireOwned(ctx, 'network', n, route);
    if (isDenial(ref)) return ref;
  }
  return undefined;
}

/** Every HostConfig rule shared by create (and, for the resource subset, update). */
export async function checkHostConfig(hc: GoObject, req: RuleRequest): Promise<Denial | undefined> {
  const { ctx, route } = req;
  const p = ctx.policy;
  return (
    checkPrivileged(hc, route) ??
    checkCaps(hc, p.allowCaps, route) ??
    checkSecurityOpts(
      (Array.isArray(hc.SecurityOpt) ? hc.SecurityOpt : []).map((x) => asString(x)),
      'HostConfig.SecurityOpt',
      route,
    ) ??
    checkMaskedPaths(hc, route) ??
    checkDevices(hc, route) ??
    checkRuntime(hc, p, route) ??
    applyCgroupParent(hc, p, route) ??
    checkSysctls(hc, route) ??
    checkOomScoreAdj(hc, route) ??
    checkLogDriver(hc, route) ??
    checkHostPorts(hc, p, route) ??
    applyQuotas(hc, p, route, 'create') ??
    (await checkNamespaces(hc, ctx, route, req.notes)) ??
    (await checkMounts(hc, ctx, route, req.notes))
  );
}

export async function containerCreate(req: RuleRequest): Promise<HandlerResult> {
  const { ctx, route } = req;
  const body = readBody(req, 'container-create');
  if (isDenial(body)) return body;
  const name = req.query.get('name') ?? '';
  if (req.query.getAll('name').length > 1) return denied('bad-query', 'name', req.query.getAll('name').join(','), route, 400);
  if (name !== '') {
    const existing = await lookupRef(ctx, 'container', name);
    if (existing && !existing.owned && !resolvedByPrefix(existing.id, name)) return denied('name-conflict', 'name', name, route, 409);
  }
  const perJob = ctx.policy.quotas.containersPerJob;
  if (perJob !== undefined) {
    if (!ctx.oracle.countOwned) return denied('quota', 'containersPerJob', `${perJob} (this guard cannot count containers)`, route);
    const n = await ctx.oracle.countOwned('container', ctx.signal);
    if (n >= perJob) return denied('quota', 'containersPerJob', `${perJob} (the job has ${n})`, route);
  }
  // Always send an inner HostConfig: 20.10 daemons otherwise read deprecated top-level HostConfig fields.
  const hc = asObject(body.HostConfig) ?? newObject();
  body.HostConfig = hc;
  const labels = applyOwnerLabel(asObject(body.Labels), ctx.owner, 'Labels', route);
  if (isDenial(labels)) return labels;
  body.Labels = labels;
  const u = applyForcedUser(body, ctx.policy.defaults.user, 'User', route);
  if (u) return u;
  const d =
    (await checkHostConfig(hc, req)) ??
    (await checkNetworks(body, hc, req)) ??
    (await checkJobQuotas(hc, ctx, route)) ??
    (await checkRestartWithHostPaths(hc, req)) ??
    (await checkPublishAll(body, hc, req));
  if (d) return d;
  // Looked up after every refusal: a request the policy refuses needs no engine.
  await emptyInheritedLabels(body, labels as GoObject, req);
  labelAnonymousVolumes(body, hc, ctx.owner, req.notes);
  return { body: serializeGoBuffer(body) };
}

/**
 * A container inherits its image's labels under its own. nestling's own labels (run, role, pid, managed ...) on an
 * image the job built or pulled would make the job's container look like part of some nestling run to the run
 * reaper and the cache lock; they are overridden with empty values in `labels` (which every reader ignores).
 */
async function emptyInheritedLabels(body: GoObject, labels: GoObject, req: RuleRequest): Promise<void> {
  const { ctx } = req;
  if (!ctx.oracle.imageLabels || typeof body.Image !== 'string' || body.Image === '') return;
  const inherited = (await ctx.oracle.imageLabels(body.Image, ctx.signal)) ?? {};
  for (const k of Object.keys(inherited)) {
    if (k.startsWith(LABEL_PREFIX) && k !== Labels.owner) {
      labels[k] = '';
      req.notes.push(`label ${k} inherited from the image: emptied`);
    }
  }
}

/** Update: the resource subset of HostConfig plus RestartPolicy. Nothing here may escalate. */
export async function containerUpdate(req: RuleRequest): Promise<HandlerResult> {
  const { ctx, route } = req;
  const ref = await requireOwned(ctx, 'container', req.params.name ?? '', route);
  if (isDenial(ref)) return ref;
  const body = readBody(req, 'container-update');
  if (isDenial(body)) return body;
  const d =
    checkDevices(body, route, '') ??
    (asString(body.CgroupParent) !== '' ? denied('cgroup-parent', 'CgroupParent', body.CgroupParent, route) : undefined) ??
    applyQuotas(body, ctx.policy, route, 'update', '') ??
    (await checkJobQuotas(body, ctx, route, ref.id));
  if (d) return d;
  if (restarts(body)) {
    if (!ctx.oracle.hostSources) return denied('restart-host-path', 'RestartPolicy.Name', 'cannot read the container\'s mounts', route);
    const src = (await ctx.oracle.hostSources(ref.id, ctx.signal)) ?? [];
    if (src.length) return denied('restart-host-path', 'RestartPolicy.Name', `${restartName(body)} (the container mounts ${src[0]!.path})`, route);
  }
  setParam(req, 'name', ref.id);
  return { body: serializeGoBuffer(body) };
}

/** Commit: the container must be owned; the image gets the owner label; the new tag must not move another's tag. */
export async function containerCommit(req: RuleRequest, checkRef: (repo: string, tag: string) => Promise<Denial | undefined>): Promise<HandlerResult> {
  const { ctx, route, query } = req;
  const container = query.get('container') ?? '';
  const ref = await requireOwned(ctx, 'container', container, route);
  if (isDenial(ref)) return ref;
  query.set('container', ref.id);
  for (const ch of query.getAll('changes')) {
    if (ch.toLowerCase().includes('io.nestling.')) return denied('reserved-label', 'changes', ch, route);
  }
  const repo = query.get('repo') ?? '';
  if (repo !== '') {
    const d = await checkRef(repo, query.get('tag') ?? '');
    if (d) return d;
  }
  const body = readBody(req, 'container-commit', true);
  if (isDenial(body)) return body;
  const labels = applyOwnerLabel(asObject(body.Labels), ctx.owner, 'Labels', route);
  if (isDenial(labels)) return labels;
  body.Labels = labels;
  await emptyInheritedLabels(body, labels as GoObject, req);
  return { body: serializeGoBuffer(body) };
}

/** The path variable is replaced by the checked full id (decide() re-serialises the path from req.path). */
export function setParam(req: RuleRequest, name: string, value: string): void {
  const template = req.route.path;
  let path = '';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      path += template.slice(i);
      break;
    }
    path += template.slice(i, open);
    const close = template.indexOf('}', open);
    const inner = template.slice(open + 1, close);
    const n = inner.includes(':') ? inner.slice(0, inner.indexOf(':')) : inner;
    path += n === name ? value : (req.params[n] ?? '');
    i = close + 1;
  }
  req.params[name] = value;
  req.path = path;
}

/**
 * The daemon resolves a container reference by full id, then by exact name, then by id prefix. A lookup of a new
 * name that found a container whose id starts with that name found it by prefix (a container named like its own id
 * prefix aside): no container has that name, so it is free, and refusing it would tell the job that another owner's
 * container has such an id.
 */
function resolvedByPrefix(id: string, name: string): boolean {
  const n = name.replace(/^\//, '');
  return n !== '' && id.startsWith(n);
}

/** Rename: owned container; the new name may not be another owner's (the daemon's 409 would name its id). */
export async function containerRename(req: RuleRequest): Promise<HandlerResult> {
  const r = await ownedContainerRoute(req);
  if (r) return r;
  const all = req.query.getAll('name');
  if (all.length > 1) return denied('bad-query', 'name', all.join(','), req.route, 400);
  const name = (all[0] ?? '').replace(/^\//, '');
  if (name !== '') {
    const existing = await lookupRef(req.ctx, 'container', name);
    if (existing && !existing.owned && !resolvedByPrefix(existing.id, name)) return denied('name-conflict', 'name', name, req.route, 409);
  }
  return undefined;
}

/**
 * Container list: the `before` and `since` filters name a container the daemon resolves (by id, name or prefix,
 * "no such container" otherwise), which would tell a job whether another owner's container exists and when it was
 * created. Each must be owned (404 otherwise, as for a missing one) and is rewritten to the checked full id; then
 * the owner label filter is merged as for every list.
 */
export async function containerList(req: RuleRequest): Promise<HandlerResult> {
  const raw = req.query.get('filters');
  const args = raw === null || raw === '' ? undefined : parseFilters(raw);
  if (args) {
    for (const key of ['before', 'since'] as const) {
      const vals = asObject(args[key]);
      if (!vals) continue;
      const out = newObject();
      for (const [name, on] of Object.entries(vals)) {
        const ref = await requireOwned(req.ctx, 'container', name, req.route);
        if (isDenial(ref)) return ref;
        out[ref.id] = on;
      }
      args[key] = out;
    }
    req.query.set('filters', serializeGo(args));
  }
  return ownerFiltered(req);
}

const MOUNTS_SOURCES = new Set(['container-start', 'container-restart', 'container-archive-head', 'container-archive-get', 'container-archive-put', 'container-copy']);

/** Any route addressing one container by {name}: owned, else "No such container". */
export async function ownedContainerRoute(req: RuleRequest): Promise<HandlerResult> {
  const ref = await requireOwned(req.ctx, 'container', req.params.name ?? '', req.route);
  if (isDenial(ref)) return ref;
  if (req.route.id === 'container-start') {
    // start restores a CRIU checkpoint (experimental daemons), from any host directory with checkpoint-dir
    for (const k of ['checkpoint', 'checkpoint-dir']) {
      const v = req.query.getAll(k).find((x) => x !== '');
      if (v !== undefined) return denied('no-checkpoint', k, v, req.route);
    }
  }
  // start and restart mount host sources; so do the archive calls (docker cp), running container or not
  if (MOUNTS_SOURCES.has(req.route.id)) {
    const d = await checkHostSourcesAgain(req, ref.id);
    if (d) return d;
  }
  setParam(req, 'name', ref.id);
  return undefined;
}

function restartName(o: GoObject): string {
  return asString(asObject(o.RestartPolicy)?.Name);
}
function restarts(o: GoObject): boolean {
  const n = restartName(o);
  return n !== '' && n !== 'no';
}

/**
 * A restart policy makes the daemon start the container again by itself, mounting its host paths again without
 * asking the guard: a symlink swapped in meanwhile would be followed (see checkHostSourcesAgain). So a container
 * that mounts host paths (bind sources, o=bind volumes) gets no restart policy.
 */
async function checkRestartWithHostPaths(hc: GoObject, req: RuleRequest): Promise<Denial | undefined> {
  if (!restarts(hc)) return undefined;
  const { route } = req;
  const name = restartName(hc);
  const binds = Array.isArray(hc.Binds) ? (hc.Binds as unknown[]) : [];
  // a pinned source is named by the host path it stands for
  const shown = async (p: string) => (req.ctx.pins ? ((await req.ctx.pins.realOf(p)) ?? p) : p);
  for (const b of binds) {
    const src = typeof b === 'string' ? (parseBind(b)?.source ?? '') : '';
    if (src.startsWith('/')) return denied('restart-host-path', 'HostConfig.RestartPolicy.Name', `${name} (with the bind ${await shown(src)})`, route);
    if (src !== '' && (await hostDeviceOf(src, req))) return denied('restart-host-path', 'HostConfig.RestartPolicy.Name', `${name} (with the o=bind volume ${src})`, route);
  }
  const mounts = Array.isArray(hc.Mounts) ? (hc.Mounts as unknown[]) : [];
  for (const m of mounts) {
    const mo = asObject(m as never);
    const type = asString(mo?.Type);
    const src = asString(mo?.Source);
    if (type === 'bind') return denied('restart-host-path', 'HostConfig.RestartPolicy.Name', `${name} (with the bind ${await shown(src)})`, route);
    if (type === 'volume' && src !== '' && (await hostDeviceOf(src, req))) return denied('restart-host-path', 'HostConfig.RestartPolicy.Name', `${name} (with the o=bind volume ${src})`, route);
  }
  return undefined;
}

async function hostDeviceOf(volume: string, req: RuleRequest): Promise<boolean> {
  if (!req.ctx.oracle.volumeBindDevice) return true;
  return (await req.ctx.oracle.volumeBindDevice(volume, req.ctx.signal)) !== undefined;
}

/**
 * The daemon mounts bind sources (and o=bind volume devices) when a container starts, not when it is created: a job
 * that can write inside an allowed dir could replace a checked directory with a symlink in between (to `/`). At
 * every start and restart the sources are checked again: each must still resolve to itself (no symlink anywhere in
 * it) and lie inside an allowed dir. The guard's own socket stays allowed. (A swap racing this check and the mount
 * remains possible: docs/policy.md, "Known limits".)
 */
async function checkHostSourcesAgain(req: RuleRequest, id: string): Promise<Denial | undefined> {
  const { ctx, route } = req;
  if (!ctx.oracle.hostSources) return denied('bind-swapped', 'HostConfig', 'cannot read the container\'s mounts', route);
  const sources = await ctx.oracle.hostSources(id, ctx.signal);
  if (!sources?.length) return undefined;
  for (const s of sources) {
    const clean = cleanHostPath(s.path);
    // a pinned source: the host path it stands for is checked, then mounted onto the pin from a descriptor
    const real = ctx.pins ? await ctx.pins.realOf(clean) : undefined;
    const path = real ?? clean;
    const resolved = cleanHostPath(await ctx.resolveHostPath(path));
    if (resolved !== path) return denied('bind-swapped', s.field, `${path} (now resolves to ${resolved})`, route);
    const d = await checkHostSource(path, s.field, ctx, route, [], { pin: false });
    if (isDenial(d)) return d;
    if (real !== undefined && ctx.pins) {
      const why = await ctx.pins.pin(clean, real);
      if (why) return denied('bind-swapped', s.field, `${real} (${why})`, route);
      req.notes.push(`pinned ${real} at ${clean}`);
    }
  }
  return undefined;
}

