/**
 * `docker load` through the guard (POST /images/load). The archive names the tags the daemon will set (manifest.json
 * `RepoTags`, the legacy `repositories` file, an OCI index.json's image-name annotations), and a job must not move a
 * tag it did not create (cache poisoning). The daemon reads the whole archive before it sets any tag, so the guard:
 *   - streams the archive to the engine as it arrives, reading its tar headers (ustar, GNU long names, pax paths);
 *   - from the first entry that names tags (manifest.json, repositories, index.json at the archive's root, however
 *     the path is spelt: `./manifest.json`, a pax path), holds everything back (bounded);
 *   - at the end, reads the tags of every such entry, asks the same check as `docker tag` (checkRefWritable), and only
 *     then sends the held bytes and the end of the body; a refusal cuts the upstream connection, so the engine never
 *     has a complete archive and loads nothing.
 * gzip archives are decompressed by the guard and sent uncompressed (the daemon takes both); bzip2, xz and zstd are
 * refused (the guard would not see the names). A tag-carrying entry that is not a regular file (a link the daemon
 * would follow to content already sent) is refused.
 */
import { createGunzip, type Gunzip } from 'node:zlib';
import { posix } from 'node:path';
import type { Duplex } from 'node:stream';
import { HttpParseError, type BodyFraming } from './http-parser.js';
import type { SocketReader } from './socket-reader.js';
import { pushChunk } from './flow.js';
import { decodedBody } from './forward.js';

/** Entries whose content names tags. */
const TAG_FILES = new Set(['manifest.json', 'repositories', 'index.json']);
/** Most bytes held back from the first tag-carrying entry to the end. */
export const MAX_HELD = 64 * 1024 * 1024;
/** Largest tag-carrying entry read. */
const MAX_TAG_FILE = 16 * 1024 * 1024;

export function denyLoad(rule: string, field: string, value: string): HttpParseError {
  return new HttpParseError(403, `denied by rule ${rule}: ${field}=${value}`);
}

/** A streaming reader of tar headers: tells which bytes may go on now and collects tag-carrying entries. */
export class TarScanner {
  #header = Buffer.alloc(0);
  #dataLeft = 0;
  #padLeft = 0;
  #capture: { name: string; parts: Buffer[]; size: number } | undefined;
  #paxPath: string | undefined;
  #longName: string | undefined;
  #meta: { kind: 'pax' | 'long'; parts: Buffer[] } | undefined;
  /** paths of symlink and hardlink entries (a hardlink to a symlink is a symlink): the daemon's untar writes later
   *  entries through a linked parent directory (`d -> .` then `d/manifest.json` is the root's manifest.json) */
  readonly #links = new Set<string>();
  /** offset (in all bytes fed) where holding starts, once a tag-carrying entry was seen */
  holdFrom: number | undefined;
  fed = 0;
  ended = false;
  readonly tagFiles: { name: string; data: Buffer }[] = [];

  /** where the header being read started (its bytes are not released until it is complete and known) */
  #headerStart: number | undefined;

