/**
 * Wire tests (undici style): a raw net server writes exact bytes. They test our framing only — the daemon's real
 * behaviour is covered by test/integration/engine/hijack.test.ts.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hijackEndpoint, parseResponseHead } from './hijack.js';
import { demuxStream, encodeFrame } from './demux.js';
import { EngineError } from '../../util/errors.js';
import type { EngineEndpoint } from '../transport.js';
import { PassThrough } from 'node:stream';

let dir: string;
let n = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nst-hijack-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A server that reads one request head, hands it and the socket to `script`. */
async function rawServer(script: (sock: net.Socket, head: string, bodyStart: Buffer) => void): Promise<{ ep: EngineEndpoint; close: () => void }> {
  const path = join(dir, `s${n++}.sock`);
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      sock.pause();
      script(sock, buf.subarray(0, end).toString('latin1'), buf.subarray(end + 4));
    };
    sock.on('data', onData);
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { ep: { kind: 'unix', socketPath: path, url: `unix://${path}`, source: 'test' }, close: () => server.close() };
}

const UPGRADE_HEAD = 'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n';
const RAW_HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n';

async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('hijack: request', () => {
  test('the upgrade form sends Connection: Upgrade + Upgrade: tcp; the raw form does not', async () => {
    const heads: string[] = [];
    const srv = await rawServer((sock, head) => {
      heads.push(head);
      sock.end(head.includes('Upgrade: tcp') ? UPGRADE_HEAD : RAW_HEAD);
    });
    try {
      const a = await hijackEndpoint(srv.ep, '/v1.41/containers/x/attach?stream=1', { upgrade: true });
      a.stream.resume();
      const b = await hijackEndpoint(srv.ep, '/v1.41/containers/x/attach?stream=1', { upgrade: false });
      b.stream.resume();
      assert.match(heads[0]!, /^POST \/v1\.41\/containers\/x\/attach\?stream=1 HTTP\/1\.1\r\n/);
      assert.match(heads[0]!, /\r\nConnection: Upgrade\r\nUpgrade: tcp/);
      assert.doesNotMatch(heads[1]!, /Upgrade/i);
      assert.equal(a.upgraded, true);
      assert.equal(a.statusCode, 101);
      assert.equal(b.upgraded, false);
      assert.equal(b.statusCode, 200);
      assert.equal(b.headers['content-type'], 'application/vnd.docker.raw-stream');
    } finally {
      srv.close();
    }
  });
  test('a JSON body (exec start) is sent with its Content-Length', async () => {
    let got = '';
    const srv = await rawServer((sock, head, body) => {
      got = head + '|' + body.toString();
      sock.end(UPGRADE_HEAD);
    });
    try {
      const h = await hijackEndpoint(srv.ep, '/v1.41/exec/e/start', { body: { Detach: false, Tty: true } });
      h.stream.resume();
      assert.match(got, /Content-Type: application\/json\r\nContent-Length: 27/);
      assert.match(got, /\|\{"Detach":false,"Tty":true\}$/);
    } finally {
      srv.close();
    }
  });
});

describe('hijack: response framing', () => {
  test('101 + stream bytes in the same write as the head are put back, for a data listener and for pipe()', async () => {
    const payload = Buffer.concat([encodeFrame(1, 'early-out'), encodeFrame(2, 'early-err')]);
    const srv = await rawServer((sock) => sock.end(Buffer.concat([Buffer.from(UPGRADE_HEAD), payload])));
    try {
      const h = await hijackEndpoint(srv.ep, '/v1.41/containers/x/attach');
      const out = new PassThrough();
      const err = new PassThrough();
      const outText = readAll(out);
      const errText = readAll(err);
      await demuxStream(h.stream, out, err);
      out.end();
      err.end();
      assert.equal(await outText, 'early-out');
      assert.equal(await errText, 'early-err');
      const h2 = await hijackEndpoint(srv.ep, '/v1.41/containers/x/attach');
      const sink = new PassThrough();
      h2.stream.pipe(sink);
      assert.equal((await readAll(sink)).length, payload.length);
    } finally {
      srv.close();
    }
  });
  test('a head split byte by byte, then the stream', async () => {
    const srv = await rawServer((sock) => {
      const bytes = Buffer.from(RAW_HEAD + 'tty bytes');
      let i = 0;
      const tick = () => {
        if (i < bytes.length) {
          sock.write(bytes.subarray(i, i + 1));
          i++;
          setImmediate(tick);
        } else sock.end();
      };
      tick();
    });
    try {
      const h = await hijackEndpoint(srv.ep, '/v1.41/containers/x/attach', { upgrade: false });
      assert.equal(await readAll(h.stream), 'tty bytes');
    } finally {
      srv.close();
    }
  });
  test('stdin half-close: closeWrite() gives the server EOF, and reading goes on afterwards', async () => {
    const srv = await rawServer((sock, _head, early) => {
      sock.write(UPGRADE_HEAD);
      const got: Buffer[] = [early];
      sock.on('data', (c: Buffer) => got.push(c));
      sock.on('end', () => {
        // Only after our EOF: answer with what we received, then close.
        setTimeout(() => sock.end(encodeFrame(1, `got:${Buffer.concat(got).toString()}`)), 20);
      });
      sock.resume();
    });
    try {
      const h = await hijackEndpoint(srv.ep, '/v1.41/containers/x/attach?stdin=1');
      h.stream.write('line1\n');
      h.stream.write('line2\n');
      h.closeWrite();
      const out = new PassThrough();
      const text = readAll(out);
      await demuxStream(h.stream, out, out);
      out.end();
      assert.equal(await text, 'got:line1\nline2\n');
    } finally {
      srv.close();
    }
  });
});

