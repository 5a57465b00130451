/**
 * nestling/dind-rootless:local on the real engine with NO added capability and no --privileged: seccomp
 * unconfined, unmasked /proc and /sys (MaskedPaths/ReadonlyPaths empty: the API form of systempaths=unconfined),
 * /dev/net/tun, a volume at the data root, started as root so the entrypoint can hand /dev/net/tun over before it
 * drops to the rootless user. The daemon reports name=rootless, runs and builds; custom UID/GID works; and each
 * relaxation is shown to be needed (docs/images.md).
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
import { buildDindRootlessImage } from '../../../src/images/dind.js';
import { buildBusyboxImage, LocalImages } from '../../../src/images/local.js';
import { generateDindCerts } from '../../../src/tls/generate.js';
import { writeDindLayout } from '../../../src/tls/layout.js';
import { EngineError } from '../../../src/util/errors.js';
import { copyImageInto, createContainer, DOCKER_CLI, dockerCli, inspect, logs, startContainer, waitFor } from './helpers.js';

let d: TestDaemon;
let cleanup: Cleanup;
let prefix: string;
let root: string;

before(async () => {
  d = await useDockerd();
  cleanup = new Cleanup(d.engine);
  prefix = uniquePrefix('rootless');
  root = mkdtempSync(join(tmpdir(), 'nst-rootless-'));
  await buildBusyboxImage(d.engine);
  await buildDindRootlessImage(d.engine, { env: process.env });
});

after(async () => {
  await cleanup.sweepPrefix(prefix);
  await cleanup.run();
  rmSync(root, { recursive: true, force: true });
});

/** The rootless recipe: no capability added, nothing privileged. */
function rootlessHostConfig(volume: string, relax: { seccomp?: boolean; systempaths?: boolean } = {}): Record<string, unknown> {
  return {
    ...(relax.seccomp === false ? {} : { SecurityOpt: ['seccomp=unconfined'] }),
    ...(relax.systempaths === false ? {} : { MaskedPaths: [], ReadonlyPaths: [] }),
    Devices: [{ PathOnHost: '/dev/net/tun', PathInContainer: '/dev/net/tun', CgroupPermissions: 'rwm' }],
    Mounts: [{ Type: 'volume', Source: volume, Target: '/home/rootless/.local/share/docker' }],
  };
}

const execIn = (id: string, cmd: string[], user?: string) => dockerCli(d.url, ['exec', ...(user ? ['-u', user] : []), id, ...cmd]);

async function waitExited(id: string, ms: number): Promise<number> {
  return waitFor(`container ${id} to exit`, ms, async () => {
    const s = (await inspect(d.engine, id)).State;
    if (s.Running) throw new Error('still running');
    return s.ExitCode;
  });
}

