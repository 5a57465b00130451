/**
 * nestling/dind:local and nestling/dind-rootless:local: a Debian bookworm rootfs with docker.io, made with
 * mmdebstrap, cached as a tarball by content key, and `docker import`ed with an entrypoint that behaves like
 * docker:dind's (images/dind/dockerd-entrypoint.sh) or docker:dind-rootless's
 * (images/dind-rootless/dockerd-rootless-entrypoint.sh).
 *
 * One rootfs serves both images: the packages, the user `rootless` (uid 1000, subuid/subgid 100000:65536),
 * newuidmap/newgidmap with file capabilities instead of setuid (carried into the image by the tar's
 * SCHILY.xattr.security.capability records, which `docker import` applies), and the iptables-legacy switch
 * directory. Each image appends its entrypoint to that tarball (the tar is streamed, its end-of-archive blocks
 * cut, our entries added) so changing an entrypoint never re-runs mmdebstrap.
 *
 * Content keys: the rootfs key hashes the package list, suite, mirrors, variant, dpkg options and hooks; the image
 * key hashes the rootfs key, the appended entries and the import changes. An image whose label matches is not
 * rebuilt; a cached rootfs whose key matches is not rebuilt.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../engine/client.js';
import { environmentError, NestlingError, ErrorCategory } from '../util/errors.js';
import type { Env } from '../util/env.js';
import { Labels } from '../util/labels.js';
import { noProgress, type ProgressFn } from '../util/log.js';
import { makeTar, type TarEntry } from '../util/tar.js';
import { imageContentKey, importRootfs, LocalImages, type BuildOptions } from './local.js';

/** Bump when the recipe changes in a way the inputs below do not show. */
const RECIPE_VERSION = '1';

export const DIND_SUITE = 'bookworm';
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_DEBIAN_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

/**
 * What the rootfs holds, beyond Debian's essential set: the engine and what an inner daemon needs (iptables both
 * flavours, iproute2, procps, ca-certificates for registries, pigz/xz for layers, e2fsprogs for mkfs of loop
 * devices some builds use), and the rootless tool chain (uidmap, rootlesskit, slirp4netns, fuse-overlayfs).
 * usr-is-merged keeps usrmerge (and Perl) out.
 */
export const DIND_PACKAGES = [
  'docker.io',
  'iptables',
  'uidmap',
  'rootlesskit',
  'slirp4netns',
  'fuse-overlayfs',
  'ca-certificates',
  'iproute2',
  'procps',
  'pigz',
  'xz-utils',
  'e2fsprogs',
  'passwd',
  // setcap for the hooks below runs inside the new tree, so the host needs no libcap2-bin
  'libcap2-bin',
  'usr-is-merged',
] as const;

/** Left out by dpkg (documentation and translations: about 40 MB nobody reads in a CI daemon). */
const DPKG_OPTIONS = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/info/*',
];

/** Run in the finished tree ($1) before it is packed. Shared by both images. */
const CUSTOMIZE_HOOKS = [
  // file capabilities instead of setuid: newuidmap/newgidmap only need these two
  'chroot "$1" setcap cap_setuid+ep /usr/bin/newuidmap && chroot "$1" setcap cap_setgid+ep /usr/bin/newgidmap && chmod 0755 "$1/usr/bin/newuidmap" "$1/usr/bin/newgidmap"',
  // the rootless user of docker:dind-rootless: uid/gid 1000, subordinate ranges, its data root and runtime dir
  'chroot "$1" useradd --create-home --uid 1000 --user-group --shell /bin/sh rootless && echo rootless:100000:65536 > "$1/etc/subuid" && echo rootless:100000:65536 > "$1/etc/subgid"',
  'mkdir -p "$1/home/rootless/.local/share/docker" && chroot "$1" chown -R rootless:rootless /home/rootless && mkdir -p "$1/run/user" && chmod 1777 "$1/run/user"',
  'ln -sf /usr/share/docker.io/contrib/dockerd-rootless.sh "$1/usr/local/bin/dockerd-rootless.sh"',
  // PATH prefix the entrypoint uses when the host has legacy iptables rules (docker:dind does the same)
  'mkdir -p "$1/usr/local/sbin/.iptables-legacy" && for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do ln -sf "/usr/sbin/${t%%-*}-legacy${t#${t%%-*}}" "$1/usr/local/sbin/.iptables-legacy/$t"; done',
  'mkdir -p "$1/var/lib/docker" "$1/certs"',
  // debugging helpers of docker.io nothing here runs (about 25 MB), and caches
  'rm -f "$1/usr/bin/dnet" "$1/usr/sbin/ovrouter" "$1/usr/bin/containerd-shim-runc-v1" && rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*.log "$1"/var/cache/debconf/*-old',
];

