/**
 * Every exit code of docs/exit-codes.md, end to end on the built binary (node dist/src/cli/main.js), plus the
 * "Bad input" cases of issue 2: each a clear message + hint with its documented code, never a stack trace.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_CODE_TABLE } from '../../src/cli/exit-codes.js';
import { runCli, show, type CliResult } from './cli-helpers.js';
import { useDockerd, uniquePrefix } from '../harness/dockerd.js';
import { Cleanup } from '../harness/cleanup.js';
import { buildBusyboxImage, LocalImages } from '../../src/images/local.js';
import { createContainer } from '../../src/engine/endpoints/containers.js';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nst-e2e-exit-'));
  chmodSync(tmp, 0o755);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const tested = new Set<number>();

/** A rendered NestlingError: one `nestling:` line, one `hint:` line, no stack, and the code. */
function assertRendered(r: CliResult, exit: number, message: RegExp) {
  assert.equal(r.code, exit, show(r));
  tested.add(exit);
  assert.match(r.stderr, message, show(r));
  assert.match(r.stderr, /^hint: \S/m, `has a hint\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /^\s+at .*\(.*:\d+:\d+\)$/m, `no stack trace\n${show(r)}`);
  assert.equal(r.stderr.match(/^nestling: /gm)?.length, 1, `the error is printed once\n${show(r)}`);
}

describe('exit 0', () => {
  test('--version and -V print the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
    }
    tested.add(0);
  });
  test('--help, and help of a subcommand', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^Usage: nestling /);
    const s = await runCli(['images', 'build', '--help']);
    assert.equal(s.code, 0, show(s));
    assert.match(s.stdout, /^Usage: nestling images build /);
  });
});

describe('exit 1: internal error (a bug)', () => {
  test('"please report" with the versions, no stack unless NESTLING_DEBUG (hidden hook NESTLING_DEBUG_FAULT=internal)', async () => {
    const r = await runCli(['--version'], { env: { NESTLING_DEBUG_FAULT: 'internal' } });
    assert.equal(r.code, 1, show(r));
    tested.add(1);
    assert.match(r.stderr, /^nestling: internal error: injected fault/m);
    assert.match(r.stderr, /This is a bug in nestling \d+\.\d+\.\d+ \(node v\d+/);
    assert.match(r.stderr, /please report/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    const d = await runCli(['--version'], { env: { NESTLING_DEBUG_FAULT: 'internal', NESTLING_DEBUG: '1' } });
    assert.equal(d.code, 1);
    assert.match(d.stderr, /^\s+at injectedFault /m, 'the stack with NESTLING_DEBUG=1');
  });
  test('with --json the internal error is JSON on stdout too', async () => {
    const r = await runCli(['images', 'build', '--json'], { env: { NESTLING_DEBUG_FAULT: 'internal' } });
    assert.equal(r.code, 1, show(r));
    const j = JSON.parse(r.stdout) as { error: { code: string; category: string } };
    assert.equal(j.error.code, 'E_INTERNAL');
    assert.equal(j.error.category, 'internal');
  });
});

describe('exit 2: usage, configuration', () => {
  test('unknown option: printed once (not twice by commander), with the failing command\'s help hint', async () => {
    const r = await runCli(['images', 'build', '--frobnicate']);
    assertRendered(r, 2, /^nestling: unknown option '--frobnicate'$/m);
    assert.match(r.stderr, /^hint: run `nestling images build --help`$/m);
    assert.doesNotMatch(r.stderr, /^error:/m);
  });
  test('unknown command', async () => {
    const r = await runCli(['frobnicate']);
    assertRendered(r, 2, /^nestling: unknown command 'frobnicate'$/m);
  });
  test('a bad DOCKER_HOST scheme', async () => {
    const r = await runCli(['images', 'build'], { env: { DOCKER_HOST: 'gopher://host:70' } });
    assertRendered(r, 2, /^nestling: DOCKER_HOST=gopher:\/\/host:70: unknown scheme gopher:\/\//m);
  });
  test('--host and --context together', async () => {
    const r = await runCli(['--host', 'unix:///x.sock', '--context', 'c', 'images', 'build']);
    assertRendered(r, 2, /conflicting options/);
  });
  test('a context that does not exist', async () => {
    const r = await runCli(['images', 'build'], { env: { DOCKER_CONTEXT: 'no-such-context' }, home: tmp });
    assertRendered(r, 2, /^nestling: docker context "no-such-context" \(from DOCKER_CONTEXT\) does not exist$/m);
  });
  test('missing TLS files', async () => {
    const r = await runCli(['images', 'build'], { env: { DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: join(tmp, 'no-certs') } });
    assertRendered(r, 2, /cannot read .*no-certs\/ca\.pem \(ENOENT\)/);
  });
  test('an unreadable cert file (key.pem 0600 root, read as nobody)', { skip: process.getuid?.() !== 0 ? 'spawning as another user needs root' : false }, async () => {
    const certs = join(tmp, 'certs-unreadable');
    mkdirSync(certs, { recursive: true });
    chmodSync(certs, 0o755);
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(certs, f), 'x', { mode: f === 'key.pem' ? 0o600 : 0o644 });
    const r = await runCli(['images', 'build'], {
      env: { DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs },
      home: tmp,
      spawn: { uid: 65534, gid: 65534, cwd: tmp },
    });
    assertRendered(r, 2, /cannot read .*certs-unreadable\/key\.pem \(EACCES\)/);
    assert.match(r.stderr, /^hint: check the permissions of /m);
  });
  test('a malformed ~/.docker/config.json', async () => {
    const home = join(tmp, 'badcfg');
    mkdirSync(join(home, '.docker'), { recursive: true });
    writeFileSync(join(home, '.docker', 'config.json'), '{"currentContext": ');
    const r = await runCli(['images', 'build'], { home });
    assertRendered(r, 2, /config\.json is not valid JSON/);
  });
  test('a malformed DOCKER_API_VERSION', async () => {
    const r = await runCli(['images', 'build'], { env: { DOCKER_HOST: 'unix:///nonexistent.sock', DOCKER_API_VERSION: 'latest' } });
    assertRendered(r, 2, /DOCKER_API_VERSION=latest is not an API version/);
  });
  test('with --json: the error object on stdout', async () => {
    const r = await runCli(['images', 'build', '--json'], { env: { DOCKER_HOST: 'gopher://x' } });
    assert.equal(r.code, 2, show(r));
    const j = JSON.parse(r.stdout) as { error: { code: string; category: string; message: string; hint: string } };
    assert.equal(j.error.code, 'E_ENGINE_HOST_SCHEME');
    assert.equal(j.error.category, 'usage');
    assert.ok(j.error.hint);
  });
});

describe('exit 3: environment not suitable', () => {
  test('demo as a non-root user with no engine: a private dockerd needs root', { skip: process.getuid?.() !== 0 ? 'spawning as another user needs root' : false }, async () => {
    const r = await runCli(['demo'], { home: tmp, spawn: { uid: 65534, gid: 65534, cwd: tmp } });
    // Precondition: the default socket is not usable by nobody (else the demo would run for real).
    assert.match(r.stderr, /engine: none reachable at unix:\/\/\/var\/run\/docker\.sock/, show(r));
    assertRendered(r, 3, /^nestling: (starting a private dockerd needs root|dockerd is not installed)$/m);
  });
});

describe('exit 4: engine', () => {
  test('an unreachable engine', async () => {
    const r = await runCli(['images', 'build'], { env: { DOCKER_HOST: 'unix:///nonexistent' } });
    assertRendered(r, 4, /^nestling: cannot reach the Docker engine at unix:\/\/\/nonexistent \(DOCKER_HOST\)/m);
    assert.match(r.stderr, /^hint: no socket at \/nonexistent/m);
  });
  test('an engine older than the floor (a fake /_ping answering API-Version 1.30)', async () => {
    const server: Server = createServer((req, res) => {
      res.setHeader('API-Version', '1.30');
      res.end(req.url === '/_ping' ? 'OK' : '{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const r = await runCli(['images', 'build'], { env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
      assertRendered(r, 4, /the engine speaks API 1\.30, older than the minimum 1\.41/);
    } finally {
      server.close();
    }
  });
});

describe('exit 5: denied by policy / findings at or above --fail-on', () => {
  // `guard check` (a one-shot policy dry run) does not exist yet; `audit --fail-on` is the command with exit 5 today.
  const prefix = uniquePrefix('e2e-exit5');
  let cleanup: Cleanup | undefined;
  after(async () => {
    await cleanup?.sweepPrefix(prefix);
    await cleanup?.run();
  });
  test('audit finds an engine socket mounted into a container (created, never started)', async () => {
    const d = await useDockerd();
    cleanup = new Cleanup(d.engine);
    await buildBusyboxImage(d.engine);
    const c = await createContainer(d.engine, { Image: LocalImages.busybox, Cmd: ['true'], HostConfig: { Binds: [`${d.socketPath}:/var/run/docker.sock`] } }, { name: `${prefix}-sock` });
    cleanup.add('container', c.Id);
    const r = await runCli(['audit', '--name-prefix', prefix, '--no-host', '--fail-on', 'high'], { env: { DOCKER_HOST: d.url } });
    assert.equal(r.code, 5, show(r));
    tested.add(5);
    assert.match(r.stdout, /engine socket mounted/);
  });
});

describe('exit 130/143: interrupted', () => {
  test('SIGTERM while waiting for an engine that never answers: "interrupted by SIGTERM", exit 143', async () => {
    const { spawn } = await import('node:child_process');
    const { createServer: createTcpServer } = await import('node:net');
    const { MAIN } = await import('./cli-helpers.js');
    const silent = createTcpServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const { port } = silent.address() as AddressInfo;
      const child = spawn(process.execPath, [MAIN, 'images', 'build'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      // Wait until the CLI is inside the command (it says what it builds), then interrupt it.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 10_000);
        child.stderr.on('data', () => {
          if (stderr.includes('building')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      assert.equal(code, 143, stderr);
      assert.match(stderr, /^nestling: interrupted by SIGTERM$/m);
      assert.doesNotMatch(stderr, /internal error/);
    } finally {
      silent.close();
    }
  });
});

test('every exit code of the table was exercised above', () => {
  assert.deepEqual([...tested].sort(), EXIT_CODE_TABLE.map((e) => e.code).filter((c) => c !== 3 || process.getuid?.() === 0));
});
