/**
 * Mount rules: bind sources (HostConfig.Binds, HostConfig.Mounts type=bind, local volumes with o=bind) must be
 * under an allowBind dir after job->host path mapping, lexical cleaning and symlink resolution on the host; the
 * resolved host path is what is forwarded. Named volumes must be owned (or not exist yet: then they are created
 * with the owner label). Non-local volume drivers and local-driver options that mount devices or remote
 * filesystems are refused. VolumesFrom and Links name owned containers only.
 */
import { Labels } from '../../util/labels.js';
import { asArray, asObject, asString, newObject, type GoObject, type GoValue } from '../go-json.js';
import { denied, lookupRef, notFound, requireOwned } from '../ownership.js';
import { isDenial, type Denial } from '../match.js';
import { cleanHostPath, isPathWithin, mapJobPath } from '../path-rewrite.js';
import type { DecideContext, RouteDef } from '../types.js';

/** Resolves the allowBind dirs once per decision. */
async function allowedRoots(ctx: DecideContext): Promise<string[]> {
  const out: string[] = [];
  for (const d of ctx.policy.allowBind) {
    if (!d.startsWith('/')) continue;
    const c = cleanHostPath(d);
    out.push(c);
    const r = cleanHostPath(await ctx.resolveHostPath(c));
    if (r !== c) out.push(r);
  }
  return out;
}

/**
 * Checks one host source. Returns the host path to forward (mapped, cleaned and symlink-resolved) or a denial.
 * Both the lexical and the resolved path must be inside an allowed dir.
 */
export async function checkHostSource(
  src: string,
  field: string,
  ctx: DecideContext,
  route: RouteDef,
  notes: string[],
  opts: { pin?: boolean } = {},
): Promise<string | Denial> {
  if (!src.startsWith('/')) return denied('bind-outside-allowlist', field, src, route);
  const clean = cleanHostPath(src);
  const mapped = mapJobPath(clean, ctx.mappings).path;
  const resolved = cleanHostPath(await ctx.resolveHostPath(mapped));
  if (ctx.selfSockets?.includes(resolved)) {
    notes.push(`bind of the guard's own socket ${resolved}: the container gets this owner's guarded API`);
    return resolved;
  }
  const roots = await allowedRoots(ctx);
  if (!roots.some((r) => isPathWithin(resolved, r)) || !roots.some((r) => isPathWithin(mapped, r))) {
    return denied('bind-outside-allowlist', field, resolved, route);
  }
  if (ctx.pins && opts.pin !== false) {
    const p = await ctx.pins.reserve(resolved);
    notes.push(`bind ${src} -> ${resolved} (pinned as ${p})`);
    return p;
  }
  if (resolved !== src) notes.push(`bind ${src} -> ${resolved}`);
  return resolved;
}

const LOCAL_DRIVERS = new Set(['', 'local']);

/**
 * Options of the `local` volume driver (moby volume/local): `type`, `o`, `device` mount a filesystem. Allowed:
 * none at all; type=tmpfs; o containing bind/rbind with a device path under an allowBind dir (the device is then
 * rewritten to its resolved host path). Anything else (block devices, nfs/cifs, overlay) is refused.
 */
export async function checkLocalDriverOpts(opts: GoObject | undefined, field: string, ctx: DecideContext, route: RouteDef, notes: string[]): Promise<Denial | undefined> {
  if (!opts || Object.keys(opts).length === 0) return undefined;
  const type = asString(opts.type);
  const o = asString(opts.o);
  const device = asString(opts.device);
  const oParts = o.split(',').map((s) => s.trim());
  const isBind = oParts.includes('bind') || oParts.includes('rbind');
  for (const k of Object.keys(opts)) {
    if (!['type', 'o', 'device', 'size'].includes(k)) return denied('volume-driver-opts', `${field}.${k}`, opts[k], route);
  }
  if (type === 'tmpfs' && !isBind) return undefined;
  if (isBind) {
    const r = await checkHostSource(device, `${field}.device`, ctx, route, notes);
    if (isDenial(r)) return r;
    opts.device = r;
    return undefined;
  }
  return denied('volume-driver-opts', field, `type=${type} o=${o} device=${device}`, route);
}

