/** The registry of locally buildable images, in build order (later ones may build on earlier ones). */
import type { Engine } from '../engine/client.js';
import { buildDindImage, buildDindRootlessImage } from './dind.js';
import { buildBusyboxImage, buildCliImage, LocalImages, type BuildOptions, type LocalImageName } from './local.js';

export interface ImageBuilder {
  name: LocalImageName;
  ref: string;
  description: string;
  build(engine: Engine, opts: BuildOptions): Promise<'built' | 'cached'>;
}

export const IMAGE_BUILDERS: ImageBuilder[] = [
  { name: 'busybox', ref: LocalImages.busybox, description: 'busybox-static FROM scratch', build: buildBusyboxImage },
  { name: 'cli', ref: LocalImages.cli, description: 'busybox + Debian docker CLI', build: buildCliImage },
  { name: 'dind', ref: LocalImages.dind, description: 'Debian bookworm + docker.io (mmdebstrap), dockerd entrypoint', build: buildDindImage },
  { name: 'dindRootless', ref: LocalImages.dindRootless, description: 'the dind rootfs, rootless dockerd as user rootless', build: buildDindRootlessImage },
];

export { LocalImages };
