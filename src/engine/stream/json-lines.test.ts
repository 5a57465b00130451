import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { JsonLinesParser, followProgress, readJsonLines } from './json-lines.js';
import { EngineError } from '../../util/errors.js';

describe('JsonLinesParser', () => {
  test('lines split across chunks at every offset, a multi-byte character included', () => {
    const wire = Buffer.from('{"stream":"Step 1/2 : FROM x\\n"}\r\n\n{"stream":"ünïcode ✓"}\n{"aux":{"ID":"sha256:abc"}}\n');
    for (let cut = 1; cut < wire.length; cut++) {
      const p = new JsonLinesParser();
      const out = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut)), ...p.end()];
      assert.deepEqual(out, [{ stream: 'Step 1/2 : FROM x\n' }, { stream: 'ünïcode ✓' }, { aux: { ID: 'sha256:abc' } }], `cut ${cut}`);
    }
  });
  test('a last line without newline is flushed by end()', () => {
    const p = new JsonLinesParser();
    assert.deepEqual(p.push('{"a":1}\n{"b":'), [{ a: 1 }]);
    assert.deepEqual(p.push('2}'), []);
    assert.deepEqual(p.end(), [{ b: 2 }]);
  });
  test('concatenated objects on one line, braces inside strings', () => {
    const p = new JsonLinesParser();
    assert.deepEqual(p.push('{"s":"}{"}{"t":"\\"}"}\n'), [{ s: '}{' }, { t: '"}' }]);
  });
  test('a line that is not JSON is an EngineError', () => {
    assert.throws(() => new JsonLinesParser().push('not json\n'), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_BAD_RESPONSE');
  });
  test('an endless line is bounded', () => {
    const p = new JsonLinesParser(64);
    assert.throws(() => p.push('{"a":"' + 'x'.repeat(100)), EngineError);
  });
});

describe('followProgress', () => {
  test('collects aux payloads and messages', async () => {
    const seen: string[] = [];
    const r = await followProgress(Readable.from(['{"stream":"a"}\n{"aux":{"ID":"sha256:1"}}\n', '{"stream":"b"}\n']), (m) => seen.push(m.stream ?? 'aux'));
    assert.deepEqual(r.aux, [{ ID: 'sha256:1' }]);
    assert.deepEqual(seen, ['a', 'aux', 'b']);
  });
  test('an error line becomes an EngineError with the errorDetail message', async () => {
    const src = Readable.from([
      '{"stream":"Step 2/2 : RUN false\\n"}\n',
      '{"errorDetail":{"code":1,"message":"The command \'/bin/sh -c false\' returned a non-zero code: 1"},"error":"The command \'/bin/sh -c false\' returned a non-zero code: 1"}\n',
    ]);
    await assert.rejects(followProgress(src, undefined, 'POST /build'), (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.code, 'E_ENGINE_PROGRESS_ERROR');
      assert.match(e.engineMessage ?? '', /non-zero code: 1/);
      assert.equal(e.route, 'POST /build');
      assert.deepEqual(e.details, { errorCode: 1 });
      return true;
    });
  });
  test('an error line with only "error"', async () => {
    await assert.rejects(followProgress(Readable.from(['{"error":"bad tar"}\n'])), /bad tar/);
  });
  test('readJsonLines yields across chunk boundaries', async () => {
    const out: unknown[] = [];
    for await (const v of readJsonLines(Readable.from([Buffer.from('{"x"'), Buffer.from(':1}\n{"y":2}')]))) out.push(v);
    assert.deepEqual(out, [{ x: 1 }, { y: 2 }]);
  });
});
