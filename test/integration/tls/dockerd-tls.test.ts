/**
 * The certificates nestling generates against the real thing: a private dockerd with --tlsverify accepts them,
 * the docker CLI (DOCKER_CERT_PATH = the client directory) and nestling's own client connect, and a client whose
 * certificate comes from another CA, or that has none, is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PrivateDaemon } from '../../../src/engine/local-daemon.js';
import { freePort, startTlsDockerd } from '../../harness/tls-dockerd.js';
import { Engine } from '../../../src/engine/client.js';
import { resolveEndpoint } from '../../../src/engine/resolve.js';
import { generateDindCerts } from '../../../src/tls/generate.js';
import { writeDindLayout, type DindLayout } from '../../../src/tls/layout.js';

const run = promisify(execFile);
const DOCKER_CLI = ['/usr/local/bin/docker', '/usr/bin/docker'];


let root: string;
let daemon: PrivateDaemon | undefined;
let port: number;
let good: DindLayout;
let otherCa: DindLayout;
let cli: string;

before(async () => {
  const { existsSync } = await import('node:fs');
  cli = DOCKER_CLI.find((p) => existsSync(p)) ?? 'docker';
  root = mkdtempSync(join(tmpdir(), 'nst-tls-'));
  port = await freePort();
  const bundle = await generateDindCerts({ sans: ['localhost', '127.0.0.1'] });
  good = writeDindLayout(join(root, 'good'), bundle);
  otherCa = writeDindLayout(join(root, 'other'), await generateDindCerts({ sans: ['localhost', '127.0.0.1'] }));
  daemon = await startTlsDockerd(join(root, 'd'), good.serverDir, port);
});

after(async () => {
  await daemon?.stop();
  rmSync(root, { recursive: true, force: true });
});

function docker(certPath: string | undefined, args: string[]) {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root };
  if (certPath) env.DOCKER_CERT_PATH = certPath;
  return run(cli, ['--tlsverify', '-H', `tcp://127.0.0.1:${port}`, ...args], { env, timeout: 30_000 });
}

test('dockerd --tlsverify accepts the server certificate and the docker CLI connects with the client directory', async () => {
  const { stdout } = await docker(good.clientDir, ['version', '--format', '{{.Server.APIVersion}}']);
  assert.match(stdout.trim(), /^1\.\d+$/);
  const info = await docker(good.clientDir, ['info', '--format', '{{.ID}}']);
  assert.ok(info.stdout.trim().length > 0);
});

test("nestling's own client connects with DOCKER_TLS_VERIFY + DOCKER_CERT_PATH", async () => {
  const { endpoint } = resolveEndpoint({ env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: good.clientDir }, home: root });
  const engine = new Engine(endpoint);
  const ping = await engine.ping(undefined, 10_000);
  assert.match(ping.apiVersion ?? '', /^1\.\d+$/);
  const v = await engine.json<{ ApiVersion: string }>({ method: 'GET', path: '/version' });
  assert.equal(v.ApiVersion, ping.apiVersion);
});

test('a client certificate from another CA is refused', async () => {
  await assert.rejects(docker(otherCa.clientDir, ['version', '--format', '{{.Server.Version}}']), (e: Error & { stderr?: string }) => {
    // the CLI refuses the server (unknown authority) before the server can refuse the client
    assert.match(e.stderr ?? '', /certificate|tls|x509/i);
    return true;
  });
  // the server side on its own: our CA trusted by the client, but a client certificate the server does not trust
  const { endpoint } = resolveEndpoint({ env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: good.clientDir }, home: root });
  assert.ok(endpoint.tls, 'TLS material resolved');
  const { readFileSync } = await import('node:fs');
  const mixed = new Engine({
    ...endpoint,
    tls: { ca: endpoint.tls.ca, verify: true, cert: readFileSync(join(otherCa.clientDir, 'cert.pem')), key: readFileSync(join(otherCa.clientDir, 'key.pem')) },
  });
  // the server refuses the handshake: TLS alert 42 (bad_certificate) or 48 (unknown_ca)
  await assert.rejects(mixed.ping(undefined, 10_000), (e: unknown) => /alert (bad certificate|unknown ca)|alert number (42|48)/i.test((e as Error).message));
});

test('a client without a certificate is refused', async () => {
  const { endpoint } = resolveEndpoint({ env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: good.clientDir }, home: root });
  assert.ok(endpoint.tls, 'TLS material resolved');
  const noCert = new Engine({ ...endpoint, tls: { ca: endpoint.tls.ca, verify: true } });
  // the server aborts the handshake: TLS alert 42 (bad_certificate) or 116 (certificate_required)
  await assert.rejects(noCert.ping(undefined, 10_000), (e: unknown) => /alert (bad certificate|certificate required)|alert number (42|116)/i.test((e as Error).message));
});
