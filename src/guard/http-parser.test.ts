import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedDecoder, HttpParseError, endToEndHeaders, parseRequestHead, parseResponseHead } from './http-parser.js';

const b = (s: string) => Buffer.from(s, 'latin1');

function status(s: string, max?: number): number | 'ok' | 'incomplete' {
  try {
    return parseRequestHead(b(s), max) ? 'ok' : 'incomplete';
  } catch (e) {
    assert.ok(e instanceof HttpParseError, `unexpected error ${String(e)}`);
    return e.status;
  }
}

describe('parseRequestHead', () => {
  it('parses a plain request', () => {
    const h = parseRequestHead(b('GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: docker\r\nX-A: 1\r\nx-a: 2\r\n\r\nrest'))!;
    assert.equal(h.method, 'GET');
    assert.equal(h.target, '/v1.41/containers/json?all=1');
    assert.equal(h.version, '1.1');
    assert.equal(h.headers['x-a'], '1, 2');
    assert.deepEqual(h.framing, { type: 'none' });
    assert.equal(h.keepAlive, true);
    assert.equal(h.headBytes, b('GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: docker\r\nX-A: 1\r\nx-a: 2\r\n\r\n').length);
  });
  it('waits for more bytes', () => {
    assert.equal(status('GET / HTTP/1.1\r\nHost: x\r\n'), 'incomplete');
  });
  it('reads framing', () => {
    assert.deepEqual(parseRequestHead(b('POST /x HTTP/1.1\r\nContent-Length: 12\r\n\r\n'))!.framing, { type: 'length', length: 12 });
    assert.deepEqual(parseRequestHead(b('POST /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n'))!.framing, { type: 'chunked' });
  });
  it('HTTP/1.0 closes by default', () => {
    assert.equal(parseRequestHead(b('GET /_ping HTTP/1.0\r\n\r\n'))!.keepAlive, false);
    assert.equal(parseRequestHead(b('GET /_ping HTTP/1.1\r\nConnection: close\r\n\r\n'))!.keepAlive, false);
  });
  it('accepts the upgrade form and expect 100-continue', () => {
    const h = parseRequestHead(b('POST /containers/x/attach HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nExpect: 100-continue\r\n\r\n'))!;
    assert.equal(h.upgrade, 'tcp');
    assert.equal(h.expectContinue, true);
    assert.equal(h.keepAlive, false);
  });
  const refused: [string, string, number][] = [
    ['bare LF in the head', 'GET / HTTP/1.1\nHost: x\r\n\r\n', 400],
    ['bare LF between headers', 'GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n', 400],
    ['obs-fold', 'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n', 400],
    ['space before colon', 'GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n', 400],
    ['CL and TE', 'POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['duplicate CL, same value', 'POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', 400],
    ['duplicate CL, different', 'POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n', 400],
    ['CL list', 'POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n', 400],
    ['CL sign', 'POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n', 400],
    ['CL hex', 'POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n', 400],
    ['CL huge', 'POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n', 400],
    ['TE gzip', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
    ['TE twice', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['TE with junk', 'POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n', 501],
    ['TE in 1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['absolute form', 'GET http://docker/containers/json HTTP/1.1\r\n\r\n', 400],
    ['asterisk form', 'OPTIONS * HTTP/1.1\r\n\r\n', 400],
    ['space in target', 'GET /a b HTTP/1.1\r\n\r\n', 400],
    ['non-ASCII target', 'GET /caf\xe9 HTTP/1.1\r\n\r\n', 400],
    ['HTTP/2', 'GET / HTTP/2.0\r\n\r\n', 505],
    ['HTTP/0.9 style', 'GET /\r\n\r\n', 400],
    ['lowercase version', 'GET / http/1.1\r\n\r\n', 400],
    ['NUL in value', 'GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n', 400],
    ['CR in value', 'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n', 400],
    ['empty header name', 'GET / HTTP/1.1\r\n: x\r\n\r\n', 400],
    ['bad header name', 'GET / HTTP/1.1\r\nX(y): z\r\n\r\n', 400],
    ['duplicate Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['Upgrade without Connection', 'GET / HTTP/1.1\r\nUpgrade: tcp\r\n\r\n', 400],
    ['Connection: upgrade without Upgrade', 'GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n', 400],
    ['unknown expectation', 'POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n', 417],
    ['double space in request line', 'GET  / HTTP/1.1\r\n\r\n', 400],
  ];
  for (const [name, raw, st] of refused) {
    it(`refuses ${name} with ${st}`, () => assert.equal(status(raw), st));
  }
  it('refuses an oversized head (431), also before the head is complete', () => {
    assert.equal(status(`GET / HTTP/1.1\r\nX: ${'a'.repeat(2000)}\r\n\r\n`, 1024), 431);
    assert.equal(status(`GET / HTTP/1.1\r\nX: ${'a'.repeat(2000)}`, 1024), 431);
  });
});

describe('ChunkedDecoder', () => {
  const decode = (s: string, step = 0) => {
    const d = new ChunkedDecoder();
    const out: Buffer[] = [];
    const buf = b(s);
    if (step) for (let i = 0; i < buf.length; i += step) out.push(...d.push(buf.subarray(i, i + step)));
    else out.push(...d.push(buf));
    return { data: Buffer.concat(out).toString('latin1'), done: d.done, rest: d.rest.toString('latin1') };
  };
  it('decodes, split anywhere', () => {
    const raw = '5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\nGET /next';
    for (const step of [0, 1, 2, 3, 7]) {
      assert.deepEqual(decode(raw, step), { data: 'hello world', done: true, rest: 'GET /next' }, `step ${step}`);
    }
  });
  it('is not done before the final CRLF', () => {
    assert.equal(decode('5\r\nhello\r\n0\r\n').done, false);
  });
  const bad: [string, string][] = [
    ['size with 0x', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['negative size', '-1\r\nx\r\n0\r\n\r\n'],
    ['size with spaces inside', '5 5\r\nhello\r\n0\r\n\r\n'],
    ['missing CRLF after data', '5\r\nhelloX\r\n0\r\n\r\n'],
    ['bare LF after size', '5\nhello\r\n0\r\n\r\n'],
    ['empty size', '\r\nhello\r\n'],
    ['huge size', 'fffffffffffffffff\r\n'],
    ['bad trailer', '0\r\nbad trailer\r\n\r\n'],
  ];
  for (const [name, raw] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => decode(raw), (e: unknown) => e instanceof HttpParseError && e.status === 400));
  }
});

describe('parseResponseHead / endToEndHeaders', () => {
  it('parses a 101', () => {
    const h = parseResponseHead(b('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\x01\x00'))!;
    assert.equal(h.status, 101);
    assert.equal(h.headers.upgrade, 'tcp');
  });
  it('strips hop-by-hop headers and those named by Connection', () => {
    const out = endToEndHeaders(
      [
        ['Connection', 'close, X-Secret-Hop'],
        ['X-Secret-Hop', '1'],
        ['Keep-Alive', 'timeout=5'],
        ['Transfer-Encoding', 'chunked'],
        ['X-Registry-Auth', 'abc'],
        ['Content-Type', 'application/json'],
      ],
      'close, X-Secret-Hop',
    );
    assert.deepEqual(out, [
      ['X-Registry-Auth', 'abc'],
      ['Content-Type', 'application/json'],
    ]);
  });
});

describe('parser fuzz (mutated requests): only HttpParseError, and accepted heads are self-consistent', () => {
  const seeds = [
    'GET /v1.41/containers/json HTTP/1.1\r\nHost: docker\r\n\r\n',
    'POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
    'POST /build HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n',
    'POST /containers/x/attach?stream=1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
  ];
  const alphabet = ['\r', '\n', ' ', '\t', ':', ',', '0', 'a', '\x00', '\x7f', '\xff', 'Content-Length: 1\r\n', 'Transfer-Encoding: chunked\r\n', '\r\n\r\n'];
  // deterministic PRNG: failures reproduce
  let seed = 0x9e3779b9;
  const rnd = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  it('5000 mutated heads', () => {
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      let s = seeds[rnd(seeds.length)]!;
      const edits = 1 + rnd(4);
      for (let k = 0; k < edits; k++) {
        const at = rnd(s.length + 1);
        const op = rnd(3);
        const ins = alphabet[rnd(alphabet.length)]!;
        if (op === 0) s = s.slice(0, at) + ins + s.slice(at);
        else if (op === 1) s = s.slice(0, at) + s.slice(at + 1 + rnd(3));
        else s = s.slice(0, at) + ins + s.slice(at + 1);
      }
      let h;
      try {
        h = parseRequestHead(b(s));
      } catch (e) {
        assert.ok(e instanceof HttpParseError, `non-parse error on ${JSON.stringify(s)}: ${String(e)}`);
        assert.ok(e.status >= 400 && e.status < 600);
        continue;
      }
      if (!h) continue;
      accepted++;
      const head = s.slice(0, h.headBytes);
      assert.ok(!/[^\r]\n/.test(head), `accepted a bare LF: ${JSON.stringify(s)}`);
      assert.ok(!(h.headers['content-length'] !== undefined && h.headers['transfer-encoding'] !== undefined));
      if (h.framing.type === 'length') assert.match(h.headers['content-length']!, /^\d+$/);
      if (h.framing.type === 'chunked') assert.equal(h.headers['transfer-encoding']!.toLowerCase(), 'chunked');
      assert.ok(h.target.startsWith('/'));
    }
    assert.ok(accepted > 100, `the fuzzer should also produce valid heads (got ${accepted})`);
  });
  it('3000 random chunked bodies: decoded data or HttpParseError, never anything else', () => {
    for (let i = 0; i < 3000; i++) {
      let s = '3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n';
      for (let k = 0; k < 1 + rnd(3); k++) {
        const at = rnd(s.length);
        s = s.slice(0, at) + alphabet[rnd(alphabet.length)]! + s.slice(at + 1);
      }
      const d = new ChunkedDecoder();
      try {
        const out = Buffer.concat(d.push(b(s))).toString('latin1');
        if (d.done) assert.ok(out.length <= 7);
      } catch (e) {
        assert.ok(e instanceof HttpParseError, String(e));
      }
    }
  });
});

describe('head parsing fast paths (the same answers as line by line)', () => {
  it('response framing headers match the headers record: mixed case, repeated, hop-by-hop counted', () => {
    const h = parseResponseHead(b('HTTP/1.1 200 OK\r\nCONTENT-length: 2\r\nconnection: keep-alive\r\nConnection: X-A\r\nTe: x\r\nDocker-Experimental: false\r\nX-A: 1\r\n\r\nOK'))!;
    assert.equal(h.contentLength, h.headers['content-length']);
    assert.equal(h.connection, 'keep-alive, X-A');
    assert.equal(h.transferEncoding, undefined);
    assert.equal(h.hopByHop, 4);
    assert.equal(h.hopByHop, h.rawHeaders.length - endToEndHeaders(h.rawHeaders, undefined).length);
  });
  it('status lines: no reason, an empty reason, a CR or LF inside, a bad version', () => {
    assert.equal(parseResponseHead(b('HTTP/1.1 204\r\n\r\n'))!.statusText, '');
    assert.equal(parseResponseHead(b('HTTP/1.0 200 \r\nA: b\r\n\r\n'))!.statusText, '');
    assert.equal(parseResponseHead(b('HTTP/1.1 404 Not Found\r\n\r\n'))!.status, 404);
    for (const bad of ['HTTP/1.1 200 O\rK\r\n\r\n', 'HTTP/1.1 200 O\nK\r\n\r\n', 'HTTP/1.2 200 OK\r\n\r\n', 'HTTP/1.1 20 OK\r\n\r\n', 'HTTP/1.1  200 OK\r\n\r\n', 'HTTP/1.1 200OK\r\n\r\n']) {
      assert.throws(() => parseResponseHead(b(bad)), (e: unknown) => e instanceof HttpParseError && e.status === 502, bad);
    }
  });
  it('a header block with one bad line gets the line-by-line error', () => {
    assert.throws(() => parseRequestHead(b('GET / HTTP/1.1\r\nA: 1\r\nB\x01: 2\r\n\r\n')), /malformed header name/);
    assert.throws(() => parseRequestHead(b('GET / HTTP/1.1\r\nA: 1\r\nB: \x01\r\n\r\n')), /control character in header B/);
    assert.throws(() => parseRequestHead(b('GET / HTTP/1.1\r\nA: 1\r\n B: 2\r\n\r\n')), /obsolete line folding/);
    assert.deepEqual(parseRequestHead(b('GET / HTTP/1.1\r\nA: \t 1 \t\r\nB:\r\nC:x:y\r\n\r\n'))!.rawHeaders, [
      ['A', '1'],
      ['B', ''],
      ['C', 'x:y'],
    ]);
  });
  it('request heads past the 8 KiB text window: parsed, refused as too large, bare LF found', () => {
    const pad = `X-Pad: ${'a'.repeat(9000)}\r\n`;
    assert.equal(parseRequestHead(b(`GET / HTTP/1.1\r\n${pad}\r\n`))!.rawHeaders[0]![1].length, 9000);
    assert.equal(status(`GET / HTTP/1.1\r\n${pad}`), 'incomplete');
    assert.equal(status(`GET / HTTP/1.1\r\n${pad}\r\n`, 8192), 431);
    assert.equal(status(`GET / HTTP/1.1\r\n${pad}`, 8192), 431);
    assert.equal(status(`GET / HTTP/1.1\r\n${pad}X: 1\nY: 2\r\n\r\n`), 400);
    // the end of the head straddling the window's edge
    for (let n = 8170; n < 8200; n++) assert.equal(status(`GET / HTTP/1.1\r\nX: ${'a'.repeat(n - 21)}\r\n\r\nbody`), 'ok', String(n));
  });
  it('request lines: two single spaces, no empty parts', () => {
    for (const bad of ['GET  / HTTP/1.1', 'GET / HTTP/1.1 ', ' GET / HTTP/1.1', 'GET /HTTP/1.1', 'GET / HTTP/1.x', 'GET / HTTP/11', 'GET\t/ HTTP/1.1']) {
      assert.equal(status(`${bad}\r\n\r\n`), 400, bad);
    }
    assert.equal(status('GET / HTTP/2.0\r\n\r\n'), 505);
    assert.equal(status('GET / HTTP/1.0\r\n\r\n'), 'ok');
  });
});