  /** Offset (in all bytes fed) below which bytes may go to the engine now. */
  releasable(): number {
    return Math.min(this.holdFrom ?? Infinity, this.#headerStart ?? Infinity, this.fed);
  }

  /** Feeds bytes; returns how many of them may be forwarded now (see releasable for bytes fed before). */
  push(b: Buffer): number {
    const start = this.fed;
    let i = 0;
    while (i < b.length && !this.ended) {
      if (this.#dataLeft > 0) {
        const n = Math.min(this.#dataLeft, b.length - i);
        const part = b.subarray(i, i + n);
        if (this.#capture) {
          this.#capture.size += n;
          if (this.#capture.size > MAX_TAG_FILE) throw denyLoad('image-load', this.#capture.name, `larger than ${MAX_TAG_FILE} bytes`);
          this.#capture.parts.push(Buffer.from(part));
        }
        if (this.#meta) this.#meta.parts.push(Buffer.from(part));
        this.#dataLeft -= n;
        i += n;
        if (this.#dataLeft === 0) this.#endData();
        continue;
      }
      if (this.#padLeft > 0) {
        const n = Math.min(this.#padLeft, b.length - i);
        this.#padLeft -= n;
        i += n;
        continue;
      }
      const need = 512 - this.#header.length;
      if (this.#header.length === 0) this.#headerStart = start + i;
      const n = Math.min(need, b.length - i);
      this.#header = this.#header.length ? Buffer.concat([this.#header, b.subarray(i, i + n)]) : Buffer.from(b.subarray(i, i + n));
      i += n;
      if (this.#header.length === 512) {
        const headerStart = this.#headerStart!;
        this.#headerStart = undefined;
        this.#onHeader(this.#header, headerStart);
        this.#header = Buffer.alloc(0);
      }
    }
    this.fed += b.length;
    return Math.max(0, Math.min(b.length, this.releasable() - start));
  }

  #onHeader(h: Buffer, offset: number): void {
    if (h.every((x) => x === 0)) {
      // end-of-archive blocks: nothing after them matters to the daemon's reader; hold from here so the end cannot
      // reach the engine before the check
      this.holdFrom ??= offset;
      return;
    }
    let sum = 0;
    for (let k = 0; k < 512; k++) sum += k >= 148 && k < 156 ? 32 : h[k]!;
    const stored = parseNumber(h.subarray(148, 156));
    if (stored !== sum) throw denyLoad('image-load', 'tar', 'a header with a bad checksum');
    const type = String.fromCharCode(h[156]!);
    const size = parseNumber(h.subarray(124, 136));
    if (size === undefined || size < 0) throw denyLoad('image-load', 'tar', 'a header with a bad size');
    const magic = h.toString('latin1', 257, 262);
    let name = cstr(h, 0, 100);
    if (magic === 'ustar') {
      const prefix = cstr(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (type === 'x' || type === 'L') {
      this.#meta = { kind: type === 'x' ? 'pax' : 'long', parts: [] };
      this.#setData(size);
      return;
    }
    if (type === 'g' || type === 'K') {
      // global pax headers and long link names do not rename the next entry's path
      this.#setData(size);
      return;
    }
    if (this.#longName !== undefined) name = this.#longName;
    if (this.#paxPath !== undefined) name = this.#paxPath;
    this.#longName = undefined;
    this.#paxPath = undefined;
    const norm = normalizeName(name);
    const parts = norm.split('/');
    for (let k = 1; k < parts.length; k++) {
      if (this.#links.has(parts.slice(0, k).join('/'))) throw denyLoad('image-load', norm, 'an entry under a link');
    }
    if (type === '1' || type === '2') this.#links.add(norm);
    else this.#links.delete(norm);
    if (TAG_FILES.has(norm)) {
      if (type !== '0' && type !== '\0' && type !== '7') throw denyLoad('image-load', norm, `not a regular file (type ${JSON.stringify(type)})`);
      this.holdFrom ??= offset;
      this.#capture = { name: norm, parts: [], size: 0 };
    }
    // only regular files carry data in a tar (links, dirs, devices have size 0 for the reader)
    this.#setData(type === '0' || type === '\0' || type === '7' ? size : 0);
  }

  #setData(size: number): void {
    this.#dataLeft = size;
    this.#padLeft = (512 - (size % 512)) % 512;
    if (size === 0) this.#endData();
  }

  #endData(): void {
    if (this.#capture) {
      this.tagFiles.push({ name: this.#capture.name, data: Buffer.concat(this.#capture.parts) });
      this.#capture = undefined;
    }
    if (this.#meta) {
      const data = Buffer.concat(this.#meta.parts);
      if (this.#meta.kind === 'long') this.#longName = cstr(data, 0, data.length);
      else {
        const p = paxPath(data);
        if (p !== undefined) this.#paxPath = p;
      }
      this.#meta = undefined;
    }
  }
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.toString('utf8', 0, z === -1 ? s.length : z);
}

/** Octal (NUL/space terminated) or base-256 numbers of tar headers. */
function parseNumber(f: Buffer): number | undefined {
  if (f[0]! & 0x80) {
    let n = 0;
    for (let k = 1; k < f.length; k++) n = n * 256 + f[k]!;
    return n;
  }
  const s = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return undefined;
  return parseInt(s, 8);
}

function paxPath(data: Buffer): string | undefined {
  let path: string | undefined;
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp === -1) break;
    const len = Number(data.toString('latin1', i, sp));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) throw denyLoad('image-load', 'tar', 'a malformed pax header');
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq !== -1 && rec.slice(0, eq) === 'path') path = rec.slice(eq + 1);
    i += len;
  }
  return path;
}

/** The path an entry extracts to, relative to the archive root ("./a//b/../manifest.json" => "manifest.json"). */
export function normalizeName(name: string): string {
  const n = posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return n;
}

/** Every tag the held entries name (unreadable ones are refused: the daemon might read them differently). */
export function tagsOf(files: { name: string; data: Buffer }[]): string[] {
  const tags: string[] = [];
  for (const f of files) {
    let j: unknown;
    try {
      j = JSON.parse(f.data.toString('utf8'));
    } catch {
      throw denyLoad('image-load', f.name, 'not valid JSON');
    }
    if (f.name === 'manifest.json') {
      if (!Array.isArray(j)) throw denyLoad('image-load', f.name, 'not a JSON array');
      for (const m of j as unknown[]) {
        const rt = (m as { RepoTags?: unknown } | null)?.RepoTags;
        if (rt === undefined || rt === null) continue;
        if (!Array.isArray(rt) || rt.some((t) => typeof t !== 'string')) throw denyLoad('image-load', 'manifest.json RepoTags', 'not a list of strings');
        tags.push(...(rt as string[]));
      }
    } else if (f.name === 'repositories') {
      if (typeof j !== 'object' || j === null || Array.isArray(j)) throw denyLoad('image-load', f.name, 'not a JSON object');
      for (const [repo, byTag] of Object.entries(j as Record<string, unknown>)) {
        if (typeof byTag !== 'object' || byTag === null) throw denyLoad('image-load', f.name, 'not a map of tags');
        for (const tag of Object.keys(byTag)) tags.push(`${repo}:${tag}`);
      }
    } else {
      const ms = (j as { manifests?: unknown } | null)?.manifests;
      if (!Array.isArray(ms)) continue;
      for (const m of ms as { annotations?: Record<string, unknown> }[]) {
        for (const k of ['io.containerd.image.name', 'org.opencontainers.image.ref.name']) {
          const v = m?.annotations?.[k];
          if (typeof v === 'string' && v !== '') tags.push(v);
        }
      }
    }
  }
  return [...new Set(tags)];
}

type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';
function sniff(b: Buffer): Compression {
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (b[0] === 0xfd && b.toString('latin1', 1, 6) === '7zXZ\0') return 'xz';
  if (b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  return 'none';
}

/**
 * Pumps an image archive from the client to the engine (chunked upstream, as announced by the caller), holding back
 * its tag-carrying tail until `check` allowed every tag. Rejects with HttpParseError (403 for a refusal).
 */
export async function pumpImageLoad(
  r: SocketReader,
  framing: BodyFraming,
  out: Duplex,
  idleMs: number,
  check: (tags: string[]) => Promise<string | undefined>,
): Promise<void> {
  const scanner = new TarScanner();
  // bytes fed but not yet released, in order; `sent` counts the bytes released so far
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  let sent = 0;
  const send = async (b: Buffer) => {
    if (b.length === 0 || out.destroyed) return;
    await pushChunk(out, b);
  };
  /** Releases pending bytes up to the absolute offset `limit`. */
  const release = async (limit: number) => {
    while (pending.length && sent < limit) {
      const head = pending[0]!;
      const n = Math.min(head.length, limit - sent);
      if (n === head.length) pending.shift();
      else pending[0] = head.subarray(n);
      pendingBytes -= n;
      sent += n;
      await send(n === head.length ? head : head.subarray(0, n));
    }
  };
  const feed = async (t: Buffer) => {
    scanner.push(t);
    pending.push(t);
    pendingBytes += t.length;
    await release(scanner.releasable());
    // what waits is copied: a small held view must not pin a whole receive buffer
    const last = pending.at(-1);
    if (last && last.buffer === t.buffer) pending[pending.length - 1] = Buffer.from(last);
    if (pendingBytes > MAX_HELD) throw denyLoad('image-load', 'archive', `more than ${MAX_HELD} bytes after its manifest`);
  };
  let gunzip: Gunzip | undefined;
  // one persistent listener: whatever the inflater emits, whenever, lands here (nothing lost between writes)
  const inflated: Buffer[] = [];
  let gzError: Error | undefined;
  const drainInflated = async () => {
    if (gzError) throw denyLoad('image-load', 'gzip', `unreadable (${gzError.message})`);
    while (inflated.length) await feed(inflated.shift()!);
  };
  let first = true;
  for await (const part of decodedBody(r, framing, { from: 'client', idleMs })) {
    if (first) {
      first = false;
      const c = sniff(part);
      if (c === 'gzip') {
        const z = createGunzip();
        z.on('data', (d: Buffer) => inflated.push(d));
        z.on('error', (e) => (gzError = e));
        gunzip = z;
      } else if (c !== 'none') throw denyLoad('image-load', 'compression', `${c} (the guard reads gzip or uncompressed archives: decompress it first)`);
    }
    if (gunzip) {
      const z = gunzip;
      await new Promise<void>((res) => z.write(part, () => setImmediate(res)));
      await drainInflated();
    } else await feed(part);
  }
  if (gunzip) {
    const z = gunzip;
    await new Promise<void>((res) => {
      if (z.readableEnded || gzError) return res();
      z.once('end', res);
      z.once('error', () => res());
      z.end();
    });
    await drainInflated();
  }
  const tags = tagsOf(scanner.tagFiles);
  const refusal = await check(tags);
  if (refusal !== undefined) throw new HttpParseError(403, refusal);
  await release(Infinity);
  if (!out.destroyed) out.write('0\r\n\r\n', 'latin1');
}
