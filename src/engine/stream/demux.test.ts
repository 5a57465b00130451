import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import { FrameParser, demuxStream, encodeFrame, StreamType } from './demux.js';
import { EngineError } from '../../util/errors.js';

const collect = () => {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  return { w, text: () => Buffer.concat(chunks).toString() };
};

describe('FrameParser', () => {
  test('frames split at every byte boundary, headers included', () => {
    const wire = Buffer.concat([encodeFrame(1, 'hello'), encodeFrame(2, 'err!'), encodeFrame(1, ''), encodeFrame(1, 'x'.repeat(300))]);
    for (let cut = 1; cut < wire.length; cut += 7) {
      const p = new FrameParser();
      const frames = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))];
      assert.deepEqual(frames.map((f) => [f.stream, f.payload.toString()]), [
        [1, 'hello'],
        [2, 'err!'],
        [1, ''],
        [1, 'x'.repeat(300)],
      ]);
      assert.equal(p.pending, 0);
    }
  });
  test('one byte at a time', () => {
    const wire = Buffer.concat([encodeFrame(1, 'ab'), encodeFrame(2, 'cd')]);
    const p = new FrameParser();
    const out: string[] = [];
    for (const b of wire) for (const f of p.push(Buffer.from([b]))) out.push(`${f.stream}:${f.payload.toString()}`);
    assert.deepEqual(out, ['1:ab', '2:cd']);
  });
  test('a header-only zero-length frame is complete', () => {
    const p = new FrameParser();
    assert.deepEqual(p.push(encodeFrame(2, '')).map((f) => [f.stream, f.payload.length]), [[2, 0]]);
  });
  test('pending counts a read header', () => {
    const p = new FrameParser();
    p.push(encodeFrame(1, 'abcdef').subarray(0, 10));
    assert.equal(p.pending, 10);
  });
  test('TTY bytes are refused with a hint', () => {
    assert.throws(() => new FrameParser().push(Buffer.from('hello world\n')), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_STREAM_FORMAT' && /tty/i.test(e.hint ?? ''));
  });
});

describe('demuxStream', () => {
  test('routes stdout frames to stdout and stderr frames to stderr', async () => {
    const out = collect();
    const err = collect();
    await demuxStream(Readable.from([encodeFrame(1, 'o1'), encodeFrame(2, 'e1'), encodeFrame(1, 'o2')]), out.w, err.w);
    assert.equal(out.text(), 'o1o2');
    assert.equal(err.text(), 'e1');
  });
  test('a systemerr frame rejects with the daemon message', async () => {
    const out = collect();
    await assert.rejects(demuxStream(Readable.from([encodeFrame(1, 'o'), encodeFrame(StreamType.systemerr, 'boom')]), out.w, out.w), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_STREAM_ERROR' && /boom/.test(e.message));
  });
  test('ending inside a frame rejects', async () => {
    const out = collect();
    await assert.rejects(demuxStream(Readable.from([encodeFrame(1, 'abcdef').subarray(0, 11)]), out.w, out.w), /inside a frame/);
  });
  test('tty mode copies raw bytes', async () => {
    const out = collect();
    await demuxStream(Readable.from([Buffer.from('raw '), Buffer.from('tty')]), out.w, out.w, { tty: true });
    assert.equal(out.text(), 'raw tty');
  });
  test('backpressure: the source is paused while a target refuses writes, and nothing is lost', async () => {
    const source = new PassThrough();
    // A slow target: highWaterMark 1 byte, and each write completes only when we release it.
    const pendingCbs: (() => void)[] = [];
    const received: Buffer[] = [];
    const slow = new Writable({
      highWaterMark: 1,
      write(c: Buffer, _e, cb) {
        received.push(c);
        pendingCbs.push(cb);
      },
    });
    const err = collect();
    const done = demuxStream(source, slow, err.w);
    source.write(Buffer.concat([encodeFrame(1, 'aaaa'), encodeFrame(1, 'bbbb')]));
    await new Promise((r) => setImmediate(r));
    assert.equal(source.isPaused(), true, 'source paused while the target is full');
    source.end(encodeFrame(1, 'cccc'));
    await new Promise((r) => setImmediate(r));
    assert.equal(received.length, 1, 'only the first write reached the target; the rest waits in the writable buffer');
    while (pendingCbs.length || !source.readableEnded) {
      const cb = pendingCbs.shift();
      if (cb) cb();
      await new Promise((r) => setImmediate(r));
    }
    await done;
    assert.equal(Buffer.concat(received).toString(), 'aaaabbbbcccc');
  });
  test('a source destroyed without end rejects (no silent truncation)', async () => {
    const source = new PassThrough();
    const out = collect();
    const p = demuxStream(source, out.w, out.w);
    source.write(encodeFrame(1, 'x'));
    source.destroy();
    await assert.rejects(p, (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_STREAM_CLOSED');
  });
});
