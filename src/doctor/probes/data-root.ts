import { mountFor } from '../../host/mountinfo.js';
import { Facts, getFact, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

const OVERLAY = new Set(['overlay', 'fuse-overlayfs', 'aufs']);

/** /var/lib/docker on overlayfs: overlay on overlay fails, so a nested daemon needs a volume there. */
export const dataRootProbe: Probe = {
  id: 'data-root',
  group: Groups.daemon,
  title: 'data root filesystem',
  provides: [Facts.dataRootOnOverlay.name],
  async run(ctx) {
    const mounts = await ctx.read.mounts();
    const path = '/var/lib/docker';
    const m = mountFor(mounts, path);
    if (!m) return { status: 'unknown', found: `no mount holds ${path}` };
    const onOverlay = OVERLAY.has(m.fsType);
    setFact(ctx.facts, Facts.dataRootOnOverlay, onOverlay);
    const eng = await getFact(ctx.facts, Facts.engine);
    const outer = eng?.driver ? `; the engine uses the ${eng.driver} storage driver at ${eng.dockerRootDir ?? '?'}` : '';
    if (onOverlay) {
      return {
        status: 'warn',
        found: `${path} would be on ${m.fsType} (mounted at ${m.mountPoint})${outer}`,
        why: 'overlay2 cannot use an overlay filesystem as its upper layer: a daemon here fails or falls back to the slow vfs driver',
        fix: `mount a volume at ${path} (-v /var/lib/docker, which nestling's dind mode does)`,
        details: { fsType: m.fsType, mountPoint: m.mountPoint },
      };
    }
    return { status: 'ok', found: `${path} is on ${m.fsType} (mounted at ${m.mountPoint})${outer}`, details: { fsType: m.fsType, mountPoint: m.mountPoint } };
  },
};
