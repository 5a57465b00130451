/**
 * `nestling demo`: proves the whole chain on this machine. It makes sure an engine is reachable (starting a private
 * dockerd when none is and it may), builds the local images if missing, then runs a containerized job that itself
 * runs `docker version`, `docker build` and `docker run` through the engine, and reports each step.
 */
import { PassThrough } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine/client.js';
import { demuxStream } from '../engine/stream/demux.js';
import { buildBusyboxImage, buildCliImage, LocalImages } from '../images/local.js';
import { Labels } from '../util/labels.js';
import type { ProgressFn } from '../util/log.js';

export interface DemoStep {
  step: string;
  ok: boolean;
  ms: number;
  detail?: string;
}

export interface DemoResult {
  engine: string;
  mode: string;
  exitCode: number;
  steps: DemoStep[];
  output: string;
}

export const DEMO_SCRIPT = (tag: string) => `set -e
echo '$ docker version'
docker version --format 'client {{.Client.Version}}, server {{.Server.Version}} (API {{.Server.APIVersion}})'
mkdir -p /tmp/ctx && cd /tmp/ctx
printf 'FROM ${LocalImages.busybox}\\nRUN echo "hello from an image built inside the job" > /msg\\nCMD ["cat", "/msg"]\\n' > Dockerfile
echo '$ docker build -t ${tag} .'
docker build -q -t ${tag} . >/dev/null && echo "built ${tag}"
echo '$ docker run --rm ${tag}'
docker run --rm ${tag}
docker rmi -f ${tag} >/dev/null
`;

/** Runs the demo job by DooD on `engine`, whose socket path inside the job is /var/run/docker.sock. */
export async function runDooDDemo(
  engine: Engine,
  hostSocketPath: string,
  opts: { progress: ProgressFn; onOutput: (chunk: Buffer, stream: 'stdout' | 'stderr') => void; signal?: AbortSignal | undefined },
): Promise<Omit<DemoResult, 'engine'>> {
  const steps: DemoStep[] = [];
  const step = async <T>(name: string, fn: () => Promise<T>, detail?: (t: T) => string): Promise<T> => {
    const t0 = Date.now();
    opts.progress({ task: 'demo', message: name });
    try {
      const r = await fn();
      steps.push({ step: name, ok: true, ms: Date.now() - t0, ...(detail ? { detail: detail(r) } : {}) });
      return r;
    } catch (e) {
      steps.push({ step: name, ok: false, ms: Date.now() - t0, detail: (e as Error).message });
      throw e;
    }
  };
  await step('build local images', async () => [await buildBusyboxImage(engine, { signal: opts.signal }), await buildCliImage(engine, { signal: opts.signal })], (r) => r.join(', '));
  const runId = randomBytes(4).toString('hex');
  const tag = `nestling-demo-${runId}:latest`;
  const { Id: id } = await step('create job container', () =>
    engine.json<{ Id: string }>({
      method: 'POST',
      path: '/containers/create',
      query: { name: `nestling-demo-${runId}` },
      body: {
        Image: LocalImages.cli,
        Cmd: ['sh', '-c', DEMO_SCRIPT(tag)],
        Env: ['DOCKER_HOST=unix:///var/run/docker.sock'],
        Labels: { [Labels.managed]: 'true', [Labels.run]: runId, [Labels.role]: 'job' },
        HostConfig: { Binds: [`${hostSocketPath}:/var/run/docker.sock`] },
      },
      signal: opts.signal,
    }),
  );
  let output = '';
  let exitCode = -1;
  try {
    await step('start job (DooD: host socket mounted)', () => engine.call({ method: 'POST', path: `/containers/${id}/start`, signal: opts.signal }));
    const res = await engine.request({
      method: 'GET',
      path: `/containers/${id}/logs`,
      query: { follow: true, stdout: true, stderr: true },
      signal: opts.signal,
    });
    const out = new PassThrough();
    const err = new PassThrough();
    out.on('data', (c: Buffer) => {
      output += c.toString();
      opts.onOutput(c, 'stdout');
    });
    err.on('data', (c: Buffer) => {
      output += c.toString();
      opts.onOutput(c, 'stderr');
    });
    await demuxStream(res, out, err);
    const w = await step('wait for the job', () =>
      engine.json<{ StatusCode: number }>({ method: 'POST', path: `/containers/${id}/wait`, signal: opts.signal }),
    );
    exitCode = w.StatusCode;
  } finally {
    await step('remove job container', () => engine.call({ method: 'DELETE', path: `/containers/${id}`, query: { force: true, v: true } }));
    await engine.call({ method: 'DELETE', path: `/images/${encodeURIComponent(tag)}`, query: { force: true } }).catch(() => {});
  }
  return { mode: 'dood', exitCode, steps, output };
}
