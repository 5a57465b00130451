/**
 * Tag reservations: closing the time between a tag's check and its write.
 *
 * A build (legacy `-t`, BuildKit exporter names), commit, import or load is checked when it starts, but the daemon
 * writes the tag when it ends. Two jobs may both find `app:ci` free; the later one to finish would then move the
 * tag the other already owns (and a job can hold a BuildKit build open as long as it likes). So a guard that allows
 * a write to a tag that does not exist yet reserves it for its owner, in a directory every guard on the host shares
 * (`/run/nestling/tags`, one file per reference, created with O_EXCL). A reference reserved by another owner whose
 * guard is still running is refused like a tag that owner already has (`image-not-owned`): first come, first served,
 * as for existing tags. A reservation whose guard process is gone (killed) is stale and taken over; a guard
 * releases its owner's reservations when it stops.
 */
import { createHash } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { processStartTime } from '../util/proc.js';

export const DEFAULT_TAG_DIR = '/run/nestling/tags';

export interface TagReservations {
  /** true when `ref` (normalised) is free or already this owner's; false when another live owner reserved it */
  reserve(ref: string): Promise<boolean>;
}

interface Holder {
  owner: string;
  ref: string;
  pid: number;
  start: string;
}

const fileOf = (dir: string, ref: string) => join(dir, createHash('sha256').update(ref).digest('hex').slice(0, 40));

function alive(h: Holder): boolean {
  const st = processStartTime(h.pid);
  return st !== undefined && st === h.start;
}

export class TagReservationDir implements TagReservations {
  readonly #dir: string;
  readonly #owner: string;
  readonly #me: Holder;
  constructor(dir: string, owner: string) {
    this.#dir = dir;
    this.#owner = owner;
    this.#me = { owner, ref: '', pid: process.pid, start: processStartTime(process.pid) ?? '0' };
  }

  async reserve(ref: string): Promise<boolean> {
    const file = fileOf(this.#dir, ref);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fsp.writeFile(file, JSON.stringify({ ...this.#me, ref }), { flag: 'wx', mode: 0o600 });
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let h: Holder | undefined;
      try {
        h = JSON.parse(await fsp.readFile(file, 'utf8')) as Holder;
      } catch {
        h = undefined;
      }
      if (h) {
        if (h.owner === this.#owner) return true;
        if (alive(h)) return false;
      } else if (attempt === 0) {
        // another guard is writing it right now: give it a moment
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      // stale (its guard is gone) or unreadable: taken over
      await fsp.unlink(file).catch(() => undefined);
    }
    return false;
  }
}

/** Opens the shared reservation directory; a reason when it cannot be used (then writes are checked at start only). */
export async function openTagReservations(dir: string, owner: string): Promise<TagReservations | string> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await fsp.access(dir, constants.W_OK);
    return new TagReservationDir(dir, owner);
  } catch (e) {
    return `${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
}

/** Removes an owner's reservations (its guard stopped, or the owner was reaped). */
export async function releaseTagReservations(dir: string, owner: string): Promise<number> {
  let n = 0;
  for (const f of await fsp.readdir(dir).catch(() => [] as string[])) {
    const p = join(dir, f);
    try {
      const h = JSON.parse(await fsp.readFile(p, 'utf8')) as Holder;
      if (h.owner === owner) {
        await fsp.unlink(p);
        n++;
      }
    } catch {
      // gone meanwhile, or not ours to judge
    }
  }
  return n;
}
