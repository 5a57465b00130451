// The built binary: `nestling guard` prints exactly one "listening" line on stdout, exits 0 on SIGTERM and SIGINT
// after draining, and maps bad input to the documented exit codes; `nestling reap` likewise.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { useDockerd } from '../harness/dockerd.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');

function nestling(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

function ping(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ path: socketPath });
    let out = '';
    c.on('data', (d: Buffer) => (out += d.toString()));
    c.on('end', () => resolve(out));
    c.on('error', reject);
    c.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n');
  });
}

describe('e2e: nestling guard / reap', () => {
  it('keeps serving when nobody reads its output any more (stdout and stderr closed: EPIPE), and still exits 0', async () => {
    const d = await useDockerd();
    const dir = mkdtempSync(join(tmpdir(), 'nst-e2e-guard-'));
    const sock = join(dir, 'g.sock');
    const p = spawn(process.execPath, [CLI, 'guard', '--upstream', d.url, '--listen', `unix://${sock}`, '--owner', 'e2e-epipe'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      p.stdout.once('data', () => resolve());
      p.on('exit', (c) => reject(new Error(`exited ${c}`)));
    });
    // the reader goes away (a log collector dies, `| head -1` exits)
    p.stdout.destroy();
    p.stderr.destroy();
    for (let i = 0; i < 20; i++) assert.match(await ping(sock), /^HTTP\/1\.1 200 OK\r\n/, `request ${i} after the pipes closed`);
    assert.equal(p.exitCode, null, 'the guard is still running');
    p.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => (p.exitCode !== null ? res(p.exitCode) : p.on('exit', (c) => res(c))));
    assert.equal(code, 0);
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`prints one listening line, serves, and exits 0 on ${sig}`, async () => {
      const d = await useDockerd();
      const dir = mkdtempSync(join(tmpdir(), 'nst-e2e-guard-'));
      const sock = join(dir, 'sub', 'g.sock');
      const p = spawn(process.execPath, [CLI, 'guard', '--upstream', d.url, '--listen', `unix://${sock}`, '--owner', 'e2e-job'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stderr.on('data', (x: Buffer) => (stderr += x.toString()));
      await new Promise<void>((resolve, reject) => {
        p.stdout.on('data', (x: Buffer) => {
          stdout += x.toString();
          if (stdout.includes('\n')) resolve();
        });
        p.on('exit', () => reject(new Error(stderr)));
      });
      assert.match(stdout, /^nestling guard: listening on unix:\/\/\S+g\.sock /);
      assert.equal((statSync(sock).mode & 0o777).toString(8), '660');
      const r = await ping(sock);
      assert.match(r, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nOK$/);
      p.kill(sig);
      const code = await new Promise<number | null>((res) => p.on('exit', (c) => res(c)));
      assert.equal(code, 0, stderr);
      assert.equal(stdout.split('\n').filter((l) => l.includes('listening')).length, 1);
      assert.equal(stdout.trim().split('\n').length, 1, 'nothing else on stdout');
      assert.match(stderr, /req#1 GET \/_ping route=system-ping owner=e2e-job decision=forward rule=- status=200 ms=\d+/);
      assert.throws(() => statSync(sock), 'the socket is removed on exit');
    });
  }

  it('listens on loopback tcp with port 0 and reports the port', async () => {
    const d = await useDockerd();
    const p = spawn(process.execPath, [CLI, 'guard', '--upstream', d.url, '--listen', 'tcp://127.0.0.1:0', '--owner', 'e2e-tcp', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const line = await new Promise<string>((resolve) => p.stdout.on('data', (x: Buffer) => resolve(x.toString())));
    assert.match(line, /listening on tcp:\/\/127\.0\.0\.1:\d+ /);
    p.kill('SIGTERM');
    assert.equal(await new Promise((res) => p.on('exit', res)), 0);
  });

  const usage: [string, string[], RegExp][] = [
    ['unknown flag', ['guard', '--bogus'], /unknown option/],
    ['missing --owner', ['guard', '--listen', 'unix:///tmp/x.sock', '--upstream', 'unix:///tmp/none.sock'], /missing --owner/],
    ['missing --listen', ['guard', '--owner', 'x', '--upstream', 'unix:///tmp/none.sock'], /missing --listen/],
    ['bad --listen', ['guard', '--owner', 'x', '--listen', 'http://x', '--upstream', 'unix:///tmp/none.sock'], /invalid --listen/],
    ['non-loopback --listen', ['guard', '--owner', 'x', '--listen', 'tcp://0.0.0.0:2375', '--upstream', 'unix:///tmp/none.sock'], /not a loopback address/],
    ['bad --log-format', ['guard', '--owner', 'x', '--listen', 'unix:///tmp/x.sock', '--log-format', 'xml'], /--log-format xml/],
    ['bad --map', ['guard', '--owner', 'x', '--listen', 'unix:///tmp/x.sock', '--upstream', 'unix:///tmp/none.sock', '--map', 'relative=/x'], /invalid --map/],
    ['owner with spaces', ['guard', '--owner', 'a b', '--listen', 'unix:///tmp/x.sock', '--upstream', 'unix:///tmp/none.sock'], /invalid owner/],
    ['reap without --owner', ['reap'], /--owner/],
  ];
  for (const [name, args, msg] of usage) {
    it(`exit 2 with a hint: ${name}`, async () => {
      const r = await nestling(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, msg);
      assert.match(r.stderr, /hint:|--help/);
    });
  }

  it('--print-policy prints the effective policy and exits 0', async () => {
    const r = await nestling(['guard', '--print-policy', '--allow-bind', '/srv/ci']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\/srv\/ci/);
  });

  it('reap against an unreachable engine exits 4', async () => {
    const r = await nestling(['reap', '--owner', 'x'], { env: { DOCKER_HOST: 'unix:///tmp/nestling-no-such-engine.sock' } });
    assert.equal(r.code, 4, r.stderr);
  });
});