export interface DindRootfsOptions {
  cacheDir: string;
  mirror?: string | undefined;
  securityMirror?: string | undefined;
  progress?: ProgressFn | undefined;
  signal?: AbortSignal | undefined;
  force?: boolean | undefined;
  /** The mmdebstrap binary (tests point it elsewhere). */
  mmdebstrap?: string | undefined;
}

/** NESTLING_CACHE_DIR, else $XDG_CACHE_HOME/nestling, else ~/.cache/nestling. */
export function defaultCacheDir(env: Env = {}, home: string = homedir()): string {
  if (env.NESTLING_CACHE_DIR) return env.NESTLING_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'nestling');
  return join(home, '.cache', 'nestling');
}

export function mmdebstrapArgs(out: string, mirror: string, securityMirror: string): string[] {
  return [
    '--variant=essential',
    '--mode=root',
    '--format=tar',
    `--include=${DIND_PACKAGES.join(',')}`,
    ...DPKG_OPTIONS.map((o) => `--dpkgopt=${o}`),
    ...CUSTOMIZE_HOOKS.map((h) => `--customize-hook=${h}`),
    DIND_SUITE,
    out,
    `deb ${mirror} ${DIND_SUITE} main`,
    `deb ${mirror} ${DIND_SUITE}-updates main`,
    `deb ${securityMirror} ${DIND_SUITE}-security main`,
  ];
}

export function rootfsKey(mirror: string, securityMirror: string): string {
  return createHash('sha256')
    .update(JSON.stringify({ v: RECIPE_VERSION, args: mmdebstrapArgs('OUT', mirror, securityMirror) }))
    .digest('hex')
    .slice(0, 32);
}

/** mkdir -p one level at a time (node 20's recursive mkdirSync never returns under /proc). */
function makeDirs(path: string): void {
  if (existsSync(path)) return;
  if (dirname(path) !== path) makeDirs(dirname(path));
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });

/**
 * The cached rootfs tarball for the current recipe, built with mmdebstrap when missing (a few minutes at most;
 * stderr lines become progress events). Written to a temporary name and renamed: a reader never sees half a
 * tarball. A lock file (with the builder's pid) makes a second concurrent builder wait instead of building twice.
 */
export async function ensureDindRootfs(opts: DindRootfsOptions): Promise<{ path: string; key: string; built: boolean }> {
  const progress = opts.progress ?? noProgress;
  const mirror = opts.mirror ?? DEFAULT_DEBIAN_MIRROR;
  const securityMirror = opts.securityMirror ?? DEFAULT_DEBIAN_SECURITY_MIRROR;
  const key = rootfsKey(mirror, securityMirror);
  const dir = opts.cacheDir;
  const path = join(dir, `dind-rootfs-${key}.tar`);
  const task = 'dind rootfs';
  try {
    makeDirs(dir);
  } catch (e) {
    throw environmentError('E_IMAGES_CACHE_DIR', `cannot create the cache directory ${dir}: ${(e as Error).message}`, {
      hint: 'set NESTLING_CACHE_DIR to a writable directory',
      cause: e,
    });
  }
  const lock = `${path}.lock`;
  for (;;) {
    if (!opts.force && existsSync(path)) {
      progress({ task, message: `cached ${path}` });
      return { path, key, built: false };
    }
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (!pid || !isAlive(pid)) {
        rmSync(lock, { force: true });
        continue;
      }
      progress({ task, message: `waiting for pid ${pid}, which is building it` });
      await sleep(2000, opts.signal);
      if (opts.force && !existsSync(lock)) return { path, key, built: false };
    }
  }
  const tmp = join(dir, `.dind-rootfs-${key}.${randomBytes(4).toString('hex')}.tar`);
  try {
    await runMmdebstrap(opts.mmdebstrap ?? 'mmdebstrap', mmdebstrapArgs(tmp, mirror, securityMirror), progress, task, opts.signal);
    renameSync(tmp, path);
    progress({ task, message: `cached ${path} (${Math.round(statSync(path).size / 1048576)} MB)` });
    return { path, key, built: true };
  } finally {
    rmSync(tmp, { force: true });
    rmSync(lock, { force: true });
  }
}

