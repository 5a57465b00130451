/**
 * A guard in front of a TLS dockerd (a private dockerd with --tlsverify on loopback tcp, certificates from nestling's
 * own src/tls, as in test/integration/tls/dockerd-tls.test.ts): the built CLI with `--upstream tcp://…` and
 * `--upstream-tlscacert/--upstream-tlscert/--upstream-tlskey` (and, like the docker CLI, DOCKER_TLS_VERIFY +
 * DOCKER_CERT_PATH) serves `docker ps` and `docker run` through it; an upstream whose certificate is not from the
 * given CA, or a client certificate the daemon does not trust, gets the job a 502, never an unverified connection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PrivateDaemon } from '../../../src/engine/local-daemon.js';
import { freePort, startTlsDockerd } from '../../harness/tls-dockerd.js';
import { generateDindCerts } from '../../../src/tls/generate.js';
import { writeDindLayout, type DindLayout } from '../../../src/tls/layout.js';
import { useDockerd, uniquePrefix } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { MAIN, runCli, show } from '../../e2e/cli-helpers.js';
import { DOCKER_28, run } from './helpers.js';

const IMG = 'nestling/busybox:local';


interface CliGuard {
  p: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

function startGuardCli(args: string[], env: Record<string, string> = {}): Promise<CliGuard> {
  const p = spawn(process.execPath, [MAIN, 'guard', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent-home', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stderr.on('data', (x: Buffer) => (stderr += x.toString()));
  const exited = new Promise<number | null>((res) => p.on('exit', (c) => res(c)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`no listening line in 30 s\n${stderr}`));
    }, 30_000);
    p.stdout.on('data', (x: Buffer) => {
      stdout += x.toString();
      const m = /listening on (\S+) /.exec(stdout);
      if (m) {
        clearTimeout(t);
        resolve({ p, url: m[1]!, stderr: () => stderr, stop: () => (p.kill('SIGTERM'), exited) });
      }
    });
    void exited.then((c) => {
      clearTimeout(t);
      reject(new Error(`guard exited ${c} before listening\n${stderr}`));
    });
  });
}

describe('guard: a TLS upstream (--upstream-tls*)', () => {
  const root = mkdtempSync(join(tmpdir(), 'nst-gtu-'));
  const prefix = uniquePrefix('gtu');
  let daemon: PrivateDaemon | undefined;
  let port: number;
  let good: DindLayout;
  let other: DindLayout;
  const guards: CliGuard[] = [];

  before(async () => {
    port = await freePort();
    good = writeDindLayout(join(root, 'good'), await generateDindCerts({ sans: ['localhost', '127.0.0.1'] }));
    other = writeDindLayout(join(root, 'other'), await generateDindCerts({ sans: ['localhost', '127.0.0.1'] }));
    daemon = await startTlsDockerd(join(root, 'd'), good.serverDir, port);
    // the test image, copied from the harness daemon (no registry here)
    const shared = await useDockerd();
    await ensureTestImages(shared.engine);
    const copy = await run('sh', ['-c', `${DOCKER_28} -H ${shared.url} save ${IMG} | ${DOCKER_28} -H unix://${daemon.socketPath} load`], { timeoutMs: 120_000 });
    assert.equal(copy.code, 0, copy.stderr);
  });
  after(async () => {
    for (const g of guards) if (g.p.exitCode === null) await g.stop();
    await daemon?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const guard = async (name: string, extra: string[], env: Record<string, string> = {}) => {
    const g = await startGuardCli(['--upstream', `tcp://127.0.0.1:${port}`, '--listen', `unix://${join(root, `${name}.sock`)}`, '--owner', `${prefix}-${name}`, ...extra], env);
    guards.push(g);
    return g;
  };
  const docker = (url: string, args: string[]) => run(DOCKER_28, args, { env: { DOCKER_HOST: url, HOME: root, DOCKER_CONFIG: join(root, 'cfg') }, timeoutMs: 90_000 });
  const flags = (ca: string, client: string | undefined) => [
    '--upstream-tlscacert', join(ca, 'ca.pem'),
    ...(client ? ['--upstream-tlscert', join(client, 'cert.pem'), '--upstream-tlskey', join(client, 'key.pem')] : []),
  ];

  it('serves docker ps and docker run through --upstream-tlscacert/--upstream-tlscert/--upstream-tlskey', async () => {
    const g = await guard('flags', flags(good.clientDir, good.clientDir));
    assert.match(g.url, /^unix:\/\//);
    const r = await docker(g.url, ['run', '--rm', '--name', `${prefix}-run`, IMG, 'echo', 'through-tls-upstream']);
    assert.equal(r.code, 0, `${r.stderr}\n${g.stderr()}`);
    assert.equal(r.stdout, 'through-tls-upstream\n');
    const c = await docker(g.url, ['create', '--name', `${prefix}-listed`, IMG, 'true']);
    assert.equal(c.code, 0, c.stderr);
    const ps = await docker(g.url, ['ps', '-a', '--format', '{{.Names}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.equal(ps.stdout.trim(), `${prefix}-listed`);
    // the container lives on the TLS daemon, with the owner label
    const ins = await daemon!.engine.json<{ Config: { Labels: Record<string, string> } }>({ method: 'GET', path: `/containers/${prefix}-listed/json` });
    assert.equal(ins.Config.Labels['io.nestling.owner'], `${prefix}-flags`);
    assert.equal((await docker(g.url, ['rm', `${prefix}-listed`])).code, 0);
    assert.equal(await g.stop(), 0, g.stderr());
  });

  it('reads DOCKER_TLS_VERIFY + DOCKER_CERT_PATH for a tcp --upstream, as the docker CLI does for -H', async () => {
    const g = await guard('env', [], { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: good.clientDir });
    const v = await docker(g.url, ['version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(v.code, 0, `${v.stderr}\n${g.stderr()}`);
    assert.match(v.stdout.trim(), /^1\.\d+$/);
    assert.equal(await g.stop(), 0);
  });

  it('an upstream certificate from another CA, or a client certificate the daemon does not trust: 502, nothing forwarded', async () => {
    const wrongCa = await guard('wrongca', flags(other.clientDir, good.clientDir));
    const a = await docker(wrongCa.url, ['ps']);
    assert.notEqual(a.code, 0);
    assert.match(wrongCa.stderr(), /status=502/);
    // node's verification error code (the server's 502 message names it)
    assert.match(wrongCa.stderr(), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|certificate/i);
    const wrongClient = await guard('wrongclient', flags(good.clientDir, other.clientDir));
    const b = await docker(wrongClient.url, ['ps']);
    assert.notEqual(b.code, 0);
    assert.match(wrongClient.stderr(), /status=502/);
    const noClient = await guard('noclient', flags(good.clientDir, undefined));
    const c = await docker(noClient.url, ['ps']);
    assert.notEqual(c.code, 0);
    assert.match(noClient.stderr(), /status=502/);
  });

  it('bad --upstream-tls* combinations exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--upstream', `tcp://127.0.0.1:${port}`, '--upstream-tlscert', join(good.clientDir, 'cert.pem'), '--upstream-tlskey', join(good.clientDir, 'key.pem')], /needs --upstream-tlscacert/],
      [['--upstream', `tcp://127.0.0.1:${port}`, '--upstream-tlscacert', join(good.clientDir, 'ca.pem'), '--upstream-tlscert', join(good.clientDir, 'cert.pem')], /go together/],
      [['--upstream', `unix://${join(root, 'x.sock')}`, '--upstream-tlsverify'], /need a tcp:\/\/ upstream/],
      [['--upstream', `tcp://127.0.0.1:${port}`, '--upstream-tlscacert', join(root, 'missing.pem')], /cannot read/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(['guard', '--listen', `unix://${join(root, 'never.sock')}`, '--owner', 'x', ...args]);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, re);
    }
  });
});
