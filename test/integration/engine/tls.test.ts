/**
 * The client over TLS against a real `dockerd --tlsverify`: endpoint resolution from the TLS environment variables
 * and from a context written by the real docker CLI (`docker context create`, proving our reading of its store
 * layout), and a hijacked attach with stdin half-close over TLS.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { Engine } from '../../../src/engine/client.js';
import { resolveEndpoint } from '../../../src/engine/resolve.js';
import type { PrivateDaemon } from '../../../src/engine/local-daemon.js';
import { freePort, startTlsDockerd } from '../../harness/tls-dockerd.js';
import { attachContainer, createContainer, startContainer, waitContainer } from '../../../src/engine/endpoints/containers.js';
import { demuxStream } from '../../../src/engine/stream/demux.js';
import { generateDindCerts } from '../../../src/tls/generate.js';
import { writeDindLayout, type DindLayout } from '../../../src/tls/layout.js';
import { buildBusyboxImage, LocalImages } from '../../../src/images/local.js';
import { EngineError } from '../../../src/util/errors.js';

const run = promisify(execFile);
let root: string;
let daemon: PrivateDaemon | undefined;
let port: number;
let certs: DindLayout;


before(async () => {
  root = mkdtempSync(join(tmpdir(), 'nst-engtls-'));
  port = await freePort();
  certs = writeDindLayout(join(root, 'certs'), await generateDindCerts({ sans: ['localhost', '127.0.0.1'] }));
  daemon = await startTlsDockerd(join(root, 'd'), certs.serverDir, port);
  await buildBusyboxImage(daemon.engine);
});

after(async () => {
  await daemon?.stop();
  rmSync(root, { recursive: true, force: true });
});

test('DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH connect with verification; DOCKER_TLS with a CA only is refused by --tlsverify', async () => {
  const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.clientDir };
  const { endpoint } = resolveEndpoint({ env, home: root });
  assert.ok(endpoint.tls?.verify);
  const p = await new Engine(endpoint).ping();
  assert.match(p.apiVersion ?? '', /^1\.\d+$/);
  // DOCKER_TLS without client certificates: the daemon (--tlsverify) refuses the handshake.
  const caOnly = join(root, 'ca-only');
  mkdirSync(caOnly, { recursive: true });
  copyFileSync(join(certs.clientDir, 'ca.pem'), join(caOnly, 'ca.pem'));
  const anon = resolveEndpoint({ env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS: '1', DOCKER_CERT_PATH: caOnly }, home: root });
  assert.equal(anon.endpoint.tls?.cert, undefined);
  await assert.rejects(new Engine(anon.endpoint).ping(), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_UNREACHABLE');
});

test('a context created by the real docker CLI resolves to the same TLS endpoint', { skip: existsSync('/usr/local/bin/docker') || existsSync('/usr/bin/docker') ? false : 'no docker CLI' }, async () => {
  const cli = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker';
  const home = join(root, 'home');
  const c = certs.clientDir;
  await run(cli, ['context', 'create', 'nst-tls', '--docker', `host=tcp://127.0.0.1:${port},ca=${c}/ca.pem,cert=${c}/cert.pem,key=${c}/key.pem`], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
    timeout: 30_000,
  });
  const r = resolveEndpoint({ env: { DOCKER_CONTEXT: 'nst-tls' }, home });
  assert.equal(r.endpoint.url, `tcp://127.0.0.1:${port}`);
  assert.equal(r.context, 'nst-tls');
  assert.ok(r.endpoint.tls?.ca && r.endpoint.tls.cert && r.endpoint.tls.key && r.endpoint.tls.verify);
  const v = await new Engine(r.endpoint).json<{ ApiVersion: string }>({ method: 'GET', path: '/version' });
  assert.match(v.ApiVersion, /^1\.\d+$/);
});

test('attach over TLS: stdin, closeWrite() (close_notify) is the container\'s EOF, the output comes back', async () => {
  const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs.clientDir };
  const engine = new Engine(resolveEndpoint({ env, home: root }).endpoint);
  for (const upgrade of [true, false]) {
    const c = await createContainer(engine, { Image: LocalImages.busybox, Cmd: ['sh', '-c', 'cat; echo eof >&2'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
    try {
      const h = await attachContainer(engine, c.Id, { stdin: true, upgrade });
      const out = new PassThrough();
      const err = new PassThrough();
      let o = '';
      let e = '';
      out.on('data', (b: Buffer) => (o += b.toString()));
      err.on('data', (b: Buffer) => (e += b.toString()));
      const done = demuxStream(h.stream, out, err);
      await startContainer(engine, c.Id);
      h.stream.write('over tls\n');
      h.closeWrite();
      await done;
      assert.equal(o, 'over tls\n', `upgrade=${upgrade}`);
      assert.equal(e, 'eof\n');
      assert.equal((await waitContainer(engine, c.Id)).StatusCode, 0);
    } finally {
      await engine.call({ method: 'DELETE', path: `/containers/${c.Id}`, query: { force: true } });
    }
  }
});
