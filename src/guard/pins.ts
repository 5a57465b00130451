/**
 * Bind pins: the host paths a job's containers mount, held by the guard so that a symlink swapped in after the
 * check cannot redirect the daemon's mount.
 *
 * Without pins the daemon mounts a bind source by its path when the container starts; a job that writes inside an
 * allowed dir can replace the checked directory with a symlink (to `/`) between the guard's check and the mount.
 * With pins:
 *   - at create, each checked host path R is forwarded as a pin path P = <root>/<owner>/<hash of R> (an empty
 *     placeholder of R's type, created by the guard in a root-only directory the job cannot reach), and R is recorded
 *     next to it (`<hash>.src`);
 *   - at every start and restart the guard checks R again, opens it without following a final symlink, proves that
 *     the opened object is the one at R (the kernel's own path of the descriptor, /proc/self/fd/N, must be R: a swap
 *     of any component before the open shows there), and bind-mounts that descriptor onto P
 *     (`mount --bind /proc/<guard>/fd/N P`). The daemon then mounts P, which nothing the job does can redirect.
 * A pin that already holds the object at R is kept; one whose R was replaced is re-pinned. The reaper unmounts an
 * owner's pins (releasePins). Pins need root and the daemon's mount namespace; without them (probePins fails) the
 * guard runs without pins and says so (the race is then open, docs/policy.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { constants, promises as fsp, closeSync, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** O_PATH (Linux): a descriptor for a path, not opened for reading; enough to stat and to mount from. */
const O_PATH = 0o10000000;

export const DEFAULT_PIN_DIR = '/run/nestling/pins';

export interface BindPinner {
  /** the pin directory of this owner */
  readonly root: string;
  /** The pin path standing for a checked host path (records it, makes the placeholder; idempotent). */
  reserve(real: string): Promise<string>;
  /** The host path a pin path stands for; undefined when `p` is not one of this owner's pins. */
  realOf(p: string): Promise<string | undefined>;
  /** Mounts the object now at `real` onto the pin; a reason string when it cannot be proven to be `real`. */
  pin(pinPath: string, real: string): Promise<string | undefined>;
}

export function ownerPinDir(base: string, owner: string): string {
  return join(base, createHash('sha256').update(owner).digest('hex').slice(0, 24));
}

function hashOf(real: string): string {
  return createHash('sha256').update(real).digest('hex').slice(0, 32);
}

async function isMountPoint(p: string): Promise<boolean> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  // field 5 is the mount point, with spaces, tabs, newlines and backslashes octal-escaped
  const esc = p.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return text.split('\n').some((l) => l.split(' ')[4] === esc);
}

async function makePlaceholder(p: string, dir: boolean): Promise<void> {
  const st = await fsp.lstat(p).catch(() => undefined);
  if (st && st.isDirectory() === dir && !st.isSymbolicLink()) return;
  if (st) await fsp.rm(p, { recursive: false, force: true }).catch(() => fsp.rmdir(p));
  if (dir) await fsp.mkdir(p, { mode: 0o700 });
  else await (await fsp.open(p, 'wx', 0o600)).close();
}

class Pinner implements BindPinner {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  async reserve(real: string): Promise<string> {
    const h = hashOf(real);
    const p = join(this.root, h);
    await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
    await fsp.writeFile(`${p}.src`, real, { mode: 0o600 });
    const st = await fsp.stat(real).catch(() => undefined);
    // Mounts of type bind are validated at create: the placeholder must exist, of the source's type
    if (!(await isMountPoint(p))) await makePlaceholder(p, st ? st.isDirectory() : true);
    return p;
  }

  async realOf(p: string): Promise<string | undefined> {
    if (!p.startsWith(`${this.root}/`) || p.slice(this.root.length + 1).includes('/')) return undefined;
    return fsp.readFile(`${p}.src`, 'utf8').catch(() => undefined);
  }

  readonly #locks = new Map<string, Promise<string | undefined>>();

