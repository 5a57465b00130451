// Real docker CLIs through the guard, against the real dockerd: CLI 28 (/usr/local/bin/docker) and Debian's 20.10
// (/usr/bin/docker). Streams: run -i with stdin EOF (half-close), exec -i, attach, logs -f across idle periods
// longer than every guard timeout, events, stats, a legacy build with a 32 MiB context, BuildKit (/session h2c),
// save, network and volume commands.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { DOCKER_20, DOCKER_28, run, startTestGuard, type TestGuard } from './helpers.js';

const IMG = 'nestling/busybox:local';

for (const [cliName, cli] of [
  ['docker CLI 28', DOCKER_28],
  ['docker CLI 20.10', DOCKER_20],
] as const) {
  describe(`guard: ${cliName} through the guard`, { skip: existsSync(cli) ? false : `${cli} is not installed` }, () => {
    let d: TestDaemon;
    let g: TestGuard;
    let cleanup: Cleanup;
    const prefix = uniquePrefix('gcli');
    const owner = `${prefix}-owner`;
    let env: Record<string, string>;
    const docker = (args: string[], o: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {}) =>
      run(cli, args, { ...o, env: { ...env, ...o.env } });

    before(async () => {
      d = await useDockerd();
      await ensureTestImages(d.engine);
      cleanup = new Cleanup(d.engine);
      // short timeouts: a stream that outlives them proves there is no idle timeout on responses
      g = await startTestGuard(d, owner, { limits: { headTimeoutMs: 1000, keepAliveTimeoutMs: 1000 } });
      env = { DOCKER_HOST: g.url, DOCKER_CONFIG: join(g.dir, 'docker-config'), DOCKER_BUILDKIT: '0' };
    });
    after(async () => {
      await g.close();
      await cleanup.sweepPrefix(prefix);
      await cleanup.run();
    });

    it('docker run -i: stdin reaches the container, EOF (half-close) ends it, output comes back', async () => {
      const input = `${randomBytes(64 * 1024).toString('hex')}\n`;
      const r = await docker(['run', '-i', '--rm', '--name', `${prefix}-runi`, IMG, 'cat'], { input });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, input);
    });

    it('docker run exit codes come back through attach/wait', async () => {
      const r = await docker(['run', '--rm', IMG, 'sh', '-c', 'echo out; echo err >&2; exit 7']);
      assert.equal(r.code, 7);
      assert.equal(r.stdout, 'out\n');
      assert.match(r.stderr, /err/);
    });

    it('docker exec -i with stdin, and a plain exec', async () => {
      const name = `${prefix}-exec`;
      const c = await docker(['run', '-d', '--name', name, IMG, 'sleep', '300']);
      assert.equal(c.code, 0, c.stderr);
      cleanup.add('container', name);
      const r = await docker(['exec', '-i', name, 'sh', '-c', 'cat; echo done'], { input: 'stdin-data\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'stdin-data\ndone\n');
      const r2 = await docker(['exec', name, 'sh', '-c', 'exit 3']);
      assert.equal(r2.code, 3);
    });

    it('docker attach relays stdin and output', async () => {
      const name = `${prefix}-attach`;
      const c = await docker(['run', '-d', '-i', '--name', name, IMG, 'sh', '-c', 'read x; echo got-$x']);
      assert.equal(c.code, 0, c.stderr);
      cleanup.add('container', name);
      // stdin stays open until the output came: CLI 20.10 drops the output when stdin hits EOF first (also direct)
      const r = await run('sh', ['-c', `(echo hello; sleep 2) | ${cli} attach ${name}`], { env, timeoutMs: 20_000 });
      assert.match(r.stdout, /got-hello/);
    });

    it('docker logs -f follows across pauses longer than every guard timeout', async () => {
      const name = `${prefix}-logs`;
      const c = await docker(['run', '-d', '--name', name, IMG, 'sh', '-c', 'echo first; sleep 2.5; echo second; sleep 1.5; echo third']);
      assert.equal(c.code, 0, c.stderr);
      cleanup.add('container', name);
      const r = await docker(['logs', '-f', name], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'first\nsecond\nthird\n');
    });

    it('docker events streams (and ends at --until) and stats answers', async () => {
      const name = `${prefix}-ev`;
      const since = Math.floor(Date.now() / 1000) - 1;
      const c = await docker(['run', '--name', name, IMG, 'true']);
      assert.equal(c.code, 0, c.stderr);
      cleanup.add('container', name);
      const r = await docker(['events', '--since', String(since), '--until', String(since + 30), '--filter', `container=${name}`, '--format', '{{.Action}}'], {
        timeoutMs: 4000,
      });
      assert.match(r.stdout, /\bstart\b/);
      const s = await docker(['run', '-d', '--name', `${name}-s`, IMG, 'sleep', '60']);
      cleanup.add('container', `${name}-s`);
      assert.equal(s.code, 0);
      const st = await docker(['stats', '--no-stream', '--format', '{{.Name}}', `${name}-s`]);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, new RegExp(`${name}-s`));
    });

    it('legacy build with a 32 MiB context (upload stream), then run the image', async () => {
      const ctxDir = join(g.dir, `ctx-${cliName.replace(/\W/g, '')}`);
      mkdirSync(ctxDir, { recursive: true });
      writeFileSync(join(ctxDir, 'blob'), randomBytes(32 * 1024 * 1024));
      writeFileSync(join(ctxDir, 'Dockerfile'), `FROM ${IMG}\nCOPY blob /blob\nRUN wc -c /blob > /size\n`);
      const tag = `${prefix}-img:1`;
      const b = await docker(['build', '-q', '-t', tag, ctxDir], { timeoutMs: 120_000 });
      assert.equal(b.code, 0, b.stderr);
      cleanup.add('image', tag);
      const r = await docker(['run', '--rm', tag, 'cat', '/size']);
      assert.equal(r.stdout.trim(), '33554432 /blob');
    });

    it('docker save streams an image', async () => {
      const r = await run('sh', ['-c', `${cli} save ${IMG} | wc -c`], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(Number(r.stdout.trim()) > 100_000, r.stdout);
    });

    it('network and volume commands', async () => {
      const net = `${prefix}-net`;
      const vol = `${prefix}-vol`;
      assert.equal((await docker(['network', 'create', net])).code, 0);
      cleanup.add('network', net);
      assert.equal((await docker(['volume', 'create', vol])).code, 0);
      cleanup.add('volume', vol);
      const r = await docker(['run', '--rm', '--network', net, '-v', `${vol}:/data`, IMG, 'sh', '-c', 'echo x > /data/f && cat /data/f']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'x\n');
      assert.match((await docker(['network', 'ls', '--format', '{{.Name}}'])).stdout, new RegExp(net));
      assert.match((await docker(['volume', 'ls', '--format', '{{.Name}}'])).stdout, new RegExp(vol));
      assert.equal((await docker(['network', 'rm', net])).code, 0);
      assert.equal((await docker(['volume', 'rm', vol])).code, 0);
    });

    if (cli === DOCKER_20) {
      it('BuildKit build (DOCKER_BUILDKIT=1: /session h2c tunnel + /build)', async () => {
        const ctxDir = join(g.dir, 'ctx-bk');
        mkdirSync(ctxDir, { recursive: true });
        writeFileSync(join(ctxDir, 'Dockerfile'), `FROM ${IMG}\nRUN echo bk > /bk\n`);
        const tag = `${prefix}-bk:1`;
        const b = await docker(['build', '-t', tag, ctxDir], { env: { DOCKER_BUILDKIT: '1' }, timeoutMs: 120_000 });
        assert.equal(b.code, 0, b.stderr);
        cleanup.add('image', tag);
        assert.ok(g.records.some((r) => r.path === '/session' && r.status === 101), 'the /session tunnel was used');
        const r = await docker(['run', '--rm', tag, 'cat', '/bk']);
        assert.equal(r.stdout, 'bk\n');
      });
    }
  });
}
