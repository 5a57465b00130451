/**
 * nestling/dind:local on the real engine: the inner dockerd starts and answers /_ping (over TLS with nestling's
 * certificates, or on its unix socket only), runs and builds containers, and its children are not the host's.
 * Started with --privileged where the host grants it, else with the explicit equivalent (docs/images.md).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { Cleanup } from '../../harness/cleanup.js';
import { Engine } from '../../../src/engine/client.js';
import { resolveEndpoint } from '../../../src/engine/resolve.js';
import { buildDindImage } from '../../../src/images/dind.js';
import { buildBusyboxImage, LocalImages } from '../../../src/images/local.js';
import { isCapsFailure, knownCapabilities, privilegedEquivalentHostConfig } from '../../../src/modes/privilege.js';
import { generateDindCerts } from '../../../src/tls/generate.js';
import { writeDindLayout } from '../../../src/tls/layout.js';
import { EngineError } from '../../../src/util/errors.js';
import { copyImageInto, createContainer, DOCKER_CLI, dockerCli, inspect, logs, missingBoundingCaps, removeContainer, startContainer, waitFor } from './helpers.js';

let d: TestDaemon;
let cleanup: Cleanup;
let prefix: string;
let root: string;
/** HostConfig fields that give the inner daemon what it needs on this host (decided by the first test). */
let privilege: Record<string, unknown> | undefined;
let privilegeNote = '';

before(async () => {
  d = await useDockerd();
  cleanup = new Cleanup(d.engine);
  prefix = uniquePrefix('dind');
  root = mkdtempSync(join(tmpdir(), 'nst-dind-'));
  await buildBusyboxImage(d.engine);
  await buildDindImage(d.engine, { env: process.env });
});

after(async () => {
  await cleanup.sweepPrefix(prefix);
  await cleanup.run();
  rmSync(root, { recursive: true, force: true });
});

async function equivalent(): Promise<Record<string, unknown>> {
  const version = (await d.engine.json<{ Version: string }>({ method: 'GET', path: '/version' })).Version;
  const missing = missingBoundingCaps();
  const caps = knownCapabilities(version).filter((c) => !missing.includes(c));
  return privilegedEquivalentHostConfig(caps);
}

/** Creates and starts a dind container: --privileged first, the explicit equivalent when the host refuses it. */
async function startDind(name: string, body: Record<string, unknown>): Promise<string> {
  const hostConfig = (body.HostConfig ?? {}) as Record<string, unknown>;
  const attempt = async (extra: Record<string, unknown>) => {
    const id = await createContainer(d.engine, cleanup, name, { ...body, HostConfig: { ...hostConfig, ...extra } });
    try {
      await startContainer(d.engine, id);
      return id;
    } catch (e) {
      await removeContainer(d.engine, id);
      throw e;
    }
  };
  if (!privilege) {
    try {
      const id = await attempt({ Privileged: true });
      privilege = { Privileged: true };
      privilegeNote = '--privileged';
      return id;
    } catch (e) {
      // the only acceptable failure: the host's bounding set cannot grant every capability
      if (!(e instanceof EngineError) || !isCapsFailure(e.engineMessage ?? e.message)) throw e;
      privilege = await equivalent();
      privilegeNote = `the explicit equivalent (--privileged refused: ${e.engineMessage ?? e.message})`;
    }
  }
  return attempt(privilege);
}

const execIn = (id: string, cmd: string[], user?: string) => dockerCli(d.url, ['exec', ...(user ? ['-u', user] : []), id, ...cmd]);

