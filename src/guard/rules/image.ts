/**
 * Image routes. Images are shared for reading: any job may list, inspect, run from, save and see the history of any
 * image. A job may not change what another job (or the host) gets for a name: tag, build -t, import and commit may
 * not move an existing reference this owner did not create (ctx.oracle.lookupImageRef), push and delete only touch
 * this owner's references, prune only this owner's images, and load is refused (a tar can carry any tags).
 * Built, committed and imported images get the owner label. Pulling from a registry stays allowed.
 */
import { Labels } from '../../util/labels.js';
import { GoJsonError, decodeTyped, parseJson, serializeGo, type GoObject } from '../go-json.js';
import { applyOwnerLabel, denied, notFound } from '../ownership.js';
import { isDenial, type Denial } from '../match.js';
import type { DecideContext, RouteDef } from '../types.js';
import { findNestlingError } from '../../util/errors.js';
import { containerCommit } from './container.js';
import { checkSecurityOpts } from './privilege.js';
import type { HandlerResult, RuleRequest } from './request.js';
import { requireOwned } from '../ownership.js';

/** Adds `:latest` to a reference without tag or digest, as the daemon does. */
export function normalizeImageRef(ref: string): string {
  if (ref.includes('@')) return ref;
  const lastSlash = ref.lastIndexOf('/');
  const lastColon = ref.lastIndexOf(':');
  return lastColon > lastSlash ? ref : `${ref}:latest`;
}

/**
 * The reference the daemon writes for a `repo` and `tag` pair (tag, commit, import): with a tag, the repo's own tag
 * or digest is dropped and the tag applied (distribution's reference.WithTag on the trimmed name), so `repo=app:x`
 * with `tag=ci` writes `app:ci`; without one, `repo` as given (`:latest` added by checkRefWritable).
 */
export function repoTagRef(repo: string, tag: string): string {
  if (tag === '') return repo;
  let name = repo;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  if (name.lastIndexOf(':') > name.lastIndexOf('/')) name = name.slice(0, name.lastIndexOf(':'));
  return `${name}:${tag}`;
}

/**
 * `changes` lines (commit, import) are joined with newlines and parsed as a Dockerfile, whose word processing
 * (quotes, `\` escapes, `$VAR` from an earlier ENV, line continuations, an `# escape=` directive) can spell a
 * reserved label key the raw text does not show. Refused: multi-line values, continuations, comments and
 * directives, `$` in LABEL/ONBUILD lines, and any line naming `io.nestling.` once quotes and backslashes are gone.
 */
export function checkChanges(changes: readonly string[], route: RouteDef): Denial | undefined {
  for (const ch of changes) {
    const bad =
      /[\r\n]/.test(ch) ||
      /[\\`][ \t]*$/.test(ch) ||
      /^\s*#/.test(ch) ||
      (/^\s*(label|onbuild)\b/i.test(ch) && ch.includes('$')) ||
      ch.replace(/["'\\`]/g, '').toLowerCase().includes('io.nestling.');
    if (bad) return denied('reserved-label', 'changes', ch, route);
  }
  return undefined;
}

/** Refuses moving a reference that exists and that this owner did not create. */
export async function checkRefWritable(req: RuleRequest, ref: string, field: string): Promise<Denial | undefined> {
  if (ref === '') return undefined;
  const n = normalizeImageRef(ref);
  const r = await req.ctx.oracle.lookupImageRef(n, req.ctx.signal);
  if (r && !r.owned) return denied('image-not-owned', field, ref, req.route);
  // a free reference is reserved until this guard stops: another owner's write that is checked now but lands later
  // (a build still running) cannot move it once this owner made it, and the other way round
  if (!r && req.ctx.tags && !(await req.ctx.tags.reserve(n))) return denied('image-not-owned', field, ref, req.route);
  return undefined;
}

function singleValued(req: RuleRequest, keys: readonly string[]): Denial | undefined {
  for (const k of keys) {
    const all = req.query.getAll(k);
    if (all.length > 1) return denied('bad-query', k, all.join(','), req.route, 400);
  }
  return undefined;
}

