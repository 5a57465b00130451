import { deviceFacts } from '../../host/devices.js';
import { Facts, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** /dev/fuse (fuse-overlayfs for rootless) and /dev/net/tun (slirp4netns for rootless networking). */
export const devicesProbe: Probe = {
  id: 'devices',
  group: Groups.daemon,
  title: 'devices',
  provides: [Facts.devices.name],
  async run(ctx) {
    const fuse = await deviceFacts(ctx.host, '/dev/fuse');
    const tun = await deviceFacts(ctx.host, '/dev/net/tun');
    setFact(ctx.facts, Facts.devices, { fuse, tun });
    const one = (d: typeof fuse, use: string, flag: string) =>
      d.usable
        ? { id: `devices-${d.path === '/dev/fuse' ? 'fuse' : 'tun'}`, title: d.path, status: 'ok' as const, found: `${d.path}: ${d.reason}` }
        : {
            id: `devices-${d.path === '/dev/fuse' ? 'fuse' : 'tun'}`,
            title: d.path,
            status: 'warn' as const,
            found: `${d.path}: ${d.reason}`,
            why: use,
            fix: `pass it to the container: ${flag}`,
          };
    return [
      one(fuse, 'rootless dockerd on kernels before 5.11 (and Podman) use fuse-overlayfs, which needs /dev/fuse; otherwise it falls back to vfs', '--device /dev/fuse'),
      one(tun, 'rootless dockerd networks through slirp4netns or vpnkit, which need /dev/net/tun', '--device /dev/net/tun'),
    ];
  },
};
