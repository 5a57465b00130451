// Third-party clients through the guard, against the real dockerd: docker-compose v1 (Debian) and v2 (the CLI
// plugin, Debian 13's package fetched by scripts/setup.sh), dockerode, and
// Testcontainers for Node. Ryuk cannot be pulled on this host: Testcontainers runs with TESTCONTAINERS_RYUK_DISABLED
// here, and the job's objects are reaped by the guard's owner label instead (tested in reap.test.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Dockerode from 'dockerode';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { DOCKER_28, run, startTestGuard, type TestGuard } from './helpers.js';

const IMG = 'nestling/busybox:local';
const COMPOSE = '/usr/bin/docker-compose';
const COMPOSE_V2 = join(process.env.NESTLING_TOOLS_DIR ?? '/var/cache/nestling-test/tools', 'cli-plugins', 'docker-compose');

describe('guard: third-party clients', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('gcl');
  const owner = `${prefix}-owner`;

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    g = await startTestGuard(d, owner);
  });
  after(async () => {
    await g.close();
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  /** up -d, ps, exec, logs, down with one compose implementation (`cmd` + its first args) */
  const composeRound = async (cmd: string, first: string[], extraEnv: Record<string, string>, project: string) => {
    const dir = join(g.dir, `compose-${project}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      [
        "version: '3.7'",
        'services:',
        '  web:',
        `    image: ${IMG}`,
        "    command: ['sh', '-c', 'echo web-up; sleep 300']",
        '    volumes: [data:/data]',
        '  worker:',
        `    image: ${IMG}`,
        "    command: ['sh', '-c', 'ping -c 1 web && echo reached-web; sleep 300']",
        '    depends_on: [web]',
        'volumes:',
        '  data: {}',
        '',
      ].join('\n'),
    );
    const env = { DOCKER_HOST: g.url, COMPOSE_PROJECT_NAME: project, ...extraEnv };
    const compose = (args: string[]) => run(cmd, [...first, ...args], { env, cwd: dir, timeoutMs: 120_000 });
    const up = await compose(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    try {
      const ps = await compose(['ps', '-q']);
      assert.equal(ps.stdout.trim().split('\n').length, 2, ps.stdout + ps.stderr);
      const ex = await compose(['exec', '-T', 'web', 'sh', '-c', 'echo in-web']);
      assert.equal(ex.code, 0, ex.stderr);
      assert.equal(ex.stdout.trim(), 'in-web');
      let logs = '';
      for (let i = 0; i < 50 && !/reached-web/.test(logs); i++) {
        logs = (await compose(['logs', '--no-color'])).stdout;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(logs, /web-up/);
      assert.match(logs, /reached-web/, 'containers reach each other on the project network');
      // everything compose made carries the owner label
      const filters = JSON.stringify({ label: [`com.docker.compose.project=${project}`] });
      const cs = await d.engine.json<{ Labels: Record<string, string> }[]>({ method: 'GET', path: '/containers/json', query: { all: true, filters } });
      assert.equal(cs.length, 2);
      assert.ok(cs.every((c) => c.Labels['io.nestling.owner'] === owner));
    } finally {
      const down = await compose(['down', '-v']);
      assert.equal(down.code, 0, down.stderr);
    }
    const left = await d.engine.json<unknown[]>({
      method: 'GET',
      path: '/containers/json',
      query: { all: true, filters: JSON.stringify({ label: [`com.docker.compose.project=${project}`] }) },
    });
    assert.equal(left.length, 0);
  };

  it('docker-compose v1: up -d, ps, exec, logs, down', { skip: existsSync(COMPOSE) ? false : 'docker-compose (Debian package) is not installed' }, async () => {
    await composeRound(COMPOSE, [], {}, `${prefix}p`);
  });

  it('docker compose v2 (the CLI plugin, Debian 13\'s 2.26): up -d, ps, exec, logs, down', async () => {
    // part of the test setup (scripts/setup.sh fetches it): missing, this test fails rather than skips
    assert.ok(existsSync(COMPOSE_V2), `${COMPOSE_V2} is missing: run scripts/setup.sh as root`);
    const config = join(g.dir, 'docker-config');
    mkdirSync(join(config, 'cli-plugins'), { recursive: true });
    if (!existsSync(join(config, 'cli-plugins', 'docker-compose'))) symlinkSync(COMPOSE_V2, join(config, 'cli-plugins', 'docker-compose'));
    await composeRound(DOCKER_28, ['compose'], { DOCKER_CONFIG: config }, `${prefix}v2`.replace(/[^a-z0-9_-]/g, ''));
  });

  it('dockerode: create, start, logs, exec with a demuxed stream, attach with stdin, remove', async () => {
    const docker = new Dockerode({ socketPath: g.socketPath! });
    const c = await docker.createContainer({ Image: IMG, name: `${prefix}-dode`, Cmd: ['sh', '-c', 'echo hello-dockerode; sleep 300'] });
    cleanup.add('container', c.id);
    await c.start();
    const info = await c.inspect();
    assert.equal(info.Config.Labels?.['io.nestling.owner'], owner);
    let logs = '';
    for (let i = 0; i < 20 && !logs.includes('hello-dockerode'); i++) {
      logs = (await c.logs({ stdout: true, stderr: true })).toString();
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(logs, /hello-dockerode/);
    const ex = await c.exec({ Cmd: ['sh', '-c', 'cat; echo out; echo err >&2'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({ hijack: true, stdin: true });
    const out = new PassThrough();
    const err = new PassThrough();
    let o = '';
    let e = '';
    out.on('data', (x: Buffer) => (o += x.toString()));
    err.on('data', (x: Buffer) => (e += x.toString()));
    docker.modem.demuxStream(stream, out, err);
    stream.end('from-stdin\n');
    await new Promise((r) => stream.on('end', r));
    assert.equal(o, 'from-stdin\nout\n');
    assert.equal(e, 'err\n');
    const list = await docker.listContainers({ all: true });
    assert.ok(list.some((x) => x.Id === c.id));
    assert.ok(list.every((x) => x.Labels['io.nestling.owner'] === owner), 'dockerode lists only the owner\'s containers');
    await c.remove({ force: true });
  });

  it('Testcontainers for Node (Ryuk disabled: the guard reaps by label): start, exec, logs, stop', async () => {
    const saved = { ...process.env };
    process.env.DOCKER_HOST = g.url;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    process.env.TESTCONTAINERS_HOST_OVERRIDE = '127.0.0.1';
    try {
      const { GenericContainer } = await import('testcontainers');
      const started = await new GenericContainer(IMG)
        .withName(`${prefix}-tc`)
        .withCommand(['sh', '-c', 'echo tc-ready; sleep 300'])
        .withStartupTimeout(60_000)
        .start();
      cleanup.add('container', started.getId());
      const r = await started.exec(['sh', '-c', 'echo exec-ok']);
      assert.equal(r.exitCode, 0);
      assert.match(r.output, /exec-ok/);
      const inspect = await d.engine.json<{ Config: { Labels: Record<string, string> } }>({ method: 'GET', path: `/containers/${started.getId()}/json` });
      assert.equal(inspect.Config.Labels['io.nestling.owner'], owner);
      assert.ok(inspect.Config.Labels['org.testcontainers'] !== undefined || Object.keys(inspect.Config.Labels).some((k) => k.startsWith('org.testcontainers')));
      await started.stop();
    } finally {
      for (const k of ['DOCKER_HOST', 'TESTCONTAINERS_RYUK_DISABLED', 'TESTCONTAINERS_HOST_OVERRIDE']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