function parseStringMap(raw: string, field: string, route: RouteDef): GoObject | Denial {
  try {
    const v = decodeTyped(parseJson(raw), 'map:string', field);
    return (v ?? Object.create(null)) as GoObject;
  } catch (e) {
    if (e instanceof GoJsonError) return denied('bad-query', field, raw.slice(0, 200), route, 400);
    throw e;
  }
}

export async function imageTag(req: RuleRequest): Promise<HandlerResult> {
  const d = singleValued(req, ['repo', 'tag']);
  if (d) return d;
  const repo = req.query.get('repo') ?? '';
  const tag = req.query.get('tag') ?? '';
  return checkRefWritable(req, repoTagRef(repo, tag), 'repo');
}

export async function imagePush(req: RuleRequest): Promise<HandlerResult> {
  const d = singleValued(req, ['tag']);
  if (d) return d;
  const name = req.params.name ?? '';
  const tag = req.query.get('tag') ?? '';
  const hasTagInName = name.includes('@') || name.lastIndexOf(':') > name.lastIndexOf('/');
  if (tag === '' && !hasTagInName) return denied('image-not-owned', 'tag', '(all tags)', req.route);
  const ref = tag ? `${name}:${tag}` : name;
  const r = await req.ctx.oracle.lookupImageRef(normalizeImageRef(ref), req.ctx.signal);
  if (!r) return notFound('image', ref, req.route);
  if (!r.owned) return denied('image-not-owned', 'name', ref, req.route);
  return undefined;
}

export async function imageDelete(req: RuleRequest): Promise<HandlerResult> {
  const name = req.params.name ?? '';
  const r = await req.ctx.oracle.lookupImageRef(name, req.ctx.signal);
  if (!r) return notFound('image', name, req.route);
  if (!r.owned) return denied('image-not-owned', 'name', name, req.route);
  return undefined;
}

/** POST /images/create: a pull (fromImage) is allowed; an import (fromSrc) is a write to repo:tag. */
export async function imageCreate(req: RuleRequest): Promise<HandlerResult> {
  const d = singleValued(req, ['fromImage', 'fromSrc', 'repo', 'tag']);
  if (d) return d;
  if ((req.query.get('fromImage') ?? '') !== '') return undefined;
  const src = req.query.get('fromSrc') ?? '';
  if (src !== '-') return denied('daemon-fetch', 'fromSrc', src, req.route);
  const ch = checkChanges(req.query.getAll('changes'), req.route);
  if (ch) return ch;
  const repo = req.query.get('repo') ?? '';
  const tag = req.query.get('tag') ?? '';
  const w = await checkRefWritable(req, repoTagRef(repo, tag), 'repo');
  if (w) return w;
  req.query.append('changes', `LABEL ${Labels.owner}=${JSON.stringify(req.ctx.owner)}`);
  return undefined;
}

/**
 * POST /images/load: forwarded as a stream the server reads (image-load.ts): the tags the archive names are checked
 * like `docker tag` (checkLoadedTags) before the engine gets the end of the archive.
 */
export function imageLoad(req: RuleRequest): HandlerResult {
  const d = singleValued(req, ['quiet']);
  if (d) return d;
  return { uploadCheck: 'image-load' };
}

/** The refusal message for the first tag of a loaded archive that would move a reference this owner did not create. */
export async function checkLoadedTags(tags: readonly string[], ctx: DecideContext, route: RouteDef): Promise<string | undefined> {
  const req = { route, ctx } as RuleRequest;
  for (const t of tags) {
    let w: Denial | undefined;
    try {
      w = await checkRefWritable(req, t, 'RepoTags');
    } catch (e) {
      if (findNestlingError(e)?.category === 'engine') throw e;
      return `denied by rule image-load: RepoTags=${t} (not a valid reference)`;
    }
    if (w) return w.message.replace(/^nestling guard: /, '');
  }
  return undefined;
}

