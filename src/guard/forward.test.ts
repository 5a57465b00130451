// Framing tests of the forward path (forward.ts) with a fake upstream that writes exact bytes: OUR framing only (head
// passthrough vs rebuild, chunked passthrough vs decode, close-delimited answers, upload re-framing, connection reuse
// and the retry of a GET on a connection the engine closed). Docker's behaviour is tested against the real daemon in
// test/integration/guard/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGuard, type GuardHandle } from './server.js';
import type { Decide, RouteDef } from './types.js';
import { defaultPolicy } from './policy.js';

const route = (kind: RouteDef['kind'], body: RouteDef['body'] = 'none'): RouteDef => ({ id: 'test', method: 'GET', path: '/x', area: 'system', kind, body });
const decide: Decide = (view) =>
  Promise.resolve(view.path.startsWith('/build') ? { action: 'forward', route: { ...route('upload', 'tar'), id: 'build' } } : { action: 'forward', route: route('plain') });

interface Seen {
  head: string;
  body: Buffer;
  conn: number;
}
/** Answers each request with the next scripted response; records each request (head, de-chunked body) and its connection. */
type Reply = (req: Seen, sock: net.Socket) => void;

describe('forward framing (fake upstream)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nst-fwd-'));
  const replies: Reply[] = [];
  const seen: Seen[] = [];
  let conns = 0;
  const upstream = net.createServer((sock) => {
    const conn = ++conns;
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const i = buf.indexOf('\r\n\r\n');
        if (i === -1) return;
        const head = buf.subarray(0, i).toString('latin1');
        let rest = buf.subarray(i + 4);
        let body = Buffer.alloc(0);
        const cl = /\r\ncontent-length: (\d+)/i.exec(head);
        if (cl) {
          if (rest.length < Number(cl[1])) return;
          body = rest.subarray(0, Number(cl[1]));
          rest = rest.subarray(Number(cl[1]));
        } else if (/\r\ntransfer-encoding: chunked/i.test(head)) {
          const parts: Buffer[] = [];
          let j = 0;
          for (;;) {
            const nl = rest.indexOf('\r\n', j);
            if (nl === -1) return;
            const n = parseInt(rest.subarray(j, nl).toString(), 16);
            if (rest.length < nl + 2 + n + 2) return;
            parts.push(rest.subarray(nl + 2, nl + 2 + n));
            j = nl + 2 + n + 2;
            if (n === 0) break;
          }
          body = Buffer.concat(parts);
          rest = rest.subarray(j);
        }
        buf = rest;
        const req = { head, body, conn };
        seen.push(req);
        const reply = replies.shift();
        if (reply) reply(req, sock);
        else sock.destroy();
      }
    });
    sock.on('error', () => {});
  });
  let g: GuardHandle;
  before(async () => {
    await new Promise<void>((r) => upstream.listen(join(dir, 'up.sock'), r));
    g = await startGuard({ upstream: `unix://${join(dir, 'up.sock')}`, listen: `unix://${join(dir, 'g.sock')}`, owner: 'fwd', decide, policy: defaultPolicy() });
  });
  after(async () => {
    await g.close();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends raw requests on one connection, reads until the guard closes it or `until` matches. */
  function exchange(reqs: string[], until?: RegExp): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(g.socketPath!);
      let out = '';
      const t = setTimeout(() => {
        s.destroy();
        resolve(out);
      }, 3000);
      s.on('connect', () => {
        for (const r of reqs) s.write(r);
      });
      s.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if (until?.test(out)) {
          clearTimeout(t);
          s.destroy();
          resolve(out);
        }
      });
      s.on('end', () => {
        clearTimeout(t);
        resolve(out);
      });
      s.on('error', reject);
    });
  }
  const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: docker\r\n${extra}\r\n`;

  it('a clean Content-Length answer goes out with the engine\'s head as received', async () => {
    const head = 'HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\n';
    replies.push((_r, s) => s.write(`${head}OK`));
    const out = await exchange([get('/_ping')], /OK$/);
    assert.equal(out, `${head}OK`);
  });

  it('hop-by-hop headers (and those Connection names) are stripped, the head rebuilt', async () => {
    replies.push((_r, s) => s.write('HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: 2\r\nContent-Length: 2\r\n\r\nOK'));
    const out = await exchange([get('/_ping')], /OK$/);
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(out, /\r\nX-Kept: 2\r\n/);
    assert.doesNotMatch(out, /X-Secret|Keep-Alive|Connection/i);
    assert.match(out, /\r\nContent-Length: 2\r\n\r\nOK$/);
  });

  it('an answer with both Content-Length and Transfer-Encoding is re-framed, never passed through with both', async () => {
    replies.push((_r, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n'));
    const out = await exchange([get('/_ping')], /0\r\n\r\n$/);
    assert.equal((out.match(/content-length/gi) ?? []).length, 0, out);
    assert.match(out, /\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n$/);
  });

  it('chunked answers pass through to HTTP/1.1 clients as received, and are decoded for HTTP/1.0 clients', async () => {
    const body = '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
    replies.push((_r, s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel');
      setTimeout(() => s.write(body.slice(6)), 20);
    });
    const out11 = await exchange([get('/events')], /0\r\n\r\n$/);
    assert.match(out11, /\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n$/);
    replies.push((_r, s) => s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`));
    const out10 = await exchange(['GET /events HTTP/1.0\r\n\r\n']);
    assert.match(out10, /\r\nConnection: close\r\n\r\nhello world$/);
    assert.doesNotMatch(out10, /chunked/i);
  });

  it('a close-delimited answer is chunked for the client, and that upstream connection is not reused', async () => {
    const before = conns;
    replies.push((_r, s) => s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end'));
    replies.push((_r, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'));
    const out = await exchange([get('/a'), get('/b')], /OK$/);
    assert.match(out, /Transfer-Encoding: chunked\r\n\r\nd\r\nuntil the end\r\n0\r\n\r\n/);
    assert.match(out, /Content-Length: 2\r\n\r\nOK$/);
    assert.equal(conns - before, 2, 'a new upstream connection for the second request');
  });

  it('keep-alive answers reuse one upstream connection per client connection', async () => {
    const before = conns;
    const from = seen.length;
    for (let i = 0; i < 3; i++) replies.push((_r, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'));
    const out = await exchange([get('/1'), get('/2'), get('/3')], /(\r\n\r\nOK[^]*){3}/);
    assert.equal((out.match(/200 OK/g) ?? []).length, 3);
    assert.equal(conns - before, 1);
    assert.deepEqual(new Set(seen.slice(from).map((x) => x.conn)).size, 1);
  });

  it('a GET on a kept connection the engine closed meanwhile is retried on a new one; a POST is not', async () => {
    // first request: answered, then the engine closes the connection right after (an idle close racing the next one)
    replies.push((_r, s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK');
    });
    replies.push((_r, s) => s.destroy()); // the second request on that connection finds it closed
    replies.push((_r, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nAGAIN'));
    const out = await exchange([get('/1'), get('/2')], /AGAIN$/);
    assert.match(out, /OK[^]*AGAIN$/);

    replies.push((_r, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'));
    replies.push((_r, s) => s.destroy());
    const out2 = await exchange([get('/1'), 'POST /containers/x/stop HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n']);
    assert.match(out2, /OK[^]*HTTP\/1\.1 502 /);
  });

  it('uploads keep their framing: Content-Length and chunked bodies go up as sent; the next request follows', async () => {
    const data = Buffer.alloc(300_000, 0x61);
    replies.push((r, s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(r.body.length).length}\r\n\r\n${r.body.length}`));
    replies.push((_r, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'));
    const from = seen.length;
    const out = await exchange([`POST /build HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nContent-Length: ${data.length}\r\n\r\n`, data.toString('latin1'), get('/after')], /OK$/);
    assert.match(out, /\r\n\r\n300000HTTP\/1\.1 200 OK/);
    assert.match(seen[from]!.head, /\r\ncontent-length: 300000/i);

    replies.push((r, s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(r.body.length).length}\r\n\r\n${r.body.length}`));
    const chunks = ['1000\r\n', 'a'.repeat(0x1000), '\r\n', '3;ext=1\r\nabc\r\n', '0\r\n\r\n'];
    const out2 = await exchange([`POST /build HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n\r\n`, ...chunks], /\r\n\r\n4099$/);
    assert.match(out2, /\r\n\r\n4099$/);
    assert.match(seen.at(-1)!.head, /\r\ntransfer-encoding: chunked/i);
  });
});
