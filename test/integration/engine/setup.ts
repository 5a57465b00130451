/** Shared setup for the engine integration tests: the harness daemon, the busybox image, a prefix and a Cleanup. */
import type { Engine } from '../../../src/engine/client.js';
import { buildBusyboxImage, LocalImages } from '../../../src/images/local.js';
import { Cleanup } from '../../harness/cleanup.js';
import { uniquePrefix, useDockerd } from '../../harness/dockerd.js';

export const BUSYBOX = LocalImages.busybox;

export interface EngineFixture {
  engine: Engine;
  prefix: string;
  cleanup: Cleanup;
  socketPath: string;
}

export async function engineFixture(area: string): Promise<EngineFixture> {
  const d = await useDockerd();
  await buildBusyboxImage(d.engine);
  return { engine: d.engine, prefix: uniquePrefix(area), cleanup: new Cleanup(d.engine), socketPath: d.socketPath };
}
