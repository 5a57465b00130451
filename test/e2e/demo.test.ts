/**
 * `nestling demo` on the built binary against the real test engine: the job runs docker version, build and run
 * through each mode, and nothing is left behind.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useDockerd, type TestDaemon } from '../harness/dockerd.js';
import { ensureTestImages } from '../harness/images.js';
import { runCli, show } from './cli-helpers.js';

let d: TestDaemon;
before(async () => {
  d = await useDockerd();
  await ensureTestImages(d.engine);
});

interface DemoJson {
  engine: string;
  modes: { mode: string; status: string; exitCode: number; detail: string }[];
}

test('demo runs the job by DooD, guarded DooD and DinD and reports each, leaving nothing behind', { timeout: 300_000 }, async () => {
  const r = await runCli(['demo', '--mode', 'dood', 'guarded', 'dind', '--json'], { env: { DOCKER_HOST: d.url }, timeoutMs: 280_000 });
  assert.equal(r.code, 0, show(r));
  const j = JSON.parse(r.stdout) as DemoJson;
  assert.deepEqual(j.modes.map((m) => [m.mode, m.status]), [['dood', 'ok'], ['guarded', 'ok'], ['dind', 'ok']], show(r));
  for (const m of j.modes) assert.equal(m.detail, 'hello from an image built inside the job');
  const left = await d.engine.json<{ Id: string; Labels: Record<string, string> }[]>({
    method: 'GET',
    path: '/containers/json',
    query: { all: true, filters: JSON.stringify({ name: ['nestling-demo-'] }) },
  });
  assert.deepEqual(left.map((c) => c.Id), []);
  const images = await d.engine.json<{ RepoTags: string[] | null }[]>({ method: 'GET', path: '/images/json' });
  assert.deepEqual(images.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith('nestling-demo-')), []);
});

test('demo reports sysbox as not applicable on an engine without the runtime (exit 0)', { timeout: 120_000 }, async () => {
  const r = await runCli(['demo', '--mode', 'sysbox', '--json'], { env: { DOCKER_HOST: d.url }, timeoutMs: 110_000 });
  assert.equal(r.code, 0, show(r));
  const j = JSON.parse(r.stdout) as DemoJson;
  assert.equal(j.modes[0]?.status, 'not-applicable');
  assert.match(j.modes[0]?.detail ?? '', /sysbox/);
});

test('demo refuses an unknown mode with a usage error (exit 2)', async () => {
  const r = await runCli(['demo', '--mode', 'podman'], { env: { DOCKER_HOST: d.url } });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /unknown mode podman/);
});
