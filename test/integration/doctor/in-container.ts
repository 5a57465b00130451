/**
 * Runs the built `nestling` CLI inside a real container on the test engine: the host's node binary and the
 * libraries it links are bind-mounted read-only (the local images have no node), and so is the repository
 * (dist/ + node_modules). What the CLI prints is what it saw from inside that container.
 */
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../../../src/engine/client.js';
import { demuxStream } from '../../../src/engine/stream/demux.js';
import type { Cleanup } from '../../harness/cleanup.js';

export const REPO = realpathSync(fileURLToPath(new URL('../../../../', import.meta.url)));

/** Binds that make /usr/bin/node runnable in an image FROM scratch. */
export function nodeBinds(): string[] {
  const node = realpathSync(process.execPath);
  const binds = [`${node}:/usr/bin/node:ro`];
  const out = execFileSync('ldd', [node], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) binds.push(`${realpathSync(m[1])}:${m[1]}:ro`);
  }
  binds.push(`${REPO}:/nestling:ro`);
  return binds;
}

export interface InContainerResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCliInContainer(
  engine: Engine,
  cleanup: Cleanup,
  name: string,
  args: string[],
  opts: { image: string; hostConfig?: Record<string, unknown>; user?: string; env?: string[]; binds?: string[] },
): Promise<InContainerResult> {
  const { Id } = await engine.json<{ Id: string }>({
    method: 'POST',
    path: '/containers/create',
    query: { name },
    body: {
      Image: opts.image,
      Entrypoint: ['/usr/bin/node', '/nestling/dist/src/cli/main.js'],
      Cmd: args,
      User: opts.user,
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/tmp', ...(opts.env ?? [])],
      HostConfig: { ...opts.hostConfig, Binds: [...nodeBinds(), ...(opts.binds ?? [])] },
    },
  });
  cleanup.add('container', Id);
  await engine.call({ method: 'POST', path: `/containers/${Id}/start` });
  const w = await engine.json<{ StatusCode: number }>({ method: 'POST', path: `/containers/${Id}/wait`, timeoutMs: 120_000 });
  const res = await engine.request({ method: 'GET', path: `/containers/${Id}/logs`, query: { stdout: true, stderr: true } });
  let stdout = '';
  let stderr = '';
  const o = new PassThrough();
  const e = new PassThrough();
  o.on('data', (c: Buffer) => (stdout += c.toString()));
  e.on('data', (c: Buffer) => (stderr += c.toString()));
  await demuxStream(res, o, e);
  return { exitCode: w.StatusCode, stdout, stderr };
}
