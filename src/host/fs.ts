/**
 * Reading host facts under an injectable root: '/' in production, a fake tree (test/fixtures/proc/<case>) in unit
 * tests. Every read returns a result instead of throwing, so a probe can say *why* a fact is unknown (EACCES on a
 * masked /proc entry, ENOENT on a kernel without the knob).
 */
import { open, readFile, readdir, readlink, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';

export type Read<T> = { ok: true; value: T } | { ok: false; error: string; code: string };

export interface HostRoot {
  /** Directory that stands for '/'. */
  root: string;
  /** The process whose view is read: 'self' (default) or a pid. */
  pid?: string | undefined;
}

export function hostPath(h: HostRoot, p: string): string {
  const rel = p.replace(/^\/+/, '');
  return h.root === '/' ? `/${rel}` : join(h.root, rel);
}

/** /proc/<pid>/<rest> for the process of interest. */
export function procPath(h: HostRoot, rest: string): string {
  return `/proc/${h.pid ?? 'self'}/${rest}`;
}

function fail<T>(e: unknown): Read<T> {
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? 'EIO';
  return { ok: false, code, error: `${code}: ${err.message}` };
}

export async function readText(h: HostRoot, p: string, limit = 4 * 1024 * 1024): Promise<Read<string>> {
  try {
    const fh = await open(hostPath(h, p), 'r');
    try {
      const buf = Buffer.alloc(Math.min(limit, 64 * 1024));
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
        total += bytesRead;
        if (total >= limit) break;
      }
      return { ok: true, value: Buffer.concat(chunks).toString('utf8') };
    } finally {
      await fh.close();
    }
  } catch (e) {
    return fail(e);
  }
}

export async function readTrimmed(h: HostRoot, p: string): Promise<Read<string>> {
  const r = await readText(h, p, 64 * 1024);
  return r.ok ? { ok: true, value: r.value.trim() } : r;
}

export async function statPath(h: HostRoot, p: string): Promise<Read<Stats>> {
  try {
    return { ok: true, value: await stat(hostPath(h, p)) };
  } catch (e) {
    return fail(e);
  }
}

export async function exists(h: HostRoot, p: string): Promise<boolean> {
  return (await statPath(h, p)).ok;
}

export async function listDir(h: HostRoot, p: string): Promise<Read<string[]>> {
  try {
    return { ok: true, value: await readdir(hostPath(h, p)) };
  } catch (e) {
    return fail(e);
  }
}

export async function readLink(h: HostRoot, p: string): Promise<Read<string>> {
  try {
    return { ok: true, value: await readlink(hostPath(h, p)) };
  } catch (e) {
    return fail(e);
  }
}

export async function readBinary(h: HostRoot, p: string): Promise<Read<Buffer>> {
  try {
    return { ok: true, value: await readFile(hostPath(h, p)) };
  } catch (e) {
    return fail(e);
  }
}

/** Opens a path read-write and closes it again: proves a device node is usable, not only present. */
export async function canOpenReadWrite(h: HostRoot, p: string): Promise<Read<true>> {
  try {
    const fh = await open(hostPath(h, p), 'r+');
    await fh.close();
    return { ok: true, value: true };
  } catch (e) {
    return fail(e);
  }
}
