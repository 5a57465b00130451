import type { Outcome } from '../../checks/model.js';
import { containerLabel, type AuditCheck } from '../context.js';

const SOCKET = /(^|\/)(docker|podman|containerd|dockershim|cri-dockerd)\.sock$/;
const SOCKET_DIRS = new Set(['/var/run', '/run', '/var/run/docker', '/run/docker', '/run/containerd', '/run/podman']);

/** Containers with an engine socket (or the directory that holds it) mounted: root on the host through the API. */
export const socketMountCheck: AuditCheck = {
  id: 'socket-mount',
  group: 'containers',
  title: 'engine socket mounted',
  async run(ctx) {
    const out: Outcome[] = [];
    for (const c of await ctx.read.containers()) {
      for (const m of c.Mounts ?? []) {
        const src = m.Source ?? '';
        const dst = m.Destination ?? '';
        const isSock = SOCKET.test(src) || SOCKET.test(dst);
        const isDir = m.Type === 'bind' && SOCKET_DIRS.has(src.replace(/\/$/, ''));
        if (!isSock && !isDir) continue;
        out.push({
          status: 'fail',
          severity: c.State?.Running ? 'critical' : 'high',
          subject: c.Name.replace(/^\//, ''),
          found: `${containerLabel(c)} mounts ${src} at ${dst}${m.RW === false ? ' (read-only: still full API access)' : ''}`,
          why: 'whoever controls this container can start a privileged container with the host root mounted: it is root on the host (a read-only mount does not restrict the API)',
          fix: 'remove the mount, or put nestling guard (or another filtering proxy) in front of the socket',
          details: { id: c.Id, image: c.Config?.Image, source: src, destination: dst, rw: m.RW },
        });
      }
    }
    return out;
  },
};