describe('hijack: errors', () => {
  test('404 with a JSON body and Content-Length: EngineError with the daemon message and the table code', async () => {
    const body = '{"message":"No such container: nope"}';
    const srv = await rawServer((sock) => sock.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    try {
      await assert.rejects(hijackEndpoint(srv.ep, '/v1.41/containers/nope/attach', { errors: { 404: { code: 'E_ENGINE_NOT_FOUND', meaning: 'no such container' } } }), (e: unknown) => {
        assert.ok(e instanceof EngineError);
        assert.equal(e.code, 'E_ENGINE_NOT_FOUND');
        assert.equal(e.statusCode, 404);
        assert.equal(e.engineMessage, 'No such container: nope');
        return true;
      });
    } finally {
      srv.close();
    }
  });
  test('409 with a chunked body, the connection kept open', async () => {
    const msg = '{"message":"container is not running"}';
    const srv = await rawServer((sock) =>
      sock.write(`HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n${msg.length.toString(16)}\r\n${msg}\r\n0\r\n\r\n`),
    );
    try {
      await assert.rejects(hijackEndpoint(srv.ep, '/v1.41/exec/e/start'), (e: unknown) => e instanceof EngineError && e.statusCode === 409 && e.code === 'E_ENGINE_CONFLICT' && e.engineMessage === 'container is not running');
    } finally {
      srv.close();
    }
  });
  test('an upgrade nobody asked for kills the socket', async () => {
    const srv = await rawServer((sock) => sock.end(UPGRADE_HEAD + 'junk'));
    try {
      await assert.rejects(hijackEndpoint(srv.ep, '/v1.41/containers/x/attach', { upgrade: false }), /no upgrade was asked for/);
    } finally {
      srv.close();
    }
  });
  test('a connection closed before any answer, and a malformed head', async () => {
    const srv = await rawServer((sock) => sock.end());
    const srv2 = await rawServer((sock) => sock.end('SPDY/9 what\r\n\r\n'));
    try {
      await assert.rejects(hijackEndpoint(srv.ep, '/v1.41/x'), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_BAD_RESPONSE');
      await assert.rejects(hijackEndpoint(srv2.ep, '/v1.41/x'), /malformed response head/);
    } finally {
      srv.close();
      srv2.close();
    }
  });
  test('nothing listening: E_ENGINE_UNREACHABLE', async () => {
    await assert.rejects(hijackEndpoint({ kind: 'unix', socketPath: join(dir, 'none.sock'), url: 'unix:///none', source: 't' }, '/v1.41/x'), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_UNREACHABLE');
  });
  test('abort before the answer destroys the socket', async () => {
    const srv = await rawServer(() => {});
    try {
      const ac = new AbortController();
      const p = hijackEndpoint(srv.ep, '/v1.41/x', { signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      await assert.rejects(p, (e: unknown) => (e as Error).name === 'AbortError');
    } finally {
      srv.close();
    }
  });
  test('a head timeout', async () => {
    const srv = await rawServer(() => {});
    try {
      await assert.rejects(hijackEndpoint(srv.ep, '/v1.41/x', { timeoutMs: 50 }), (e: unknown) => e instanceof EngineError && e.code === 'E_ENGINE_TIMEOUT');
    } finally {
      srv.close();
    }
  });
});

test('parseResponseHead: status, message, lower-cased headers, repeated headers joined', () => {
  const h = parseResponseHead('HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\nX-A: 1\r\nx-a: 2');
  assert.equal(h.statusCode, 101);
  assert.equal(h.statusMessage, 'UPGRADED');
  assert.deepEqual(h.headers, { upgrade: 'tcp', 'x-a': '1, 2' });
});
