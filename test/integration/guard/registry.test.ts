// Image push and pull through the guard against a real local registry (Debian's docker-registry, on loopback):
// an image the job built is pushed, removed, pulled back and run; a retag of an image the job did not make is
// refused for push (no publishing other jobs' or the host's images under a job's name).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { DOCKER_20, run, startTestGuard, type TestGuard } from './helpers.js';

const REGISTRY = '/usr/bin/docker-registry';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForRegistry(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the registry at ${url} did not answer within ${ms} ms`);
}

describe('guard: push and pull against a local registry', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let reg: ChildProcess;
  let dir: string;
  let host: string;
  const prefix = uniquePrefix('greg');
  const refs: string[] = [];
  const docker = (args: string[]) => run(DOCKER_20, args, { env: { DOCKER_HOST: g.url }, timeoutMs: 120_000 });

  before(async () => {
    assert.ok(existsSync(REGISTRY), `${REGISTRY} is missing: apt-get install docker-registry (scripts/setup.sh installs it)`);
    d = await useDockerd();
    await ensureTestImages(d.engine);
    dir = mkdtempSync(join(tmpdir(), 'nst-reg-'));
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    writeFileSync(join(dir, 'config.yml'), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: ${host}\n`);
    reg = spawn(REGISTRY, ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    await waitForRegistry(`http://${host}/v2/`, 20_000);
    g = await startTestGuard(d, `${prefix}-owner`);
  });
  after(async () => {
    await g?.close();
    for (const r of refs) await d.engine.call({ method: 'DELETE', path: `/images/${encodeURIComponent(r)}`, query: { force: true } }).catch(() => undefined);
    reg?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an image the job built is pushed, removed, pulled back and run, all through the guard', async () => {
    const ref = `${host}/${prefix}/app:1`;
    refs.push(ref);
    const ctx = mkdtempSync(join(tmpdir(), 'nst-regctx-'));
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM nestling/busybox:local\nRUN echo pushed-and-pulled > /r\nCMD ["cat", "/r"]\n');
    try {
      const b = await docker(['build', '-q', '-t', ref, ctx]);
      assert.equal(b.code, 0, b.stderr);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
    const p = await docker(['push', ref]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /digest: sha256:/);
    const tags = (await (await fetch(`http://${host}/v2/${prefix}/app/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['1'], 'the registry holds the pushed tag');
    const rm = await docker(['rmi', ref]);
    assert.equal(rm.code, 0, rm.stderr);
    const pull = await docker(['pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    const r = await docker(['run', '--rm', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'pushed-and-pulled');
  });

  it('pushing a retag of an image the job did not make is refused; the daemon would have pushed it', async () => {
    const ref = `${host}/${prefix}/bb:1`;
    refs.push(ref);
    const t = await docker(['tag', 'nestling/busybox:local', ref]);
    assert.equal(t.code, 0, t.stderr);
    const p = await docker(['push', ref]);
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /denied by rule image-not-owned/);
    // two-sided: the same push straight to the daemon succeeds
    const direct = await run(DOCKER_20, ['push', ref], { env: { DOCKER_HOST: d.url }, timeoutMs: 120_000 });
    assert.equal(direct.code, 0, direct.stderr);
  });
});
