// Framing tests with a fake upstream that writes exact bytes. They test OUR framing (101 + trailing bytes, split
// heads, half-close, the no-upgrade form, refusing to splice a plain answer); Docker's behaviour is tested against
// the real daemon in test/integration/guard/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGuard, type GuardHandle } from './server.js';
import type { Decide, RouteDef } from './types.js';
import { defaultPolicy } from './policy.js';

const route = (id: string, kind: RouteDef['kind']): RouteDef => ({ id, method: 'POST', path: '/x', area: 'container', kind, body: 'none' });
const decide: Decide = (view) =>
  Promise.resolve(
    view.path.endsWith('/attach') || view.path.endsWith('/start')
      ? { action: 'forward', route: route('container-attach', 'hijack'), tunnel: 'hijack' }
      : { action: 'forward', route: route('other', 'plain') },
  );

type Script = (sock: net.Socket, head: string, seen: Buffer[]) => void;

describe('tunnel framing (fake upstream)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nst-tun-'));
  let script: Script = () => {};
  const seen: Buffer[] = [];
  const upstream = net.createServer({ allowHalfOpen: true }, (sock) => {
    let buf = Buffer.alloc(0);
    let headDone = false;
    sock.on('data', (d: Buffer) => {
      if (headDone) {
        seen.push(d);
        return;
      }
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i === -1) return;
      headDone = true;
      const rest = buf.subarray(i + 4);
      if (rest.length) seen.push(rest);
      script(sock, buf.subarray(0, i).toString('latin1'), seen);
    });
  });
  let guard: GuardHandle;
  before(async () => {
    await new Promise<void>((r) => upstream.listen(join(dir, 'up.sock'), r));
    guard = await startGuard({ upstream: `unix://${join(dir, 'up.sock')}`, listen: `unix://${join(dir, 'g.sock')}`, owner: 't', decide, policy: defaultPolicy() });
  });
  after(async () => {
    await guard.close();
    upstream.close();
  });

  /** Sends raw bytes, optionally half-closes after `endAfterMs`, and collects everything until the guard closes. */
  function exchange(request: string, opts: { endAfterMs?: number; extra?: string } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = net.connect({ path: guard.socketPath!, allowHalfOpen: true });
      const got: Buffer[] = [];
      c.on('data', (d: Buffer) => got.push(d));
      c.on('error', reject);
      c.on('close', () => resolve(Buffer.concat(got).toString('latin1')));
      c.write(request);
      if (opts.extra) setTimeout(() => c.write(opts.extra!), 50);
      if (opts.endAfterMs !== undefined) setTimeout(() => c.end(), opts.endAfterMs);
      setTimeout(() => c.destroy(), 5000);
    });
  }

  it('relays a 101 split across writes, puts back the bytes after it, and half-closes', async () => {
    seen.length = 0;
    script = (sock, head) => {
      assert.match(head, /^POST \/v1\.41\/containers\/c1\/attach\?stdin=1 HTTP\/1\.1\r\n/);
      assert.match(head, /\r\nConnection: Upgrade\r\nUpgrade: tcp$/);
      sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConn');
      setTimeout(() => {
        sock.write('ection: Upgrade\r\nUpgrade: tcp\r\n\r\nOUT1');
        // what arrived so far (with or after the request head) is echoed once the switch was sent
        sock.write(Buffer.concat(seen).toString().toUpperCase());
        sock.on('data', (d: Buffer) => sock.write(d.toString().toUpperCase()));
      }, 20);
      sock.on('end', () => sock.end('BYE'));
    };
    const out = await exchange('POST /v1.41/containers/c1/attach?stdin=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly', {
      extra: 'late',
      endAfterMs: 200,
    });
    assert.match(out, /^HTTP\/1\.1 101 UPGRADED\r\n/);
    const body = out.slice(out.indexOf('\r\n\r\n') + 4);
    assert.equal(body, 'OUT1EARLYLATEBYE');
    assert.equal(Buffer.concat(seen).toString(), 'earlylate');
  });

  it('splices the no-upgrade form (200 + raw stream, no framing headers)', async () => {
    script = (sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n\r\n');
      sock.on('data', (d: Buffer) => sock.write(`<${d.toString()}>`));
      sock.on('end', () => sock.end());
    };
    const out = await exchange('POST /exec/e1/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}', { extra: 'in', endAfterMs: 200 });
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(out.endsWith('\r\n\r\n<in>'), JSON.stringify(out));
  });

  it('never splices a framed answer (a detached exec start): later bytes on the connection are not forwarded', async () => {
    seen.length = 0;
    script = (sock) => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
    };
    const smuggled = 'POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}';
    // pipelined in the same write (in the guard's buffer when it reaches the tunnel), and again later
    const out = await exchange(`POST /exec/e1/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n\r\n{}${smuggled}`, { extra: smuggled });
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(out, /\r\nConnection: close\r\n/);
    assert.ok(out.endsWith('\r\n\r\n{}'));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(Buffer.concat(seen).toString(), '{}', 'only the request body reached upstream, nothing sent after it');
  });

  it('relays an error answer to a hijack request and closes', async () => {
    script = (sock) => sock.write('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n{"message":"No such container: c9"}');
    const out = await exchange('POST /containers/c9/attach HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.ok(out.endsWith('{"message":"No such container: c9"}'));
  });

  it('refuses an Upgrade header on a route that is not a tunnel', async () => {
    const out = await exchange('GET /containers/json HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 400 /);
    assert.match(out, /Upgrade is only accepted/);
  });

  it('refuses an unknown upgrade protocol', async () => {
    const out = await exchange('POST /containers/c1/attach HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 400 /);
  });
});
