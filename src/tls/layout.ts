/**
 * docker:dind's certificate layout, which DOCKER_TLS_CERTDIR points at and DOCKER_CERT_PATH reads:
 *
 *   <dir>/ca/cert.pem  ca/key.pem                     the CA (its key signs; keep it away from the job)
 *   <dir>/server/ca.pem  server/cert.pem  server/key.pem   mounted into the daemon
 *   <dir>/client/ca.pem  client/cert.pem  client/key.pem   DOCKER_CERT_PATH of the client
 *
 * Directories are 0700 and private keys 0600, owned by whoever wrote them; certificates are 0644. A client (or a
 * rootless daemon) running under another uid gets its directory handed over with `owners` (chown needs root);
 * the layout root then becomes 0711 so that uid can reach its directory without listing the others.
 * Each file is written under a temporary name with its final mode and renamed: no key is ever readable by others,
 * even for a moment. Existing files are refused unless `force` is set.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { environmentError, usageError } from '../util/errors.js';
import type { CertBundle } from './generate.js';

export const LAYOUT_DIRS = ['ca', 'server', 'client'] as const;
export type LayoutDir = (typeof LAYOUT_DIRS)[number];

export interface LayoutFile {
  path: string;
  /** relative to the layout root, e.g. server/key.pem */
  name: string;
  mode: number;
  isKey: boolean;
}

export interface WriteLayoutOptions {
  /** overwrite existing files */
  force?: boolean | undefined;
  /** chown a directory and its files (e.g. client to the job's uid, server to a rootless daemon's uid) */
  owners?: Partial<Record<LayoutDir, { uid: number; gid: number }>> | undefined;
}

export interface DindLayout {
  dir: string;
  caDir: string;
  serverDir: string;
  /** DOCKER_CERT_PATH for the client */
  clientDir: string;
  files: LayoutFile[];
}

function contents(bundle: CertBundle): [string, string, boolean][] {
  return [
    ['ca/cert.pem', bundle.ca.cert, false],
    ['ca/key.pem', bundle.ca.key, true],
    ['server/ca.pem', bundle.ca.cert, false],
    ['server/cert.pem', bundle.server.cert, false],
    ['server/key.pem', bundle.server.key, true],
    ['client/ca.pem', bundle.ca.cert, false],
    ['client/cert.pem', bundle.client.cert, false],
    ['client/key.pem', bundle.client.key, true],
  ];
}

/** Every file the layout holds, relative to its root. */
export const LAYOUT_FILES = ['ca/cert.pem', 'ca/key.pem', 'server/ca.pem', 'server/cert.pem', 'server/key.pem', 'client/ca.pem', 'client/cert.pem', 'client/key.pem'] as const;

/**
 * mkdir -p, one level at a time: node's `mkdirSync(p, { recursive: true })` never returns for a path under /proc
 * (node 20), and a user may well type one.
 */
export function makeDirs(path: string, mode: number): void {
  if (existsSync(path)) return;
  const parent = dirname(path);
  if (parent !== path) makeDirs(parent, mode);
  try {
    mkdirSync(path, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

function fsError(what: string, path: string, e: unknown) {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return environmentError('E_TLS_WRITE', `cannot ${what} ${path}: ${(e as Error).message}`, {
    hint:
      code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'choose a directory you can write (--dir), or run as its owner'
        : code === 'ENOTDIR' || code === 'EEXIST'
          ? `${path} or one of its parents is not a directory`
          : 'check the directory and the free space',
    cause: e,
  });
}

export function writeDindLayout(dir: string, bundle: CertBundle, opts: WriteLayoutOptions = {}): DindLayout {
  const entries = contents(bundle);
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw usageError('E_TLS_NOT_DIR', `${dir} exists and is not a directory`, { hint: 'give --dir a directory (it is created when missing)' });
  }
  if (!opts.force) {
    const existing = entries.map(([n]) => n).filter((n) => existsSync(join(dir, n)));
    if (existing.length) {
      throw usageError('E_TLS_EXISTS', `${dir} already holds certificates (${existing.join(', ')})`, {
        hint: 'pass --force to replace them, or choose another --dir',
        details: { existing },
      });
    }
  }
  try {
    makeDirs(dir, 0o700);
  } catch (e) {
    throw fsError('create', dir, e);
  }
  for (const sub of LAYOUT_DIRS) {
    const p = join(dir, sub);
    try {
      makeDirs(p, 0o700);
      chmodSync(p, 0o700);
    } catch (e) {
      throw fsError('create', p, e);
    }
  }
  const files: LayoutFile[] = [];
  const suffix = `.${randomBytes(4).toString('hex')}.tmp`;
  for (const [name, data, isKey] of entries) {
    const path = join(dir, name);
    const mode = isKey ? 0o600 : 0o644;
    const tmp = path + suffix;
    try {
      writeFileSync(tmp, data, { mode, flag: 'wx' });
      chmodSync(tmp, mode);
      renameSync(tmp, path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw fsError('write', path, e);
    }
    files.push({ path, name, mode, isKey });
  }
  const owned = Object.entries(opts.owners ?? {}) as [LayoutDir, { uid: number; gid: number }][];
  if (owned.length) {
    // another uid must be able to reach its directory: traverse, not list
    try {
      chmodSync(dir, 0o711);
    } catch (e) {
      throw fsError('chmod 0711', dir, e);
    }
  }
  for (const [sub, owner] of owned) {
    const p = join(dir, sub);
    try {
      chownSync(p, owner.uid, owner.gid);
      for (const f of files.filter((x) => x.name.startsWith(`${sub}/`))) chownSync(f.path, owner.uid, owner.gid);
    } catch (e) {
      throw fsError(`chown ${owner.uid}:${owner.gid}`, p, e);
    }
  }
  return { dir, caDir: join(dir, 'ca'), serverDir: join(dir, 'server'), clientDir: join(dir, 'client'), files };
}
