/** The engine and the cleanup of one test suite: the same opening and closing for every integration suite. */
import { rmSync } from 'node:fs';
import { useDockerd, type TestDaemon } from './dockerd.js';
import { ensureTestImages } from './images.js';
import { Cleanup } from './cleanup.js';

/** The harness daemon with the local test images, and a Cleanup bound to it (call in before()). */
export async function openEngine(): Promise<{ d: TestDaemon; cleanup: Cleanup }> {
  const d = await useDockerd();
  await ensureTestImages(d.engine);
  return { d, cleanup: new Cleanup(d.engine) };
}

/** Removes what the suite registered or named with its prefix, then its temp dirs (call in after()). */
export async function closeEngine(cleanup: Cleanup, prefix: string, dirs: string[] = []): Promise<void> {
  await cleanup.sweepPrefix(prefix);
  await cleanup.run();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
