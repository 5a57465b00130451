/**
 * Local images for air-gapped hosts and for the test suite: built from Debian packages, never pulled.
 * Each image carries a content key label (a hash of its inputs); an image whose key matches is not rebuilt.
 *
 *   nestling/busybox:local        FROM scratch + busybox-static
 *   nestling/cli:local            busybox + Debian's docker CLI (+ its libc)
 *   nestling/dind:local           Debian bookworm rootfs with docker.io (mmdebstrap), see dind.ts
 *   nestling/dind-rootless:local  the same with a rootless user, see dind.ts
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Engine } from '../engine/client.js';
import { readBody } from '../engine/transport.js';
import { environmentError, EngineError } from '../util/errors.js';
import { Labels } from '../util/labels.js';
import { noProgress, type ProgressFn } from '../util/log.js';
import { makeTar, type TarEntry } from '../util/tar.js';

export const LocalImages = {
  busybox: 'nestling/busybox:local',
  cli: 'nestling/cli:local',
  dind: 'nestling/dind:local',
  dindRootless: 'nestling/dind-rootless:local',
} as const;
export type LocalImageName = keyof typeof LocalImages;

export interface BuildOptions {
  progress?: ProgressFn | undefined;
  signal?: AbortSignal | undefined;
  /** Rebuild even when the content key matches. */
  force?: boolean | undefined;
  /** Where rootfs tarballs are cached (dind images). */
  cacheDir?: string | undefined;
  /** NESTLING_CACHE_DIR, NESTLING_DEBIAN_MIRROR, NESTLING_DEBIAN_SECURITY_MIRROR (dind images; see dind.ts). */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

export const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox'];

export function findStaticBusybox(): string {
  for (const p of BUSYBOX_PATHS) {
    if (!existsSync(p)) continue;
    // ldd exits non-zero with "not a dynamic executable" for static binaries (libc-bin is always there).
    try {
      const out = execFileSync('ldd', [p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      if (/statically linked/.test(out)) return p;
    } catch {
      return p;
    }
  }
  throw environmentError('E_IMAGES_NO_BUSYBOX', 'no statically linked busybox on this host', {
    hint: 'apt-get install busybox-static',
  });
}

function busyboxEntries(busyboxPath: string): TarEntry[] {
  const bin = readFileSync(busyboxPath);
  const applets = execFileSync(busyboxPath, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox' && /^[a-z0-9_.\-[\]]+$/i.test(s));
  const entries: TarEntry[] = [
    { name: 'bin', type: 'dir' },
    { name: 'tmp', type: 'dir', mode: 0o1777 },
    { name: 'etc', type: 'dir' },
    { name: 'root', type: 'dir', mode: 0o700 },
    { name: 'bin/busybox', data: bin, mode: 0o755 },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' },
    { name: 'etc/group', data: 'root:x:0:\ndocker:x:998:\nnogroup:x:65534:\n' },
  ];
  for (const a of applets) entries.push({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' });
  return entries;
}

function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

/** Debian's docker CLI and the libraries it links (the loader included). */
function cliEntries(): TarEntry[] {
  const cli = '/usr/bin/docker';
  if (!existsSync(cli)) {
    throw environmentError('E_IMAGES_NO_CLI', `${cli} is missing`, { hint: 'apt-get install docker.io' });
  }
  const entries: TarEntry[] = [{ name: 'usr', type: 'dir' }, { name: 'usr/bin', type: 'dir' }, { name: 'usr/bin/docker', data: readFileSync(cli), mode: 0o755 }];
  const dirs = new Set<string>();
  for (const lib of sharedLibraries(cli)) {
    const rel = lib.replace(/^\//, '');
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
    entries.push({ name: rel, data: readFileSync(realpathSync(lib)), mode: 0o755 });
  }
  return [...[...dirs].sort().map((d): TarEntry => ({ name: d, type: 'dir' })), ...entries];
}

export function contentKey(entries: TarEntry[], extra = ''): string {
  const h = createHash('sha256');
  h.update(extra);
  for (const e of entries) {
    h.update(`${e.name}\0${e.type ?? 'file'}\0${e.mode ?? ''}\0${e.linkname ?? ''}\0`);
    if (e.data) h.update(e.data);
  }
  return h.digest('hex').slice(0, 32);
}

export async function imageContentKey(engine: Engine, ref: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const info = await engine.json<{ Config?: { Labels?: Record<string, string> | null } }>({
      method: 'GET',
      path: `/images/${encodeURIComponent(ref)}/json`,
      signal,
    });
    return info.Config?.Labels?.[Labels.contentKey];
  } catch (e) {
    if (e instanceof EngineError && e.statusCode === 404) return undefined;
    throw e;
  }
}

/** `docker import` of a rootfs tar with Dockerfile-style changes. */
export async function importRootfs(
  engine: Engine,
  ref: string,
  rootfs: Buffer | NodeJS.ReadableStream,
  changes: string[],
  signal?: AbortSignal,
): Promise<void> {
  const [repo, tag] = splitRef(ref);
  const res = await engine.request({
    method: 'POST',
    path: '/images/create',
    query: { fromSrc: '-', repo, tag, changes },
    headers: { 'content-type': 'application/x-tar' },
    body: rootfs,
    signal,
    timeoutMs: 600_000,
  });
  const out = (await readBody(res)).toString('utf8');
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as { error?: string };
      if (j.error) throw new EngineError(`import of ${ref} failed: ${j.error}`, { code: 'E_IMAGES_IMPORT', engineMessage: j.error });
    } catch (e) {
      if (e instanceof EngineError) throw e;
    }
  }
}

export function splitRef(ref: string): [string, string] {
  const at = ref.lastIndexOf(':');
  const slash = ref.lastIndexOf('/');
  return at > slash ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, 'latest'];
}

async function buildFromEntries(
  engine: Engine,
  ref: string,
  entries: TarEntry[],
  changes: string[],
  opts: BuildOptions,
): Promise<'built' | 'cached'> {
  const progress = opts.progress ?? noProgress;
  const key = contentKey(entries, changes.join('\n'));
  if (!opts.force && (await imageContentKey(engine, ref, opts.signal)) === key) {
    progress({ task: ref, message: 'up to date' });
    return 'cached';
  }
  progress({ task: ref, message: `importing ${entries.length} entries` });
  await importRootfs(engine, ref, makeTar(entries), [...changes, `LABEL ${Labels.contentKey}=${key}`], opts.signal);
  progress({ task: ref, message: 'built' });
  return 'built';
}

export async function buildBusyboxImage(engine: Engine, opts: BuildOptions = {}): Promise<'built' | 'cached'> {
  return buildFromEntries(engine, LocalImages.busybox, busyboxEntries(findStaticBusybox()), ['CMD ["sh"]', 'ENV PATH=/bin:/usr/bin'], opts);
}

export async function buildCliImage(engine: Engine, opts: BuildOptions = {}): Promise<'built' | 'cached'> {
  const entries = [...busyboxEntries(findStaticBusybox()), ...cliEntries()];
  return buildFromEntries(engine, LocalImages.cli, entries, ['CMD ["sh"]', 'ENV PATH=/usr/bin:/bin'], opts);
}
