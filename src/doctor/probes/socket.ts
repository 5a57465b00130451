import { statPath } from '../../host/fs.js';
import { Facts, getFact, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

function modeString(mode: number): string {
  const r = (b: number, c: string) => (mode & b ? c : '-');
  return [r(0o400, 'r'), r(0o200, 'w'), r(0o100, 'x'), r(0o40, 'r'), r(0o20, 'w'), r(0o10, 'x'), r(0o4, 'r'), r(0o2, 'w'), r(0o1, 'x')].join('');
}

/** The socket: present, a socket, its permissions and group against mine. */
export const socketProbe: Probe = {
  id: 'socket',
  group: Groups.access,
  title: 'engine socket',
  provides: [Facts.socketUsable.name],
  async run(ctx) {
    const ep = await getFact(ctx.facts, Facts.endpoint);
    if (!ep) return { status: 'unknown', found: 'no endpoint was resolved (see the endpoint probe)' };
    if (ep.kind !== 'unix' || !ep.socketPath) return { status: 'ok', found: `${ep.url} is a TCP endpoint: no socket file to check` };
    const path = ep.socketPath;
    const st = await statPath(ctx.host, path);
    if (!st.ok) {
      setFact(ctx.facts, Facts.socketUsable, false);
      return st.code === 'ENOENT'
        ? {
            status: 'fail',
            found: `no socket at ${path}`,
            why: 'nothing can talk to the engine through a socket that is not there',
            fix: `mount it into this container (-v /var/run/docker.sock:${path}), start dockerd, or set DOCKER_HOST`,
          }
        : { status: 'fail', found: `cannot stat ${path}: ${st.error}`, fix: `check the permissions of ${path.replace(/\/[^/]*$/, '')}` };
    }
    const s = st.value;
    if (s.isDirectory()) {
      setFact(ctx.facts, Facts.socketUsable, false);
      return {
        status: 'fail',
        found: `${path} is a directory, not a socket`,
        why: 'Docker creates a directory when a -v source does not exist on the host: the socket was not where the mount said',
        fix: 'mount the real socket path of the host engine (docker context inspect / ls -l /var/run/docker.sock on the host)',
      };
    }
    if (!s.isSocket()) {
      setFact(ctx.facts, Facts.socketUsable, false);
      return { status: 'fail', found: `${path} exists but is not a socket`, fix: `point DOCKER_HOST at the engine's socket` };
    }
    const me = await ctx.read.status();
    const perms = modeString(s.mode & 0o777);
    const myGroups = new Set([me.gid, ...me.groups]);
    let access: string;
    let ok: boolean;
    if (me.uid === 0) {
      ok = true;
      access = 'root';
    } else if (s.uid === me.uid) {
      ok = (s.mode & 0o600) === 0o600;
      access = 'owner';
    } else if (myGroups.has(s.gid)) {
      ok = (s.mode & 0o060) === 0o060;
      access = `member of group ${s.gid}`;
    } else {
      ok = (s.mode & 0o006) === 0o006;
      access = 'other';
    }
    setFact(ctx.facts, Facts.socketUsable, ok);
    const found = `${path}: socket ${perms} uid ${s.uid} gid ${s.gid}; I am uid ${me.uid}, groups ${[...myGroups].join(',')} (${access})`;
    if (ok) return { status: 'ok', found: `${found}: read-write`, details: { path, mode: s.mode & 0o777, uid: s.uid, gid: s.gid, myUid: me.uid, myGroups: [...myGroups] } };
    return {
      status: 'fail',
      found: `${found}: no read-write access`,
      why: 'connecting to the socket fails with EACCES (permission denied)',
      fix: `run the job with --group-add ${s.gid} (the socket's group id, which need not exist by name in the image), or as root`,
      details: { path, mode: s.mode & 0o777, uid: s.uid, gid: s.gid, myUid: me.uid, myGroups: [...myGroups] },
    };
  },
};
