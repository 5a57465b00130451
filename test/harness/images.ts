/** Test images, built locally (never pulled) into the harness daemon; cached by content key. */
import type { Engine } from '../../src/engine/client.js';
import { IMAGE_BUILDERS } from '../../src/images/index.js';
import { LocalImages } from '../../src/images/local.js';
import type { ProgressFn } from '../../src/util/log.js';

export const TestImages = LocalImages;

let ready: Promise<void> | undefined;
/** Ensures every nestling/*:local image exists in the test daemon. Cheap when they do (content keys). */
export function ensureTestImages(engine: Engine, progress?: ProgressFn): Promise<void> {
  ready ??= (async () => {
    for (const b of IMAGE_BUILDERS) await b.build(engine, { progress });
  })();
  return ready;
}
