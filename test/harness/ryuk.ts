/**
 * The Ryuk stand-in image (test/fixtures/ryuk): Testcontainers' reaper protocol in perl, for hosts that cannot pull
 * testcontainers/ryuk. Built straight on the engine (as an admin provides images) from the local images, which
 * must exist first (ensureTestImages).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
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

/**
 * A job image with Node (this process's own binary and the shared libraries ldd names for it, at the same paths) on
 * the local CLI image (busybox, docker CLI, /etc/passwd): for running Testcontainers inside a `nestling run` job.
 */
export async function buildNodeJobImage(engine: Engine, tag: string, nodeBinary = process.execPath): Promise<void> {
  const entries: { name: string; data: Buffer; mode: number }[] = [
    { name: 'Dockerfile', data: Buffer.from('FROM nestling/cli:local\nCOPY rootfs/ /\n'), mode: 0o644 },
    { name: 'rootfs/usr/bin/node', data: readFileSync(nodeBinary), mode: 0o755 },
  ];
  const ldd = execFileSync('ldd', [nodeBinary], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/^\s*(?:\S+ => )?(\/\S+) \(0x[0-9a-f]+\)$/gm)) {
    entries.push({ name: `rootfs${m[1]!}`, data: readFileSync(realpathSync(m[1]!)), mode: 0o755 });
  }
  const res = await engine.request({ method: 'POST', path: '/build', query: { t: tag, rm: true, forcerm: true }, headers: { 'content-type': 'application/x-tar' }, body: makeTar(entries) });
  const out = (await readBody(res)).toString();
  if (res.statusCode !== 200 || /"error"/.test(out)) throw new Error(`building the Node job image ${tag} failed (${res.statusCode}):\n${out}`);
}