async function checkNamedVolume(name: string, field: string, ctx: DecideContext, route: RouteDef): Promise<'owned' | 'missing' | Denial> {
  const ref = await lookupRef(ctx, 'volume', name);
  if (!ref) return 'missing';
  if (!ref.owned) return notFound('volume', name, route);
  void field;
  return 'owned';
}

function anonymousVolumeMount(target: string, owner: string): GoObject {
  const m = newObject();
  m.Type = 'volume';
  m.Target = target;
  const vo = newObject();
  const labels = newObject();
  labels[Labels.owner] = owner;
  vo.Labels = labels;
  m.VolumeOptions = vo;
  return m;
}

/**
 * Config.Volumes (`docker run -v /path`): anonymous volumes the daemon creates without labels. Each one no Binds or
 * Mounts entry already covers becomes a labelled volume Mount, so the job owns it (lists, reaping).
 */
export function labelAnonymousVolumes(config: GoObject, hc: GoObject, owner: string, notes: string[]): void {
  const vols = asObject(config.Volumes);
  if (!vols || Object.keys(vols).length === 0) return;
  const clean = (t: string) => cleanHostPath(t.startsWith('/') ? t : `/${t}`);
  const covered = new Set<string>();
  for (const b of asArray(hc.Binds)) {
    const p = parseBind(asString(b));
    if (p) covered.add(clean(p.target));
  }
  for (const m of asArray(hc.Mounts)) covered.add(clean(asString(asObject(m)?.Target)));
  const add: GoObject[] = [];
  for (const target of Object.keys(vols)) {
    if (!target.startsWith('/') || covered.has(clean(target))) continue;
    add.push(anonymousVolumeMount(target, owner));
    covered.add(clean(target));
    delete vols[target];
    notes.push(`volume ${target} -> labelled anonymous volume mount`);
  }
  if (add.length) hc.Mounts = [...asArray(hc.Mounts), ...add];
}

/** Binds as moby's linux parser splits them: `dst`, `src:dst`, `src:dst:mode`; src absolute = bind, else volume. */
export function parseBind(raw: string): { source: string; target: string; mode: string | undefined } | undefined {
  const arr = raw.split(':');
  if (arr.length > 3 || arr[0] === '') return undefined;
  if (arr.length === 1) return { source: '', target: arr[0] ?? '', mode: undefined };
  return { source: arr[0] ?? '', target: arr[1] ?? '', mode: arr[2] };
}

