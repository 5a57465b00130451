/**
 * Reaping: removes everything that carries an owner label: containers (forced, with their anonymous volumes; their
 * execs go with them), then networks, volumes and, optionally, images. It needs nothing but the labels, so it works
 * after the job and the guard were both killed with SIGKILL.
 */
import type { Engine } from '../engine/client.js';
import { EngineError } from '../util/errors.js';
import { Labels } from '../util/labels.js';
import { DEFAULT_PIN_DIR, releasePins } from './pins.js';

export interface ReapOptions {
  /** also remove images carrying the owner label (images the job built or committed) */
  images?: boolean | undefined;
  /** where the guard keeps bind pins (pins.ts; default /run/nestling/pins); false: leave pins alone */
  pinDir?: string | false | undefined;
  signal?: AbortSignal | undefined;
}

export interface ReapReport {
  owner: string;
  containers: string[];
  networks: string[];
  volumes: string[];
  images: string[];
  /** objects that could not be removed, with the engine's reason */
  errors: { kind: string; id: string; message: string }[];
  /** bind pins released (unmounted) once the containers were gone; absent when there were none */
  pins?: number;
  ms: number;
}

function ownerFilter(owner: string): string {
  return JSON.stringify({ label: [`${Labels.owner}=${owner}`] });
}

const gone = (e: unknown) => e instanceof EngineError && e.statusCode === 404;

export async function reapOwner(engine: Engine, owner: string, opts: ReapOptions = {}): Promise<ReapReport> {
  const started = Date.now();
  const { signal } = opts;
  const report: ReapReport = { owner, containers: [], networks: [], volumes: [], images: [], errors: [], ms: 0 };
  if (!owner) throw new Error('reapOwner: an owner is required');
  const filters = ownerFilter(owner);
  const attempt = async (kind: string, id: string, list: string[], fn: () => Promise<void>) => {
    try {
      await fn();
      list.push(id);
    } catch (e) {
      if (gone(e)) return;
      report.errors.push({ kind, id, message: e instanceof EngineError ? (e.engineMessage ?? e.message) : String(e) });
    }
  };

  const cs = await engine.json<{ Id: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters }, signal });
  await Promise.all(
    cs.map((c) =>
      attempt('container', c.Id, report.containers, () =>
        engine.call({ method: 'DELETE', path: `/containers/${c.Id}`, query: { force: true, v: true }, signal }),
      ),
    ),
  );
  const ns = await engine.json<{ Id: string }[]>({ method: 'GET', path: '/networks', query: { filters }, signal });
  for (const n of ns) await attempt('network', n.Id, report.networks, () => engine.call({ method: 'DELETE', path: `/networks/${n.Id}`, signal }));
  const vs = await engine.json<{ Volumes: { Name: string }[] | null }>({ method: 'GET', path: '/volumes', query: { filters }, signal });
  for (const v of vs.Volumes ?? []) {
    await attempt('volume', v.Name, report.volumes, () =>
      engine.call({ method: 'DELETE', path: `/volumes/${encodeURIComponent(v.Name)}`, query: { force: true }, signal }),
    );
  }
  if (opts.images) {
    const is = await engine.json<{ Id: string }[]>({ method: 'GET', path: '/images/json', query: { filters }, signal });
    for (const i of is) {
      await attempt('image', i.Id, report.images, () => engine.call({ method: 'DELETE', path: `/images/${i.Id}`, query: { force: true }, signal }));
    }
  }
  if (opts.pinDir !== false && process.getuid?.() === 0) {
    const n = await releasePins(opts.pinDir ?? DEFAULT_PIN_DIR, owner).catch((e: unknown) => {
      report.errors.push({ kind: 'pin', id: owner, message: String(e) });
      return 0;
    });
    if (n > 0) report.pins = n;
  }
  report.ms = Date.now() - started;
  return report;
}
