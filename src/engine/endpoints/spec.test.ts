import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine } from '../client.js';
import { EngineError } from '../../util/errors.js';
import { errorRows, fillPath, filtersQuery, sendNoBody, S, type EndpointSpec } from './spec.js';
import { ContainerEndpoints } from './containers.js';
import { ExecEndpoints } from './exec.js';
import { ImageEndpoints } from './images.js';
import { NetworkEndpoints } from './networks.js';
import { VolumeEndpoints } from './volumes.js';
import { SystemEndpoints } from './system.js';
import { EventEndpoints } from './events.js';

describe('endpoint specs', () => {
  test('fillPath encodes parameters and refuses missing ones', () => {
    assert.equal(fillPath('/containers/{id}/start', { id: 'a/b c' }), '/containers/a%2Fb%20c/start');
    assert.throws(() => fillPath('/containers/{id}/start', {}), /missing \{id\}/);
    assert.throws(() => fillPath('/containers/{id}/start', { id: '' }), /missing \{id\}/);
  });
  test('filters serialise as the daemon reads them, empty lists dropped', () => {
    assert.equal(filtersQuery({ label: ['a=b', 'c'], name: [] }), '{"label":["a=b","c"]}');
    assert.equal(filtersQuery({ name: [] }), undefined);
    assert.equal(filtersQuery(undefined), undefined);
  });
  test('every table: ids unique, paths absolute, every failure row has an E_ENGINE_ code, every 2xx is ok', () => {
    const all: EndpointSpec[] = [ContainerEndpoints, ExecEndpoints, ImageEndpoints, NetworkEndpoints, VolumeEndpoints, SystemEndpoints, EventEndpoints].flatMap((t) => Object.values(t));
    const ids = all.map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const s of all) {
      assert.match(s.path, /^\//, s.id);
      for (const [status, row] of Object.entries(s.status)) {
        if (Number(status) < 300) assert.ok(row.ok, `${s.id} ${status}`);
        if (!row.ok) assert.match(row.code, /^E_ENGINE_[A-Z_]+$/, `${s.id} ${status}`);
      }
    }
    assert.deepEqual(Object.keys(errorRows(ContainerEndpoints.start)).map(Number), [404, 500]);
  });
});

describe('send() against a fake server (our framing only)', () => {
  const spec = {
    id: 'test.thing',
    method: 'POST',
    path: '/things/{id}/poke',
    status: { 204: S.ok('poked'), 304: S.ok('already poked'), 409: S.fail('E_ENGINE_CONFLICT', 'busy', 'wait for it') },
  } as const satisfies EndpointSpec;
  test('ok rows give their meaning; failure rows their code and hint with the daemon message; unknown statuses fall back by class', async () => {
    const server = createServer((req, res) => {
      const status = Number(/\/things\/(\d+)\//.exec(req.url ?? '')?.[1] ?? 500);
      res.statusCode = status;
      if (status >= 400) res.setHeader('content-type', 'application/json');
      res.end(status >= 400 ? JSON.stringify({ message: `daemon says ${status}` }) : undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const engine = new Engine({ kind: 'tcp', host: '127.0.0.1', port, url: `tcp://127.0.0.1:${port}`, source: 'test' }, { apiVersion: '1.41' });
    try {
      assert.equal(await sendNoBody(engine, spec, { params: { id: '204' } }), 'poked');
      assert.equal(await sendNoBody(engine, spec, { params: { id: '304' } }), 'already poked');
      await assert.rejects(sendNoBody(engine, spec, { params: { id: '409' } }), (e: unknown) => {
        assert.ok(e instanceof EngineError);
        assert.equal(e.code, 'E_ENGINE_CONFLICT');
        assert.equal(e.hint, 'wait for it');
        assert.equal(e.engineMessage, 'daemon says 409');
        assert.equal(e.route, 'POST /things/409/poke');
        return true;
      });
      await assert.rejects(sendNoBody(engine, spec, { params: { id: '418' } }), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_STATUS' && e.statusCode === 418);
      await assert.rejects(sendNoBody(engine, spec, { params: { id: '404' } }), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_NOT_FOUND');
      await assert.rejects(sendNoBody(engine, spec, { params: { id: '503' } }), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_SERVER' && /daemon log/.test(e.hint ?? ''));
    } finally {
      server.close();
    }
  });
});