function runMmdebstrap(bin: string, args: string[], progress: ProgressFn, task: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const tail: string[] = [];
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], signal });
    let buf = '';
    child.stderr.setEncoding('utf8');
    const emit = (raw: string) => {
      const line = raw.trimEnd();
      if (!line) return;
      tail.push(line);
      if (tail.length > 30) tail.shift();
      progress({ task, message: line.length > 200 ? `${line.slice(0, 200)}...` : line });
    };
    child.stderr.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        emit(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        reject(environmentError('E_IMAGES_NO_MMDEBSTRAP', `${bin} is not installed`, { hint: 'apt-get install mmdebstrap', cause: e }));
      } else if (e.name === 'AbortError') {
        reject(e);
      } else {
        reject(environmentError('E_IMAGES_MMDEBSTRAP', `${bin} failed to start: ${e.message}`, { cause: e }));
      }
    });
    child.on('close', (code, sig) => {
      emit(buf);
      buf = '';
      if (code === 0) return resolve();
      if (signal?.aborted) return reject(signal.reason as Error);
      reject(
        environmentError('E_IMAGES_MMDEBSTRAP', `mmdebstrap exited with ${code ?? sig}: ${tail.at(-1) ?? ''}`, {
          hint: 'it needs root and a reachable Debian mirror (NESTLING_DEBIAN_MIRROR); see the log tail in --json details',
          details: { logTail: tail.join('\n') },
        }),
      );
    });
  });
}

/** Byte offset of the end-of-archive marker of a tar file (its entries are walked header by header). */
export function tarDataEnd(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const h = Buffer.alloc(512);
    let pos = 0;
    while (pos + 512 <= size) {
      if (readSync(fd, h, 0, 512, pos) !== 512) break;
      if (h.every((b) => b === 0)) return pos;
      pos += 512 + Math.ceil(tarEntrySize(h) / 512) * 512;
    }
    throw new NestlingError(`${path} is not a complete tar archive`, {
      code: 'E_IMAGES_BAD_ROOTFS',
      category: ErrorCategory.Environment,
      hint: 'delete it; the next build makes it again',
    });
  } finally {
    closeSync(fd);
  }
}

function tarEntrySize(h: Buffer): number {
  const f = h.subarray(124, 136);
  if ((f[0]! & 0x80) !== 0) {
    // GNU base-256
    let n = 0;
    for (let i = 1; i < 12; i++) n = n * 256 + f[i]!;
    return n;
  }
  const s = f.toString('ascii').replace(/\0.*$/s, '').trim();
  return s ? parseInt(s, 8) : 0;
}

/** The cached rootfs followed by extra entries, as one tar stream. */
export function appendToTar(path: string, extra: TarEntry[]): NodeJS.ReadableStream {
  const end = tarDataEnd(path);
  const out = new PassThrough();
  const src = createReadStream(path, { start: 0, end: end - 1 });
  src.on('error', (e) => out.destroy(e));
  src.on('end', () => out.end(makeTar(extra)));
  src.pipe(out, { end: false });
  return out;
}

/** Where the entrypoint scripts live in the package: <package>/images/ (from src/images/ or dist/src/images/). */
export function imagesAssetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of [['..', '..'], ['..', '..', '..']]) {
    const dir = join(here, ...up, 'images');
    if (existsSync(join(dir, 'dind', 'dockerd-entrypoint.sh'))) return dir;
  }
  return join(here, '..', '..', 'images');
}

