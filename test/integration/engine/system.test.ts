/** Version negotiation and the system endpoints against the real dockerd. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, MIN_API_VERSION, compareApiVersions } from '../../../src/engine/client.js';
import { info, ping, version } from '../../../src/engine/endpoints/system.js';
import { EngineError, ExitCode } from '../../../src/util/errors.js';
import { engineFixture, type EngineFixture } from './setup.js';

let fx: EngineFixture;
before(async () => {
  fx = await engineFixture('eng-sys');
});

test('/_ping carries API-Version; the engine negotiates min(daemon, ceiling) and uses it', async () => {
  const p = await ping(fx.engine);
  assert.match(p.apiVersion ?? '', /^\d+\.\d+$/);
  assert.equal(p.osType, 'linux');
  const e = new Engine(fx.engine.endpoint);
  const v = await version(e);
  assert.ok(compareApiVersions(e.apiVersion ?? '0.0', MIN_API_VERSION) >= 0);
  assert.equal(e.apiVersion, compareApiVersions(p.apiVersion!, '1.47') > 0 ? '1.47' : p.apiVersion);
  assert.equal(v.ApiVersion, p.apiVersion);
  const i = await info(e);
  assert.equal(typeof i.ServerVersion, 'string');
  assert.equal(i.OSType, 'linux');
});

test('a DOCKER_API_VERSION pin is used verbatim: the floor works, a version the daemon does not speak is its 400', async () => {
  const pinned = new Engine(fx.engine.endpoint, { apiVersion: MIN_API_VERSION });
  assert.equal((await version(pinned)).Os, 'linux');
  const p = await ping(fx.engine);
  const tooNew = `1.${Number((p.apiVersion ?? '1.41').split('.')[1]) + 9}`;
  const e = new Engine(fx.engine.endpoint, { apiVersion: tooNew });
  await assert.rejects(version(e), (err: unknown) => {
    assert.ok(err instanceof EngineError, String(err));
    assert.equal(err.statusCode, 400);
    assert.equal(err.code, 'E_ENGINE_BAD_REQUEST');
    assert.match(err.engineMessage ?? '', /client version .* is too new/);
    assert.match(err.hint ?? '', /DOCKER_API_VERSION/);
    assert.equal(err.exitCode, ExitCode.Engine);
    return true;
  });
});
