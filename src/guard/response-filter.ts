/**
 * Response filtering for Decision.responseFilter, where the daemon's own `label=` filters cannot do the job:
 *   - images-list: images are shared for reading, but an image that carries *another* owner's label (built or
 *     committed by another job) is hidden; unlabeled images (base images, pulls) stay visible;
 *   - system-df: containers and volumes are kept when they carry this owner's label, images as in images-list, the
 *     build cache is hidden (it cannot be attributed to an owner) and LayersSize is recomputed from what is shown;
 *   - events: one JSON object per line; container events (execs included) carry the container's labels in
 *     Actor.Attributes; image events carry the image's labels; network and volume events carry no labels, so those
 *     are kept when the oracle says the object is owned (ids seen owned are remembered, so destroy events pass).
 *     Everything else (daemon, plugin, node, service ... events) is dropped. Connect/disconnect events of a
 *     predefined network (bridge, host, none: owned by nobody) are kept when their container is the owner's;
 *   - network-list: the owner's networks and the daemon's predefined ones (bridge, host, none), whose `Containers`
 *     map is emptied; the job's own filters were applied by the daemon;
 *   - network-inspect (only decided for a predefined network): `Containers` is emptied, since it names the
 *     containers of every job attached to the default bridge.
 * An answer that is not the expected JSON shape throws (the server then answers 502): never pass it unfiltered.
 */
import { Labels } from '../util/labels.js';
import type { ObjectKind, ResponseFilter } from './types.js';

type Labelled = { Labels?: Record<string, string> | null };

function ownerOf(o: Labelled | null | undefined): string | undefined {
  return o?.Labels?.[Labels.owner];
}

function visibleImage(img: Labelled, owner: string): boolean {
  const o = ownerOf(img);
  return o === undefined || o === owner;
}

/** Names of the daemon's predefined networks (moby refuses to create, remove or rename networks of these names). */
const PREDEFINED_NETWORKS = new Set(['bridge', 'host', 'none']);

type NetworkEntry = Labelled & { Name?: string; Containers?: Record<string, unknown> | null };

function isPredefinedNetwork(n: NetworkEntry): boolean {
  return typeof n.Name === 'string' && PREDEFINED_NETWORKS.has(n.Name) && ownerOf(n) === undefined;
}

export function filterJsonResponse(filter: Exclude<ResponseFilter, 'events'>, body: Buffer, owner: string | undefined): Buffer {
  if (owner === undefined) throw new Error('filterJsonResponse: owner required');
  const j = JSON.parse(body.toString('utf8')) as unknown;
  switch (filter) {
    case 'images-list':
      if (!Array.isArray(j)) throw new Error('images list is not an array');
      return Buffer.from(`${JSON.stringify((j as Labelled[]).filter((i) => visibleImage(i, owner)))}\n`);
    case 'network-list': {
      if (!Array.isArray(j)) throw new Error('network list is not an array');
      const out = (j as NetworkEntry[])
        .filter((n) => n !== null && typeof n === 'object' && (ownerOf(n) === owner || isPredefinedNetwork(n)))
        .map((n) => (isPredefinedNetwork(n) && n.Containers ? { ...n, Containers: {} } : n));
      return Buffer.from(`${JSON.stringify(out)}\n`);
    }
    case 'network-inspect': {
      if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error('network inspect is not an object');
      const n = j as NetworkEntry;
      if (ownerOf(n) === owner) return body;
      if (!isPredefinedNetwork(n)) throw new Error('network inspect filter applied to a network that is neither owned nor predefined');
      return Buffer.from(`${JSON.stringify({ ...n, Containers: {} })}\n`);
    }
    case 'system-df':
      break;
  }
  const df = j as {
    LayersSize?: number;
    Images?: (Labelled & { Size?: number; SharedSize?: number })[] | null;
    Containers?: Labelled[] | null;
    Volumes?: Labelled[] | null;
    BuildCache?: unknown[] | null;
  };
  const images = (df.Images ?? []).filter((i) => visibleImage(i, owner));
  const out = {
    ...df,
    LayersSize: images.reduce((s, i) => s + (i.Size ?? 0) - Math.max(0, i.SharedSize ?? 0), 0),
    Images: images,
    Containers: (df.Containers ?? []).filter((c) => ownerOf(c) === owner),
    Volumes: (df.Volumes ?? []).filter((v) => ownerOf(v) === owner),
    BuildCache: [],
  };
  return Buffer.from(`${JSON.stringify(out)}\n`);
}

/** Decides whether one events line is shown to the owner. */
export async function filterEventLine(
  line: string,
  owner: string,
  isOwned: (kind: ObjectKind, id: string) => Promise<boolean>,
  seen: Set<string> = new Set(),
): Promise<boolean> {
  let ev: { Type?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
  try {
    ev = JSON.parse(line) as typeof ev;
  } catch {
    return false;
  }
  const attrs = ev.Actor?.Attributes ?? {};
  const id = ev.Actor?.ID ?? '';
  const type = ev.Type ?? '';
  switch (type) {
    case 'container':
    case 'image':
      return attrs[Labels.owner] === owner;
    case 'network':
    case 'volume': {
      if (!id) return false;
      if (seen.has(`${type}:${id}`)) return true;
      // a predefined network (no owner) is shared: only its connect/disconnect events of the owner's containers
      if (type === 'network' && PREDEFINED_NETWORKS.has(attrs.name ?? '') && attrs.container) return isOwned('container', attrs.container);
      const owned = await isOwned(type, id);
      if (owned) seen.add(`${type}:${id}`);
      return owned;
    }
    default:
      return false;
  }
}
