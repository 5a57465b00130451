/** Networks, volumes and the event stream against the real dockerd. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectNetwork, createNetwork, disconnectNetwork, inspectNetwork, listNetworks, removeNetwork } from '../../../src/engine/endpoints/networks.js';
import { createVolume, inspectVolume, listVolumes, removeVolume } from '../../../src/engine/endpoints/volumes.js';
import { createContainer, removeContainer, startContainer } from '../../../src/engine/endpoints/containers.js';
import { streamEvents } from '../../../src/engine/endpoints/events.js';
import type { EventMessage } from '../../../src/engine/types/api.js';
import { EngineError } from '../../../src/util/errors.js';
import { BUSYBOX, engineFixture, type EngineFixture } from './setup.js';

let fx: EngineFixture;
before(async () => {
  fx = await engineFixture('eng-obj');
});
after(async () => {
  await fx?.cleanup.sweepPrefix(fx.prefix);
  await fx?.cleanup.run();
});

const status = (s: number, code: string) => (e: unknown) => e instanceof EngineError && e.statusCode === s && e.code === code;

test('networks: create (labels), 409 duplicate, inspect, list by label, connect/disconnect a container, 403 remove with endpoints, remove, 404', async () => {
  const name = `${fx.prefix}-net`;
  const n = await createNetwork(fx.engine, { Name: name, CheckDuplicate: true, Internal: true, Labels: { 'io.nestling.test': fx.prefix } });
  fx.cleanup.add('network', n.Id);
  await assert.rejects(createNetwork(fx.engine, { Name: name, CheckDuplicate: true }), status(409, 'E_ENGINE_CONFLICT'));
  const ins = await inspectNetwork(fx.engine, name);
  assert.equal(ins.Id, n.Id);
  assert.equal(ins.Internal, true);
  assert.deepEqual((await listNetworks(fx.engine, { filters: { label: [`io.nestling.test=${fx.prefix}`] } })).map((x) => x.Id), [n.Id]);
  const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['sleep', '60'] }, { name: `${fx.prefix}-member` });
  fx.cleanup.add('container', c.Id);
  await startContainer(fx.engine, c.Id);
  assert.equal(await connectNetwork(fx.engine, n.Id, c.Id, { Aliases: ['member'] }), 'connected');
  assert.ok(Object.keys((await inspectNetwork(fx.engine, n.Id)).Containers ?? {}).includes(c.Id));
  await assert.rejects(removeNetwork(fx.engine, n.Id), (e: unknown) => status(403, 'E_ENGINE_FORBIDDEN')(e) && /has active endpoints/.test((e as EngineError).engineMessage ?? ''));
  assert.equal(await disconnectNetwork(fx.engine, n.Id, c.Id), 'disconnected');
  assert.equal(await removeNetwork(fx.engine, n.Id), 'removed');
  await assert.rejects(inspectNetwork(fx.engine, n.Id), status(404, 'E_ENGINE_NOT_FOUND'));
  await assert.rejects(removeNetwork(fx.engine, 'host'), (e: unknown) => status(403, 'E_ENGINE_FORBIDDEN')(e) && /pre-defined network/.test((e as EngineError).engineMessage ?? ''));
});

test('volumes: create, inspect, list by label, 409 while in use, remove, 404', async () => {
  const name = `${fx.prefix}-vol`;
  const v = await createVolume(fx.engine, { Name: name, Labels: { 'io.nestling.test': fx.prefix } });
  fx.cleanup.add('volume', name);
  assert.equal(v.Name, name);
  assert.equal(v.Driver, 'local');
  assert.equal((await inspectVolume(fx.engine, name)).Labels?.['io.nestling.test'], fx.prefix);
  assert.deepEqual((await listVolumes(fx.engine, { filters: { label: [`io.nestling.test=${fx.prefix}`] } })).Volumes?.map((x) => x.Name), [name]);
  const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['true'], HostConfig: { Mounts: [{ Type: 'volume', Source: name, Target: '/data' }] } }, { name: `${fx.prefix}-vuser` });
  fx.cleanup.add('container', c.Id);
  await assert.rejects(removeVolume(fx.engine, name), status(409, 'E_ENGINE_CONFLICT'));
  await removeContainer(fx.engine, c.Id, { force: true });
  assert.equal(await removeVolume(fx.engine, name), 'removed');
  await assert.rejects(inspectVolume(fx.engine, name), status(404, 'E_ENGINE_NOT_FOUND'));
});

test('events: a filtered stream sees our container being created and started; abort ends it', async () => {
  const label = `io.nestling.test=${fx.prefix}-ev`;
  const ac = new AbortController();
  const since = Math.floor(Date.now() / 1000) - 1;
  const seen: EventMessage[] = [];
  const reading = (async () => {
    try {
      for await (const ev of streamEvents(fx.engine, { since, filters: { type: ['container'], label: [label] }, signal: ac.signal })) {
        seen.push(ev);
        if (ev.Action === 'start') ac.abort();
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') throw e;
    }
  })();
  const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['true'], Labels: { 'io.nestling.test': `${fx.prefix}-ev` } }, { name: `${fx.prefix}-ev` });
  fx.cleanup.add('container', c.Id);
  await startContainer(fx.engine, c.Id);
  const timer = setTimeout(() => ac.abort(), 15_000);
  await reading;
  clearTimeout(timer);
  assert.deepEqual(seen.map((e) => e.Action).slice(0, 2), ['create', 'start']);
  assert.ok(seen.every((e) => e.Type === 'container' && e.Actor.ID === c.Id));
  assert.equal(seen[0]?.Actor.Attributes['io.nestling.test'], `${fx.prefix}-ev`);
});

test('events with until end by themselves', async () => {
  const now = Math.floor(Date.now() / 1000);
  const out: EventMessage[] = [];
  for await (const ev of streamEvents(fx.engine, { since: now - 1, until: now, filters: { label: [`io.nestling.test=${fx.prefix}-none`] } })) out.push(ev);
  assert.deepEqual(out, []);
});
