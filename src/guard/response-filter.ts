/**
 * Response filtering for Decision.responseFilter, where the daemon's own `label=` filters cannot do the job:
 *   - images-list: images are shared for reading, but an image that carries *another* owner's label (built or
 *     committed by another job) is hidden; unlabeled images (base images, pulls) stay visible;
 *   - system-df: containers and volumes are kept when they carry this owner's label, images as in images-list, the
 *     build cache is hidden (it cannot be attributed to an owner) and LayersSize is recomputed from what is shown;
 *   - events: one JSON object per line; container events (execs included) carry the container's labels in
 *     Actor.Attributes; image events carry the image's labels; network and volume events carry no labels, so those
 *     are kept when the oracle says the object is owned (ids seen owned are remembered, so destroy events pass).
 *     Everything else (daemon, plugin, node, service ... events) is dropped.
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

export function filterJsonResponse(filter: Exclude<ResponseFilter, 'events'>, body: Buffer, owner: string | undefined): Buffer {
  if (owner === undefined) throw new Error('filterJsonResponse: owner required');
  const j = JSON.parse(body.toString('utf8')) as unknown;
  if (filter === 'images-list') {
    if (!Array.isArray(j)) throw new Error('images list is not an array');
    return Buffer.from(`${JSON.stringify((j as Labelled[]).filter((i) => visibleImage(i, owner)))}\n`);
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
      const owned = await isOwned(type, id);
      if (owned) seen.add(`${type}:${id}`);
      return owned;
    }
    default:
      return false;
  }
}