  /** One pin operation per pin path at a time (two starts of containers sharing a source). */
  pin(pinPath: string, real: string): Promise<string | undefined> {
    const prev = this.#locks.get(pinPath) ?? Promise.resolve(undefined);
    const next = prev.then(
      () => this.#pin(pinPath, real),
      () => this.#pin(pinPath, real),
    );
    this.#locks.set(pinPath, next);
    void next.finally(() => {
      if (this.#locks.get(pinPath) === next) this.#locks.delete(pinPath);
    });
    return next;
  }

  async #pin(pinPath: string, real: string): Promise<string | undefined> {
    let fd: number;
    try {
      fd = openSync(real, O_PATH | constants.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') return `cannot open it: ${code ?? String(e)}`;
      // the daemon creates a missing bind source directory; so does the guard (without following a swapped
      // component), then pins what it made
      const why = createMissingDir(real);
      if (why) return why;
      try {
        fd = openSync(real, O_PATH | constants.O_NOFOLLOW);
      } catch (e2) {
        return `cannot open it: ${(e2 as NodeJS.ErrnoException).code ?? String(e2)}`;
      }
    }
    let mountedHere = false;
    try {
      // O_PATH|O_NOFOLLOW opens a final symlink itself (no ELOOP): refused by its type
      const st = fstatSync(fd);
      if (st.isSymbolicLink()) return 'it is a symlink now';
      const opened = readlinkSync(`/proc/self/fd/${fd}`);
      if (opened !== real) return `opened ${opened}: a component was swapped`;
      const cur = await fsp.stat(pinPath).catch(() => undefined);
      const mounted = await isMountPoint(pinPath);
      if (mounted && cur && cur.dev === st.dev && cur.ino === st.ino) return undefined;
      if (mounted) await run('umount', ['-l', pinPath]);
      await makePlaceholder(pinPath, st.isDirectory());
      // --no-canonicalize: mount(8) would otherwise turn /proc/PID/fd/N back into a path (readlink) and mount that
      // path, which the kernel resolves again, following whatever was swapped in since the check. Given the magic
      // link itself, mount(2) binds the descriptor's own object.
      mountedHere = true;
      await run('mount', ['--no-canonicalize', '--bind', `/proc/${process.pid}/fd/${fd}`, pinPath]);
      const now = await fsp.stat(pinPath);
      if (now.dev !== st.dev || now.ino !== st.ino) return 'the pin does not hold the checked object';
      mountedHere = false;
      return undefined;
    } catch (e) {
      return `cannot pin it: ${(e as Error).message.split('\n')[0] ?? ''}`;
    } finally {
      closeSync(fd);
      // a failed pin leaves nothing mounted: the daemon mounts the pin for archive calls too (docker cp)
      if (mountedHere) await run('umount', ['-l', pinPath]).catch(() => undefined);
    }
  }
}

/**
 * Creates the missing components of a directory path without following a component swapped for a symlink: each
 * mkdir happens relative to a working directory entered and proven (/proc/self/cwd) to be the expected path, so a
 * swap of any component after the proof cannot redirect it. All synchronous: no other JavaScript runs while the
 * process's working directory is borrowed. Returns a reason when a component is not what it should be.
 */
export function createMissingDir(real: string): string | undefined {
  const parts = real.split('/').filter((x) => x !== '');
  let k = parts.length;
  while (k > 0) {
    try {
      lstatSync(`/${parts.slice(0, k).join('/')}`);
      break;
    } catch {
      k--;
    }
  }
  const saved = process.cwd();
  try {
    let cur = `/${parts.slice(0, k).join('/')}`;
    process.chdir(cur);
    if (readlinkSync('/proc/self/cwd') !== cur) return `${cur} is not itself (a swapped component)`;
    for (let j = k; j < parts.length; j++) {
      const name = parts[j] as string;
      try {
        mkdirSync(name, 0o755);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return `cannot create ${cur}/${name}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
      }
      process.chdir(name);
      cur = cur === '/' ? `/${name}` : `${cur}/${name}`;
      if (readlinkSync('/proc/self/cwd') !== cur) return `${cur} is not itself (a swapped component)`;
    }
    return undefined;
  } catch (e) {
    return `cannot create ${real}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  } finally {
    process.chdir(saved);
  }
}

/**
 * The mount namespace question: a pin is a mount the *daemon* must see. True when the process listening on the
 * engine's unix socket is visible here and lives in this mount namespace (the guard on the daemon's host). Found
 * from /proc/net/unix (the socket's inode) and the fds of /proc/<pid>. Anything else (a tcp engine, a daemon in
 * another container or pid namespace, rootless dockerd in its own mount namespace) answers with the reason.
 */
export async function daemonMountNamespace(socketPath: string | undefined): Promise<true | string> {
  if (!socketPath) return 'the engine is not a local unix socket';
  const table = await fsp.readFile('/proc/net/unix', 'utf8').catch(() => '');
  const inodes = new Set<string>();
  // the daemon may have bound another spelling of the path (/var/run is a link to /run on Debian)
  const want = await fsp.realpath(socketPath).catch(() => socketPath);
  const bases = [socketPath, want].map((p) => p.slice(p.lastIndexOf('/')));
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Num RefCount Protocol Flags Type St Inode Path; flags 00010000 = listening
    const path = f[7] ?? '';
    if (f[3] !== '00010000' || !bases.some((b) => path.endsWith(b))) continue;
    if (path === socketPath || path === want || (await fsp.realpath(path).catch(() => '')) === want) inodes.add(f[6] ?? '');
  }
  if (inodes.size === 0) return `no process listening on ${socketPath} is visible here`;
  const self = await fsp.readlink('/proc/self/ns/mnt').catch(() => '');
  const pids = (await fsp.readdir('/proc').catch(() => [] as string[])).filter((d) => /^\d+$/.test(d));
  for (const pid of pids) {
    const fds = await fsp.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const l = await fsp.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(l);
      if (!m || !inodes.has(m[1] ?? '')) continue;
      const ns = await fsp.readlink(`/proc/${pid}/ns/mnt`).catch(() => '');
      return ns !== '' && ns === self ? true : `the engine (pid ${pid}) runs in another mount namespace`;
    }
  }
  return `the process listening on ${socketPath} is not visible here (another pid namespace)`;
}

/**
 * Opens the pin directory of an owner after proving that pins work here (a bind mount from a descriptor, as pin()
 * does). Returns a reason when they do not (not root, no mount, another mount namespace's view of the files).
 */
export async function probePins(base: string, owner: string, engineSocket: string | undefined): Promise<BindPinner | string> {
  if (process.platform !== 'linux') return 'pins need Linux';
  if (process.getuid?.() !== 0) return 'pins need root (bind mounts)';
  const ns = await daemonMountNamespace(engineSocket);
  if (ns !== true) return ns;
  const root = ownerPinDir(base, owner);
  const probe = join(root, `.probe-${randomBytes(4).toString('hex')}`);
  try {
    await fsp.mkdir(base, { recursive: true, mode: 0o700 });
    await fsp.chmod(base, 0o700);
    await fsp.mkdir(root, { recursive: true, mode: 0o700 });
    await fsp.mkdir(`${probe}-src`);
    await fsp.writeFile(join(`${probe}-src`, 'x'), 'x');
    await fsp.mkdir(probe);
    const p = new Pinner(root);
    const why = await p.pin(probe, `${probe}-src`);
    if (why) return why;
    const ok = await fsp.readFile(join(probe, 'x'), 'utf8').catch(() => '');
    await run('umount', ['-l', probe]).catch(() => undefined);
    if (ok !== 'x') return 'a bind mount made here is not visible here';
    return p;
  } catch (e) {
    return (e as Error).message.split('\n')[0] ?? String(e);
  } finally {
    await fsp.rm(probe, { recursive: true, force: true }).catch(() => undefined);
    await fsp.rm(`${probe}-src`, { recursive: true, force: true }).catch(() => undefined);
    // the owner's directory comes back with its first pin
    await fsp.rmdir(root).catch(() => undefined);
  }
}

/** Unmounts and removes every pin of an owner (after its containers are gone). Returns the pins released. */
export async function releasePins(base: string, owner: string): Promise<number> {
  const root = ownerPinDir(base, owner);
  const entries = await fsp.readdir(root).catch(() => [] as string[]);
  let n = 0;
  for (const e of entries) {
    const p = join(root, e);
    if (e.endsWith('.src')) continue;
    // two starts racing the first pin can stack two mounts: unmount until none is left
    for (let i = 0; i < 8 && (await isMountPoint(p)); i++) {
      await run('umount', ['-l', p]).catch(() => undefined);
      if (i === 0) n++;
    }
  }
  // placeholders are empty: removed without recursion, so nothing still mounted can be reached
  for (const e of entries) {
    const p = join(root, e);
    if (await isMountPoint(p)) continue;
    await fsp.unlink(p).catch(() => fsp.rmdir(p).catch(() => undefined));
  }
  await fsp.rmdir(root).catch(() => undefined);
  return n;
}
