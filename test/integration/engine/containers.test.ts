/** Containers through the typed endpoints against the real dockerd: what each status means is proven here. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import {
  containerLogs,
  createContainer,
  inspectContainer,
  killContainer,
  listContainers,
  removeContainer,
  startContainer,
  stopContainer,
  waitContainer,
} from '../../../src/engine/endpoints/containers.js';
import { demuxStream } from '../../../src/engine/stream/demux.js';
import { EngineError } from '../../../src/util/errors.js';
import { BUSYBOX, engineFixture, type EngineFixture } from './setup.js';

let fx: EngineFixture;
before(async () => {
  fx = await engineFixture('eng-ctr');
});
after(async () => {
  await fx?.cleanup.sweepPrefix(fx.prefix);
  await fx?.cleanup.run();
});

const isCode = (code: string, status: number) => (e: unknown) => e instanceof EngineError && e.code === code && e.statusCode === status;

async function collect(stream: NodeJS.ReadableStream & import('node:stream').Readable, tty = false) {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const r: Buffer[] = [];
  out.on('data', (c: Buffer) => o.push(c));
  err.on('data', (c: Buffer) => r.push(c));
  await demuxStream(stream, out, err, { tty });
  return { out: Buffer.concat(o).toString(), err: Buffer.concat(r).toString() };
}

test('create, start (204 then 304 = already started), wait, logs, remove', async () => {
  const name = `${fx.prefix}-a`;
  const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['sh', '-c', 'echo out; echo err >&2; sleep 1; exit 7'], Labels: { 'io.nestling.test': fx.prefix } }, { name });
  fx.cleanup.add('container', c.Id);
  assert.match(c.Id, /^[0-9a-f]{64}$/);
  assert.equal(await startContainer(fx.engine, c.Id), 'started');
  assert.equal(await startContainer(fx.engine, name), 'already started');
  const w = await waitContainer(fx.engine, c.Id);
  assert.equal(w.StatusCode, 7);
  const logs = await collect(await containerLogs(fx.engine, c.Id));
  assert.equal(logs.out, 'out\n');
  assert.equal(logs.err, 'err\n');
  const onlyOut = await collect(await containerLogs(fx.engine, c.Id, { stderr: false, timestamps: true }));
  assert.match(onlyOut.out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z out\n$/);
  assert.equal(onlyOut.err, '');
  const ins = await inspectContainer(fx.engine, name);
  assert.equal(ins.State.ExitCode, 7);
  assert.equal(ins.State.Status, 'exited');
  assert.equal(ins.Config.Labels?.['io.nestling.test'], fx.prefix);
  const listed = await listContainers(fx.engine, { all: true, filters: { label: [`io.nestling.test=${fx.prefix}`] } });
  assert.deepEqual(listed.map((x) => x.Id), [c.Id]);
  assert.equal(await removeContainer(fx.engine, c.Id), 'removed');
  await assert.rejects(inspectContainer(fx.engine, c.Id), isCode('E_ENGINE_NOT_FOUND', 404));
});

test('logs with follow stream until the container exits; a TTY container logs raw bytes', async () => {
  const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.2; done'] }, { name: `${fx.prefix}-f` });
  fx.cleanup.add('container', c.Id);
  await startContainer(fx.engine, c.Id);
  const logs = await collect(await containerLogs(fx.engine, c.Id, { follow: true }));
  assert.equal(logs.out, 'tick 1\ntick 2\ntick 3\n');
  const t = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['echo', 'on a tty'], Tty: true }, { name: `${fx.prefix}-t` });
  fx.cleanup.add('container', t.Id);
  await startContainer(fx.engine, t.Id);
  await waitContainer(fx.engine, t.Id);
  const raw = await collect(await containerLogs(fx.engine, t.Id), true);
  assert.equal(raw.out, 'on a tty\r\n');
});

test('status tables: 409 name conflict, 404 no such image (nothing pulled), 404 on start, 409 kill of a stopped container, 409 remove of a running one, 304 stop', async () => {
  const name = `${fx.prefix}-dup`;
  const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['sleep', '30'] }, { name });
  fx.cleanup.add('container', c.Id);
  await assert.rejects(createContainer(fx.engine, { Image: BUSYBOX }, { name }), isCode('E_ENGINE_CONFLICT', 409));
  await assert.rejects(createContainer(fx.engine, { Image: `${fx.prefix}/no-such-image:1` }), isCode('E_ENGINE_NOT_FOUND', 404));
  await assert.rejects(startContainer(fx.engine, `${fx.prefix}-missing`), (e: unknown) => isCode('E_ENGINE_NOT_FOUND', 404)(e) && /No such container/.test((e as EngineError).engineMessage ?? ''));
  await assert.rejects(killContainer(fx.engine, c.Id), isCode('E_ENGINE_CONFLICT', 409));
  await startContainer(fx.engine, c.Id);
  await assert.rejects(removeContainer(fx.engine, c.Id), isCode('E_ENGINE_CONFLICT', 409));
  assert.equal(await stopContainer(fx.engine, c.Id, { t: 0 }), 'stopped');
  assert.equal(await stopContainer(fx.engine, c.Id, { t: 0 }), 'already stopped');
  assert.equal(await removeContainer(fx.engine, c.Id, { force: true }), 'removed');
});

test('an aborted signal stops a wait', async () => {
  const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['sleep', '30'] }, { name: `${fx.prefix}-ab` });
  fx.cleanup.add('container', c.Id);
  await startContainer(fx.engine, c.Id);
  const ac = new AbortController();
  const p = waitContainer(fx.engine, c.Id, { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(p, (e: unknown) => (e as Error).name === 'AbortError');
  await removeContainer(fx.engine, c.Id, { force: true });
});
