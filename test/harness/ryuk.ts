/**
 * The Ryuk stand-in image (test/fixtures/ryuk): Testcontainers' reaper protocol in perl, for hosts that cannot pull
 * testcontainers/ryuk. Built straight on the engine (as an admin provides images) from the local images, which
 * must exist first (ensureTestImages).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../../src/engine/client.js';
import { readBody } from '../../src/engine/transport.js';
import { makeTar } from '../../src/util/tar.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/ryuk/', import.meta.url));

/** Builds the stand-in as `tag`; throws with the build output when the build fails. */
export async function buildRyukImage(engine: Engine, tag: string): Promise<void> {
  const ctx = makeTar([
    { name: 'Dockerfile', data: readFileSync(`${FIXTURE}Dockerfile`) },
    { name: 'ryuk.pl', data: readFileSync(`${FIXTURE}ryuk.pl`), mode: 0o755 },
  ]);
  const res = await engine.request({ method: 'POST', path: '/build', query: { t: tag, rm: true, forcerm: true }, headers: { 'content-type': 'application/x-tar' }, body: ctx });
  const out = (await readBody(res)).toString();
  if (res.statusCode !== 200 || /"error"/.test(out)) throw new Error(`building the Ryuk stand-in ${tag} failed (${res.statusCode}):\n${out}`);
}