export async function checkMounts(hc: GoObject, ctx: DecideContext, route: RouteDef, notes: string[]): Promise<Denial | undefined> {
  const vd = asString(hc.VolumeDriver);
  if (!LOCAL_DRIVERS.has(vd)) return denied('volume-driver', 'HostConfig.VolumeDriver', vd, route);

  const binds = asArray(hc.Binds);
  const newBinds: GoValue[] = [];
  const extraMounts: GoObject[] = [];
  for (const [i, b] of binds.entries()) {
    const raw = asString(b);
    const p = parseBind(raw);
    if (!p) {
      newBinds.push(raw); // the daemon refuses it as an invalid spec
      continue;
    }
    if (p.source.startsWith('/')) {
      const r = await checkHostSource(p.source, `HostConfig.Binds[${i}]`, ctx, route, notes);
      if (isDenial(r)) return r;
      newBinds.push([r, p.target, ...(p.mode !== undefined ? [p.mode] : [])].join(':'));
    } else if (p.source === '') {
      // an anonymous volume: as a labelled Mount, so that it is the job's (listed, reaped)
      if (p.mode !== undefined) {
        newBinds.push(raw);
        continue;
      }
      extraMounts.push(anonymousVolumeMount(p.target, ctx.owner));
      notes.push(`bind ${raw} -> labelled anonymous volume mount`);
    } else {
      const st = await checkNamedVolume(p.source, `HostConfig.Binds[${i}]`, ctx, route);
      if (isDenial(st)) return st;
      if (st === 'missing') {
        // created by the daemon on use: as a Mount, so that it carries the owner label
        const modes = (p.mode ?? '').split(',').filter((m) => m !== '');
        if (!modes.every((m) => m === 'ro' || m === 'rw' || m === 'nocopy')) return denied('volume-driver-opts', `HostConfig.Binds[${i}]`, raw, route);
        const m = newObject();
        m.Type = 'volume';
        m.Source = p.source;
        m.Target = p.target;
        if (modes.includes('ro')) m.ReadOnly = true;
        const vo = newObject();
        if (modes.includes('nocopy')) vo.NoCopy = true;
        const labels = newObject();
        labels[Labels.owner] = ctx.owner;
        vo.Labels = labels;
        m.VolumeOptions = vo;
        extraMounts.push(m);
        notes.push(`bind ${raw} -> labelled volume mount`);
      } else {
        newBinds.push(raw);
      }
    }
  }
  if ('Binds' in hc && hc.Binds !== null) hc.Binds = newBinds;

  const mounts = asArray(hc.Mounts);
  for (const [i, mv] of mounts.entries()) {
    const m = asObject(mv);
    if (!m) continue;
    const field = `HostConfig.Mounts[${i}]`;
    const type = asString(m.Type);
    if (type === 'bind') {
      const r = await checkHostSource(asString(m.Source), `${field}.Source`, ctx, route, notes);
      if (isDenial(r)) return r;
      m.Source = r;
    } else if (type === 'volume') {
      const vo = asObject(m.VolumeOptions);
      const dc = asObject(vo?.DriverConfig);
      const driver = asString(dc?.Name);
      if (!LOCAL_DRIVERS.has(driver)) return denied('volume-driver', `${field}.VolumeOptions.DriverConfig.Name`, driver, route);
      const d = await checkLocalDriverOpts(asObject(dc?.Options), `${field}.VolumeOptions.DriverConfig.Options`, ctx, route, notes);
      if (d) return d;
      const src = asString(m.Source);
      // the labels of a volume the daemon creates for this mount (a missing named one, or an anonymous one)
      for (const k of Object.keys(asObject(vo?.Labels) ?? {})) {
        if (k.toLowerCase().startsWith('io.nestling.')) return denied('reserved-label', `${field}.VolumeOptions.Labels.${k}`, asObject(vo?.Labels)?.[k], route);
      }
      const st = src === '' ? 'missing' : await checkNamedVolume(src, field, ctx, route);
      if (isDenial(st)) return st;
      if (st === 'missing') {
        const opts = vo ?? newObject();
        const labels = asObject(opts.Labels) ?? newObject();
        labels[Labels.owner] = ctx.owner;
        opts.Labels = labels;
        m.VolumeOptions = opts;
      }
    } else if (type === 'tmpfs' || type === 'image') {
      // no host resource
    } else {
      return denied('volume-driver', `${field}.Type`, type, route);
    }
  }
  if (extraMounts.length) hc.Mounts = [...mounts, ...extraMounts];

  // VolumesFrom: "name[:ro|:rw]"; Links: "name:alias"
  const vf = asArray(hc.VolumesFrom);
  for (const [i, v] of vf.entries()) {
    const raw = asString(v);
    const colon = raw.lastIndexOf(':');
    const hasMode = colon > 0 && ['ro', 'rw'].includes(raw.slice(colon + 1));
    const name = hasMode ? raw.slice(0, colon) : raw;
    const ref = await requireOwned(ctx, 'container', name, route);
    if (isDenial(ref)) return ref;
    vf[i] = hasMode ? `${ref.id}:${raw.slice(colon + 1)}` : ref.id;
  }
  const links = asArray(hc.Links);
  for (const [i, v] of links.entries()) {
    const raw = asString(v);
    const colon = raw.indexOf(':');
    const name = (colon >= 0 ? raw.slice(0, colon) : raw).replace(/^\//, '');
    const ref = await requireOwned(ctx, 'container', name, route);
    if (isDenial(ref)) return ref;
    // the checked container by id (a name can be re-bound before the daemon reads it); the alias stays
    links[i] = `${ref.id}:${colon >= 0 ? raw.slice(colon + 1) : name}`;
  }
  return undefined;
}
