import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine, compareApiVersions, negotiateApiVersion, parseApiVersionPin, MIN_API_VERSION, MAX_API_VERSION } from './client.js';
import { EngineError, NestlingError, ExitCode } from '../util/errors.js';
import type { EngineEndpoint } from './transport.js';

describe('version negotiation', () => {
  test('compares numerically, not as strings', () => {
    assert.ok(compareApiVersions('1.9', '1.41') < 0);
    assert.ok(compareApiVersions('1.41', '1.41') === 0);
    assert.ok(compareApiVersions('2.0', '1.99') > 0);
  });
  test('min(daemon, ceiling), floor enforced', () => {
    assert.equal(negotiateApiVersion('1.41'), '1.41');
    assert.equal(negotiateApiVersion('1.45'), '1.45');
    assert.equal(negotiateApiVersion('1.52'), MAX_API_VERSION);
    assert.equal(negotiateApiVersion(' 1.43 '), '1.43');
    assert.equal(negotiateApiVersion('1.44', '1.41', '1.43'), '1.43');
  });
  test('no or malformed header: the floor', () => {
    assert.equal(negotiateApiVersion(undefined), MIN_API_VERSION);
    assert.equal(negotiateApiVersion('garbage'), MIN_API_VERSION);
  });
  test('an engine older than the floor: E_ENGINE_TOO_OLD, exit 4, with a hint', () => {
    assert.throws(
      () => negotiateApiVersion('1.40'),
      (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_TOO_OLD' && e.exitCode === ExitCode.Engine && /20\.10/.test(e.hint ?? ''),
    );
  });
  test('DOCKER_API_VERSION pins: valid, with v, empty, malformed, below the floor', () => {
    assert.equal(parseApiVersionPin('1.43'), '1.43');
    assert.equal(parseApiVersionPin('v1.44'), '1.44');
    assert.equal(parseApiVersionPin(''), undefined);
    assert.equal(parseApiVersionPin(undefined), undefined);
    for (const bad of ['latest', '1', '1.4x', '1.40']) {
      assert.throws(
        () => parseApiVersionPin(bad),
        (e: unknown) => e instanceof NestlingError && e.code === 'E_ENGINE_API_VERSION' && e.exitCode === ExitCode.Usage,
        bad,
      );
    }
    assert.throws(() => new Engine({ kind: 'unix', socketPath: '/x', url: 'unix:///x', source: 't' }, { apiVersion: 'nope' }), NestlingError);
  });
});

/** A fake daemon that answers /_ping with a given API-Version and records request paths: it tests our framing only. */
async function fakeDaemon(apiVersion: string | undefined): Promise<{ server: Server; ep: EngineEndpoint; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    if (req.url === '/_ping') {
      if (apiVersion) res.setHeader('API-Version', apiVersion);
      res.end('OK');
    } else res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { server, paths, ep: { kind: 'tcp', host: '127.0.0.1', port, url: `tcp://127.0.0.1:${port}`, source: 'test' } };
}

describe('Engine negotiation over the wire (fake daemon: our framing only)', () => {
  test('pings once, then prefixes every path with the negotiated version', async () => {
    const d = await fakeDaemon('1.43');
    try {
      const e = new Engine(d.ep);
      await Promise.all([e.json({ method: 'GET', path: '/info' }), e.json({ method: 'GET', path: '/version' })]);
      assert.deepEqual(d.paths.filter((p) => p === '/_ping').length, 1);
      assert.ok(d.paths.includes('/v1.43/info') && d.paths.includes('/v1.43/version'));
      assert.equal(e.apiVersion, '1.43');
    } finally {
      d.server.close();
    }
  });
  test('a pin skips the ping', async () => {
    const d = await fakeDaemon('1.43');
    try {
      const e = new Engine(d.ep, { apiVersion: '1.41' });
      await e.json({ method: 'GET', path: '/info' });
      assert.deepEqual(d.paths, ['/v1.41/info']);
    } finally {
      d.server.close();
    }
  });
  test('a daemon below the floor fails every request with E_ENGINE_TOO_OLD', async () => {
    const d = await fakeDaemon('1.40');
    try {
      await assert.rejects(new Engine(d.ep).json({ method: 'GET', path: '/info' }), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_TOO_OLD');
    } finally {
      d.server.close();
    }
  });
  test('an unreachable endpoint: E_ENGINE_UNREACHABLE with a hint naming the socket', async () => {
    const e = new Engine({ kind: 'unix', socketPath: '/nonexistent/docker.sock', url: 'unix:///nonexistent/docker.sock', source: 'DOCKER_HOST' });
    await assert.rejects(e.ping(), (err: unknown) => err instanceof EngineError && err.code === 'E_ENGINE_UNREACHABLE' && /no socket at \/nonexistent/.test(err.hint ?? ''));
  });
});

test('a request body stream that fails rejects with its own error, not E_ENGINE_UNREACHABLE', async () => {
  const { Readable } = await import('node:stream');
  const d = await fakeDaemon('1.41');
  try {
    const body = new Readable({
      read() {
        this.destroy(new Error('tar stream broke'));
      },
    });
    await assert.rejects(new Engine(d.ep, { apiVersion: '1.41' }).call({ method: 'POST', path: '/build', body }), /tar stream broke/);
  } finally {
    d.server.close();
  }
});