test("TLS: the inner dockerd answers /_ping with nestling certs, runs and builds; its children are not the host engine's", async (t) => {
  const certs = writeDindLayout(join(root, 'tls'), await generateDindCerts({ sans: ['docker', 'localhost', '127.0.0.1'] }));
  const volume = cleanup.add('volume', `${prefix}-tls-data`);
  const id = await startDind(`${prefix}-tls`, {
    Image: LocalImages.dind,
    Env: ['DOCKER_TLS_CERTDIR=/certs', 'NESTLING_DIND_MTU=1400'],
    ExposedPorts: { '2376/tcp': {} },
    HostConfig: {
      Binds: [`${certs.dir}:/certs:ro`],
      Mounts: [{ Type: 'volume', Source: volume, Target: '/var/lib/docker' }],
      PortBindings: { '2376/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    },
  });
  t.diagnostic(`started with ${privilegeNote}`);
  const port = (await inspect(d.engine, id)).NetworkSettings.Ports['2376/tcp']?.[0]?.HostPort;
  assert.ok(port, 'port 2376 published on 127.0.0.1');
  const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.clientDir };
  const inner = new Engine(resolveEndpoint({ env, home: root }).endpoint);
  const ping = await waitFor('inner /_ping over TLS', 60_000, () => inner.ping(undefined, 3000), async () => logs(d.url, id));
  assert.match(ping.apiVersion ?? '', /^1\.\d+$/);

  const log = await logs(d.url, id);
  assert.match(log, /nestling-dind: iptables: (legacy|nf_tables)/);
  await copyImageInto(d.url, LocalImages.busybox, id);
  const innerCli = (args: string[]) => dockerCli(env.DOCKER_HOST, args, { env });
  assert.equal((await innerCli(['run', '--rm', LocalImages.busybox, 'echo', 'child ok'])).trim(), 'child ok');
  // docker build from stdin: a Dockerfile whose RUN step needs a working runtime inside
  const b = spawnSync('sh', ['-c', `printf 'FROM ${LocalImages.busybox}\\nRUN echo built > /built\\n' | "$DOCKER" build -q -t nst-inner:1 -`], {
    env: { ...env, PATH: process.env.PATH ?? '', DOCKER: DOCKER_CLI, HOME: root },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(b.status, 0, b.stderr);
  assert.equal((await innerCli(['run', '--rm', 'nst-inner:1', 'cat', '/built'])).trim(), 'built');
  // MTU passthrough reached the inner bridge
  assert.equal((await innerCli(['network', 'inspect', 'bridge', '--format', '{{index .Options "com.docker.network.driver.mtu"}}'])).trim(), '1400');
  // a child of the inner daemon is not a container of the host engine
  const childId = (await innerCli(['run', '-d', LocalImages.busybox, 'sleep', '60'])).trim();
  assert.match(childId, /^[0-9a-f]{64}$/);
  await assert.rejects(d.engine.json({ method: 'GET', path: `/containers/${childId}/json` }), (e: unknown) => e instanceof EngineError && e.statusCode === 404);
});

test('without DOCKER_TLS_CERTDIR: the unix socket only, no TCP listener', async () => {
  const volume = cleanup.add('volume', `${prefix}-unix-data`);
  const id = await startDind(`${prefix}-unix`, {
    Image: LocalImages.dind,
    HostConfig: { Mounts: [{ Type: 'volume', Source: volume, Target: '/var/lib/docker' }] },
  });
  const version = await waitFor('inner daemon on its unix socket', 60_000, () => execIn(id, ['docker', 'version', '--format', '{{.Server.Version}}']), async () => logs(d.url, id));
  assert.match(version.trim(), /^\d+\.\d+/);
  const listeners = await execIn(id, ['ss', '-Hltn']);
  assert.doesNotMatch(listeners, /:237[56]\b/);
  assert.match(await logs(d.url, id), /listening on the unix socket only/);
});

test('DOCKER_TLS_CERTDIR on an empty directory: the entrypoint makes certificates as docker:dind does, and TLS works', async () => {
  const volume = cleanup.add('volume', `${prefix}-gen-data`);
  const certVolume = cleanup.add('volume', `${prefix}-gen-certs`);
  const id = await startDind(`${prefix}-gen`, {
    Image: LocalImages.dind,
    Env: ['DOCKER_TLS_CERTDIR=/certs', 'DOCKER_TLS_SAN=DNS:dind.example.test'],
    HostConfig: {
      Mounts: [
        { Type: 'volume', Source: volume, Target: '/var/lib/docker' },
        { Type: 'volume', Source: certVolume, Target: '/certs' },
      ],
    },
  });
  const tlsArgs = ['--tlsverify', '--tlscacert=/certs/client/ca.pem', '--tlscert=/certs/client/cert.pem', '--tlskey=/certs/client/key.pem', '-H', 'tcp://docker:2376'];
  // "docker" is not resolvable inside: connect by 127.0.0.1 with the server name checked against the SANs
  const v = await waitFor(
    'inner daemon over TLS with generated certificates',
    60_000,
    () => execIn(id, ['sh', '-c', `echo 127.0.0.1 docker >> /etc/hosts; docker ${tlsArgs.join(' ')} version --format '{{.Server.Version}}'`]),
    async () => logs(d.url, id),
  );
  assert.match(v.trim(), /^\d+\.\d+/);
  const text = await execIn(id, ['openssl', 'x509', '-noout', '-text', '-in', '/certs/server/cert.pem']);
  assert.match(text, /DNS:docker/);
  assert.match(text, /DNS:dind\.example\.test/);
  assert.match(text, /ASN1 OID: prime256v1/);
  assert.match(await execIn(id, ['stat', '-c', '%a', '/certs/server/key.pem', '/certs/client/key.pem']), /^600\n600\n$/);
});

test('what is needed: under the default seccomp profile the inner daemon starts but no container can', async (t) => {
  if (!privilege || privilege.Privileged) {
    t.skip('this host grants --privileged: the explicit equivalent is not in use');
    return;
  }
  const volume = cleanup.add('volume', `${prefix}-seccomp-data`);
  const confined = { ...privilege, SecurityOpt: ((privilege.SecurityOpt as string[] | undefined) ?? []).filter((o) => !o.startsWith('seccomp')) };
  const id = await createContainer(d.engine, cleanup, `${prefix}-seccomp`, {
    Image: LocalImages.dind,
    HostConfig: { ...confined, Mounts: [{ Type: 'volume', Source: volume, Target: '/var/lib/docker' }] },
  });
  await startContainer(d.engine, id);
  await waitFor('inner daemon', 60_000, () => execIn(id, ['docker', 'version', '--format', '{{.Server.Version}}']), async () => logs(d.url, id));
  await copyImageInto(d.url, LocalImages.busybox, id);
  await assert.rejects(execIn(id, ['docker', 'run', '--rm', LocalImages.busybox, 'true']), /unable to join session keyring: unable to create session key: operation not permitted/);
});