export async function imageCommit(req: RuleRequest): Promise<HandlerResult> {
  const d = singleValued(req, ['container', 'repo', 'tag']);
  if (d) return d;
  const ch = checkChanges(req.query.getAll('changes'), req.route);
  if (ch) return ch;
  const r = await containerCommit(req, (repo, tag) => checkRefWritable(req, repoTagRef(repo, tag), 'repo'));
  // the owner label as the last change too: changes are applied over the body's Labels
  if (!isDenial(r) && req.query.getAll('changes').length > 0) req.query.append('changes', `LABEL ${Labels.owner}=${JSON.stringify(req.ctx.owner)}`);
  return r;
}

/**
 * POST /build: tags must be writable; labels get the owner label (build labels override the Dockerfile's);
 * networkmode host refused (BuildKit grants the network.host entitlement for it), container:<x> only for owned
 * containers; securityopt as for containers; cgroupparent as for containers; image outputs named like tags.
 */
export async function build(req: RuleRequest): Promise<HandlerResult> {
  const { ctx, route, query } = req;
  const d = singleValued(req, ['networkmode', 'labels', 'cgroupparent', 'outputs', 'remote']);
  if (d) return d;
  const remote = query.get('remote') ?? '';
  // BuildKit sends remote=client-session (the context comes over /session); anything else is a URL or git
  // reference the daemon would fetch from the host's network.
  if (remote !== '' && remote !== 'client-session') return denied('daemon-fetch', 'remote', remote, route);
  for (const t of query.getAll('t')) {
    const w = await checkRefWritable(req, t, 't');
    if (w) return w;
  }
  const nm = query.get('networkmode') ?? '';
  if (nm === 'host') return denied('build-host-network', 'networkmode', nm, route);
  if (nm.startsWith('container:')) {
    const ref = await requireOwned(ctx, 'container', nm.slice(10), route);
    if (isDenial(ref)) return ref;
    query.set('networkmode', `container:${ref.id}`);
  } else if (!['', 'default', 'bridge', 'none'].includes(nm) && nm !== ctx.jobNetwork) {
    // the legacy builder runs RUN steps on any network named here (by name, id or prefix): owned ones only
    const ref = await requireOwned(ctx, 'network', nm, route);
    if (isDenial(ref)) return ref;
    query.set('networkmode', ref.id);
  }
  const so = checkSecurityOpts(query.getAll('securityopt'), 'securityopt', route);
  if (so) return so;
  const cg = query.get('cgroupparent') ?? '';
  const forced = ctx.policy.defaults.cgroupParent;
  if (cg !== '' && cg !== forced) return denied('cgroup-parent', 'cgroupparent', cg, route);
  if (forced) query.set('cgroupparent', forced);
  const rawLabels = query.get('labels') ?? '';
  const labels = rawLabels === '' ? (Object.create(null) as GoObject) : parseStringMap(rawLabels, 'labels', route);
  if (isDenial(labels)) return labels;
  const withOwner = applyOwnerLabel(labels, ctx.owner, 'labels', route);
  if (isDenial(withOwner)) return withOwner;
  query.set('labels', serializeGo(withOwner));
  const outputs = query.get('outputs') ?? '';
  if (outputs !== '') {
    let outs;
    try {
      outs = decodeTyped(parseJson(outputs), 'slice:any', 'outputs');
    } catch (e) {
      if (e instanceof GoJsonError) return denied('bad-query', 'outputs', outputs.slice(0, 200), route, 400);
      throw e;
    }
    for (const o of Array.isArray(outs) ? outs : []) {
      const attrs = o && typeof o === 'object' && !Array.isArray(o) ? (o as GoObject).Attrs : undefined;
      const name = attrs && typeof attrs === 'object' && !Array.isArray(attrs) ? (attrs as GoObject).name : undefined;
      if (typeof name === 'string') {
        for (const n of name.split(',')) {
          const w = await checkRefWritable(req, n.trim(), 'outputs.name');
          if (w) return w;
        }
      }
    }
  }
  return undefined;
}
