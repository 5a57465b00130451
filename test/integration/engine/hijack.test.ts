/**
 * attach and exec start, hijacked, in both forms (101 upgrade and 200 raw stream), with stdin and half-close,
 * against the real dockerd: this is the evidence of the daemon's behaviour that the wire tests cannot give.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, type Readable } from 'node:stream';
import { attachContainer, createContainer, inspectContainer, startContainer, waitContainer } from '../../../src/engine/endpoints/containers.js';
import { execCreate, execInspect, execStart, execStartDetached } from '../../../src/engine/endpoints/exec.js';
import { demuxStream } from '../../../src/engine/stream/demux.js';
import { EngineError } from '../../../src/util/errors.js';
import { BUSYBOX, engineFixture, type EngineFixture } from './setup.js';

let fx: EngineFixture;
before(async () => {
  fx = await engineFixture('eng-hij');
});
after(async () => {
  await fx?.cleanup.sweepPrefix(fx.prefix);
  await fx?.cleanup.run();
});

async function collect(stream: Readable, tty = false) {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const r: Buffer[] = [];
  out.on('data', (c: Buffer) => o.push(c));
  err.on('data', (c: Buffer) => r.push(c));
  await demuxStream(stream, out, err, { tty });
  return { out: Buffer.concat(o).toString(), err: Buffer.concat(r).toString() };
}

for (const upgrade of [true, false]) {
  const form = upgrade ? '101 upgrade' : '200 raw stream';

  test(`attach (${form}): stdin reaches the container, closeWrite() is its EOF, output and exit code come back`, async () => {
    const c = await createContainer(
      fx.engine,
      { Image: BUSYBOX, Cmd: ['sh', '-c', 'n=0; while read l; do n=$((n+1)); echo "got $l"; done; echo "lines $n" >&2; exit 5'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true },
      { name: `${fx.prefix}-att-${upgrade ? 'u' : 'r'}` },
    );
    fx.cleanup.add('container', c.Id);
    const h = await attachContainer(fx.engine, c.Id, { stdin: true, stdout: true, stderr: true, upgrade });
    assert.equal(h.upgraded, upgrade);
    assert.equal(h.statusCode, upgrade ? 101 : 200);
    const output = collect(h.stream);
    await startContainer(fx.engine, c.Id);
    h.stream.write('one\n');
    h.stream.write('two\n');
    h.closeWrite();
    const r = await output;
    assert.equal(r.out, 'got one\ngot two\n');
    assert.equal(r.err, 'lines 2\n');
    assert.equal((await waitContainer(fx.engine, c.Id)).StatusCode, 5);
  });

  test(`exec start (${form}): stdin + half-close, multiplexed output, exit code via inspect`, async () => {
    const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['sleep', '60'] }, { name: `${fx.prefix}-ex-${upgrade ? 'u' : 'r'}` });
    fx.cleanup.add('container', c.Id);
    await startContainer(fx.engine, c.Id);
    const ex = await execCreate(fx.engine, c.Id, { Cmd: ['sh', '-c', 'cat; echo done >&2; exit 3'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const h = await execStart(fx.engine, ex.Id, { upgrade });
    assert.equal(h.upgraded, upgrade);
    const output = collect(h.stream);
    h.stream.write('payload ');
    h.stream.write(Buffer.alloc(70_000, 'x'));
    h.closeWrite();
    const r = await output;
    assert.equal(r.out, 'payload ' + 'x'.repeat(70_000));
    assert.equal(r.err, 'done\n');
    const ins = await execInspect(fx.engine, ex.Id);
    assert.equal(ins.Running, false);
    assert.equal(ins.ExitCode, 3);
  });
}

test('exec with a TTY: raw bytes, no frames', async () => {
  const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['sleep', '60'] }, { name: `${fx.prefix}-tty` });
  fx.cleanup.add('container', c.Id);
  await startContainer(fx.engine, c.Id);
  const ex = await execCreate(fx.engine, c.Id, { Cmd: ['echo', 'hello tty'], AttachStdout: true, AttachStderr: true, Tty: true });
  const h = await execStart(fx.engine, ex.Id, { tty: true });
  const r = await collect(h.stream, true);
  assert.equal(r.out, 'hello tty\r\n');
  assert.equal((await execInspect(fx.engine, ex.Id)).ExitCode, 0);
});

test('a detached exec, and the 409 for an exec in a stopped container', async () => {
  const c = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['sleep', '60'] }, { name: `${fx.prefix}-det` });
  fx.cleanup.add('container', c.Id);
  await startContainer(fx.engine, c.Id);
  const ex = await execCreate(fx.engine, c.Id, { Cmd: ['sh', '-c', 'exit 4'] });
  await execStartDetached(fx.engine, ex.Id);
  let ins = await execInspect(fx.engine, ex.Id);
  for (let i = 0; i < 50 && ins.Running; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ins = await execInspect(fx.engine, ex.Id);
  }
  assert.equal(ins.ExitCode, 4);
  const stopped = await createContainer(fx.engine, { Image: BUSYBOX, Cmd: ['true'] }, { name: `${fx.prefix}-stp` });
  fx.cleanup.add('container', stopped.Id);
  await assert.rejects(execCreate(fx.engine, stopped.Id, { Cmd: ['true'] }), (e: unknown) => e instanceof EngineError && e.statusCode === 409 && e.code === 'E_ENGINE_CONFLICT');
  assert.equal((await inspectContainer(fx.engine, stopped.Id)).State.Running, false);
});

test('attach to a missing container, in both forms: the daemon\'s 404 as an EngineError', async () => {
  for (const upgrade of [true, false]) {
    await assert.rejects(attachContainer(fx.engine, `${fx.prefix}-nope`, { upgrade }), (e: unknown) => {
      assert.ok(e instanceof EngineError, String(e));
      assert.equal(e.statusCode, 404);
      assert.equal(e.code, 'E_ENGINE_NOT_FOUND');
      assert.match(e.engineMessage ?? '', /No such container/);
      return true;
    });
  }
});