function asset(rel: string): Buffer {
  const p = join(imagesAssetDir(), rel);
  try {
    return readFileSync(p);
  } catch (e) {
    throw environmentError('E_IMAGES_ASSET', `missing image asset ${p}`, { hint: 'reinstall nestling (the images/ folder ships with it)', cause: e });
  }
}

const DIND_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface DindImageSpec {
  ref: string;
  entries: TarEntry[];
  changes: string[];
}

export function dindImageSpec(): DindImageSpec {
  return {
    ref: LocalImages.dind,
    entries: [{ name: 'usr/local/bin/dockerd-entrypoint.sh', data: asset('dind/dockerd-entrypoint.sh'), mode: 0o755 }],
    changes: [
      `ENV ${DIND_PATH}`,
      'VOLUME /var/lib/docker',
      'EXPOSE 2375 2376',
      'ENTRYPOINT ["dockerd-entrypoint.sh"]',
      'CMD []',
    ],
  };
}

export function dindRootlessImageSpec(): DindImageSpec {
  return {
    ref: LocalImages.dindRootless,
    entries: [{ name: 'usr/local/bin/dockerd-rootless-entrypoint.sh', data: asset('dind-rootless/dockerd-rootless-entrypoint.sh'), mode: 0o755 }],
    changes: [
      `ENV ${DIND_PATH}`,
      'ENV HOME=/home/rootless',
      'ENV XDG_RUNTIME_DIR=/run/user/1000',
      // for `docker exec ... docker ...` inside (uid 1000; a remapped uid has its own /run/user/<uid>/docker.sock)
      'ENV DOCKER_HOST=unix:///run/user/1000/docker.sock',
      'VOLUME /home/rootless/.local/share/docker',
      'EXPOSE 2376',
      'USER rootless',
      'WORKDIR /home/rootless',
      'ENTRYPOINT ["dockerd-rootless-entrypoint.sh"]',
      'CMD []',
    ],
  };
}

export function dindImageKey(rootKey: string, spec: DindImageSpec): string {
  const h = createHash('sha256').update(`${RECIPE_VERSION}\0${rootKey}\0${spec.changes.join('\n')}\0`);
  for (const e of spec.entries) h.update(`${e.name}\0${e.mode ?? ''}\0`).update(e.data ?? '');
  return h.digest('hex').slice(0, 32);
}

/** Options of the dind builders: BuildOptions plus the environment (NESTLING_CACHE_DIR, NESTLING_DEBIAN_MIRROR). */
export type DindBuildOptions = BuildOptions & { mmdebstrap?: string | undefined };

async function buildDindVariant(engine: Engine, spec: DindImageSpec, opts: DindBuildOptions): Promise<'built' | 'cached'> {
  const progress = opts.progress ?? noProgress;
  const env = opts.env ?? {};
  const mirror = env.NESTLING_DEBIAN_MIRROR || DEFAULT_DEBIAN_MIRROR;
  const securityMirror = env.NESTLING_DEBIAN_SECURITY_MIRROR || DEFAULT_DEBIAN_SECURITY_MIRROR;
  const key = dindImageKey(rootfsKey(mirror, securityMirror), spec);
  if (!opts.force && (await imageContentKey(engine, spec.ref, opts.signal)) === key) {
    progress({ task: spec.ref, message: 'up to date' });
    return 'cached';
  }
  const rootfs = await ensureDindRootfs({
    cacheDir: opts.cacheDir ?? defaultCacheDir(env),
    mirror,
    securityMirror,
    progress,
    signal: opts.signal,
    mmdebstrap: opts.mmdebstrap,
  });
  progress({ task: spec.ref, message: 'importing the rootfs' });
  await importRootfs(engine, spec.ref, appendToTar(rootfs.path, spec.entries), [...spec.changes, `LABEL ${Labels.contentKey}=${key}`], opts.signal);
  progress({ task: spec.ref, message: 'built' });
  return 'built';
}

export function buildDindImage(engine: Engine, opts: DindBuildOptions = {}): Promise<'built' | 'cached'> {
  return buildDindVariant(engine, dindImageSpec(), opts);
}

export function buildDindRootlessImage(engine: Engine, opts: DindBuildOptions = {}): Promise<'built' | 'cached'> {
  return buildDindVariant(engine, dindRootlessImageSpec(), opts);
}
