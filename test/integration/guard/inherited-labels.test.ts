// A container inherits its image's labels. An image a job builds (its Dockerfile's LABEL lines are inside the
// streamed context, out of the guard's sight) can carry nestling's own labels, and a container from it would look
// like part of another nestling run to the run reaper (listRuns) and the cache lock. Two-sided: directly, the
// container carries them and the run listing believes it; through the guard they are emptied.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { reapOwner } from '../../../src/guard/reaper.js';
import { listRuns } from '../../../src/modes/reaper.js';
import { run, DOCKER_28, startTestGuard, type TestGuard } from './helpers.js';

describe('guard: nestling labels inherited from an image are emptied on the job\'s containers', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('ginh');
  const owner = `${prefix}-owner`;
  const image = `${prefix}-img:1`;
  const victimRun = `${prefix}-victim-run`;
  let dir: string;

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    g = await startTestGuard(d, owner);
    dir = mkdtempSync(join(tmpdir(), 'nst-inh-'));
    writeFileSync(
      join(dir, 'Dockerfile'),
      `FROM nestling/busybox:local\nLABEL io.nestling.managed=true io.nestling.run=${victimRun} io.nestling.role=job io.nestling.pid=999999999@nowhere\n`,
    );
    const b = await run(DOCKER_28, ['build', '-q', '-t', image, dir], { env: { DOCKER_HOST: g.url, DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
    assert.equal(b.code, 0, b.stderr);
    cleanup.add('image', image);
  });
  after(async () => {
    await g?.close();
    await reapOwner(d.engine, owner, { images: true }).catch(() => undefined);
    await cleanup.run();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('directly the container carries them and looks like a dead run; through the guard they are empty', async () => {
    const direct = `${prefix}-direct`;
    const r1 = await run(DOCKER_28, ['create', '--name', direct, image, 'true'], { env: { DOCKER_HOST: d.url } });
    assert.equal(r1.code, 0, r1.stderr);
    cleanup.add('container', direct);
    const labelsOf = async (name: string) => (await d.engine.json<{ Config: { Labels: Record<string, string> } }>({ method: 'GET', path: `/containers/${name}/json` })).Config.Labels;
    assert.equal((await labelsOf(direct))['io.nestling.run'], victimRun);
    assert.ok((await listRuns(d.engine, 'here')).some((x) => x.runId === victimRun), 'the run listing believes the image');
    // remove the direct one, then through the guard
    await run(DOCKER_28, ['rm', '-f', direct], { env: { DOCKER_HOST: d.url } });
    const guarded = `${prefix}-guarded`;
    const r2 = await run(DOCKER_28, ['create', '--name', guarded, image, 'true'], { env: { DOCKER_HOST: g.url } });
    assert.equal(r2.code, 0, r2.stderr);
    cleanup.add('container', guarded);
    const l = await labelsOf(guarded);
    assert.equal(l['io.nestling.owner'], owner);
    for (const k of ['io.nestling.managed', 'io.nestling.run', 'io.nestling.role', 'io.nestling.pid']) assert.equal(l[k], '', k);
    assert.equal((await listRuns(d.engine, 'here')).some((x) => x.runId === victimRun), false, 'no run is made up from the job\'s container');
  });
});