test('no added capability, no --privileged: name=rootless over TLS, runs and builds', async () => {
  const certs = writeDindLayout(join(root, 'tls'), await generateDindCerts({ sans: ['docker', 'localhost', '127.0.0.1'] }), {
    owners: { server: { uid: 1000, gid: 1000 } },
  });
  const volume = cleanup.add('volume', `${prefix}-tls-data`);
  const id = await createContainer(d.engine, cleanup, `${prefix}-tls`, {
    Image: LocalImages.dindRootless,
    User: '0',
    Env: ['DOCKER_TLS_CERTDIR=/certs'],
    ExposedPorts: { '2376/tcp': {} },
    HostConfig: {
      ...rootlessHostConfig(volume),
      // only server/ goes into the daemon container (the CA key never does), as docker:dind shares only client/
      Binds: [`${certs.serverDir}:/certs/server:ro`],
      PortBindings: { '2376/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
    },
  });
  await startContainer(d.engine, id);
  const info = await inspect(d.engine, id);
  assert.equal(info.HostConfig.Privileged, false);
  assert.ok(!info.HostConfig.CapAdd || (info.HostConfig.CapAdd as unknown[]).length === 0, 'no capability added');
  const port = info.NetworkSettings.Ports['2376/tcp']?.[0]?.HostPort;
  assert.ok(port);
  const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.clientDir };
  const inner = new Engine(resolveEndpoint({ env, home: root }).endpoint);
  await waitFor('rootless /_ping over TLS (rootlesskit port forward)', 90_000, () => inner.ping(undefined, 3000), async () => logs(d.url, id));
  const sys = await inner.json<{ SecurityOptions: string[]; Driver: string }>({ method: 'GET', path: '/info' });
  assert.ok(sys.SecurityOptions.includes('name=rootless'), JSON.stringify(sys.SecurityOptions));

  // every process of the container runs as the rootless user with no effective capability
  const ps = await execIn(id, ['ps', '-o', 'user=,comm=', '-e']);
  for (const comm of ['rootlesskit', 'dockerd', 'containerd']) assert.match(ps, new RegExp(`^rootless\\s+${comm}$`, 'm'), ps);
  // PID 1 and rootlesskit hold no capability; dockerd's capabilities are those of root in its own user
  // namespace, which maps root to the rootless uid and the rest to the subordinate range
  assert.match(await execIn(id, ['grep', 'CapEff', '/proc/1/status']), /CapEff:\s+0{16}/);
  assert.match(await execIn(id, ['sh', '-c', 'grep CapEff /proc/$(pidof -s rootlesskit)/status']), /CapEff:\s+0{16}/);
  const uidMap = await execIn(id, ['sh', '-c', 'cat /proc/$(pidof dockerd)/uid_map']);
  assert.match(uidMap, /^\s*0\s+1000\s+1\s*$/m, uidMap);
  assert.match(uidMap, /^\s*1\s+100000\s+65536\s*$/m, uidMap);
  // newuidmap works through file capabilities, not setuid
  assert.equal((await execIn(id, ['stat', '-c', '%A', '/usr/bin/newuidmap'])).trim(), '-rwxr-xr-x');

  await copyImageInto(d.url, LocalImages.busybox, id, ['-u', 'rootless']);
  const innerCli = (args: string[]) => dockerCli(env.DOCKER_HOST, args, { env });
  assert.equal((await innerCli(['run', '--rm', LocalImages.busybox, 'echo', 'rootless child ok'])).trim(), 'rootless child ok');
  const b = spawnSync('sh', ['-c', `printf 'FROM ${LocalImages.busybox}\\nRUN echo built > /built\\n' | "$DOCKER" build -q -t nst-inner:1 -`], {
    env: { ...env, PATH: process.env.PATH ?? '', DOCKER: DOCKER_CLI, HOME: root },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(b.status, 0, b.stderr);
  assert.equal((await innerCli(['run', '--rm', 'nst-inner:1', 'cat', '/built'])).trim(), 'built');
  const childId = (await innerCli(['run', '-d', LocalImages.busybox, 'sleep', '60'])).trim();
  await assert.rejects(d.engine.json({ method: 'GET', path: `/containers/${childId}/json` }), (e: unknown) => e instanceof EngineError && e.statusCode === 404);
});

test('custom UID/GID: NESTLING_ROOTLESS_UID/GID remap the rootless user', async () => {
  const volume = cleanup.add('volume', `${prefix}-uid-data`);
  const id = await createContainer(d.engine, cleanup, `${prefix}-uid`, {
    Image: LocalImages.dindRootless,
    User: '0',
    Env: ['NESTLING_ROOTLESS_UID=1500', 'NESTLING_ROOTLESS_GID=1600'],
    HostConfig: rootlessHostConfig(volume),
  });
  await startContainer(d.engine, id);
  const sec = await waitFor(
    'rootless daemon as uid 1500',
    90_000,
    () => execIn(id, ['sh', '-c', 'DOCKER_HOST=unix:///run/user/1500/docker.sock docker info --format "{{json .SecurityOptions}}"'], '1500:1600'),
    async () => logs(d.url, id),
  );
  assert.match(sec, /name=rootless/);
  assert.match(await execIn(id, ['ps', '-o', 'uid=,gid=,comm=', '-C', 'dockerd']), /^\s*1500\s+1600\s+dockerd$/m);
  assert.match(await execIn(id, ['id', 'rootless']), /uid=1500\(rootless\) gid=1600\(rootless\)/);
});

test('what is needed: without seccomp=unconfined the daemon never starts', async () => {
  const volume = cleanup.add('volume', `${prefix}-noseccomp-data`);
  const id = await createContainer(d.engine, cleanup, `${prefix}-noseccomp`, {
    Image: LocalImages.dindRootless,
    User: '0',
    HostConfig: rootlessHostConfig(volume, { seccomp: false }),
  });
  await startContainer(d.engine, id);
  assert.notEqual(await waitExited(id, 60_000), 0);
  assert.match(await logs(d.url, id), /failed to start the child: fork\/exec \/proc\/self\/exe: operation not permitted/);
});

test('what is needed: with masked /proc paths the daemon starts but no container can (mount proc refused)', async () => {
  const volume = cleanup.add('volume', `${prefix}-masked-data`);
  const id = await createContainer(d.engine, cleanup, `${prefix}-masked`, {
    Image: LocalImages.dindRootless,
    User: '0',
    HostConfig: rootlessHostConfig(volume, { systempaths: false }),
  });
  await startContainer(d.engine, id);
  await waitFor('rootless daemon', 90_000, () => execIn(id, ['docker', 'version', '--format', '{{.Server.Version}}'], 'rootless'), async () => logs(d.url, id));
  await copyImageInto(d.url, LocalImages.busybox, id, ['-u', 'rootless']);
  await assert.rejects(execIn(id, ['docker', 'run', '--rm', LocalImages.busybox, 'true'], 'rootless'), /error mounting "proc" to rootfs at "\/proc".*operation not permitted/s);
});

test('what is needed: without /dev/net/tun the entrypoint exits 3 and says so', async () => {
  const volume = cleanup.add('volume', `${prefix}-notun-data`);
  const hc = rootlessHostConfig(volume);
  delete hc.Devices;
  const id = await createContainer(d.engine, cleanup, `${prefix}-notun`, { Image: LocalImages.dindRootless, User: '0', HostConfig: hc });
  await startContainer(d.engine, id);
  assert.equal(await waitExited(id, 30_000), 3);
  assert.match(await logs(d.url, id), /\/dev\/net\/tun is missing: start the container with --device \/dev\/net\/tun/);
});
