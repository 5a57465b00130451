// Socket-level fuzz of the whole guard (strict parser, the real decider and policy, the forward path) with a fake
// upstream that records every byte that reaches it. This tests OUR side only: whatever a client sends, the guard
// answers or closes within a deadline, never crashes, and what reaches the engine is a well-formed request the guard
// re-serialised itself (parseable by our strict parser, a canonical target, a JSON body that parses, framing that
// matches). Docker's own reading of requests is tested against the real daemon in test/integration/guard/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGuard, type GuardHandle } from './server.js';
import { ChunkedDecoder, HttpParseError, parseRequestHead } from './http-parser.js';
import { canonicalizeTarget, isDenial } from './match.js';

const OWNER = 'fuzz-owner';

/** What the fake engine received: each request split by our own strict parser (or the error it raised). */
interface Received {
  head: string;
  error?: string;
  body: Buffer;
}

describe('guard server fuzz (fake upstream): hostile bytes never crash, hang, or reach the engine unchecked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nst-sfz-'));
  const received: Received[] = [];
  const upstream = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        let h;
        try {
          h = parseRequestHead(buf);
        } catch (e) {
          received.push({ head: buf.toString('latin1').slice(0, 200), error: String(e), body: Buffer.alloc(0) });
          sock.destroy();
          return;
        }
        if (!h) return;
        let body = Buffer.alloc(0);
        let used = h.headBytes;
        if (h.framing.type === 'length') {
          if (buf.length < h.headBytes + h.framing.length) return;
          body = buf.subarray(h.headBytes, h.headBytes + h.framing.length);
          used += h.framing.length;
        } else if (h.framing.type === 'chunked') {
          const dec = new ChunkedDecoder();
          let parts: Buffer[];
          try {
            parts = dec.push(buf.subarray(h.headBytes));
          } catch (e) {
            received.push({ head: buf.toString('latin1', 0, h.headBytes), error: `chunked: ${String(e)}`, body: Buffer.alloc(0) });
            sock.destroy();
            return;
          }
          if (!dec.done) return; // wait for the whole body (the fuzz bodies are small)
          body = Buffer.concat(parts);
          used = buf.length - dec.rest.length;
        }
        received.push({ head: buf.toString('latin1', 0, h.headBytes), body });
        buf = buf.subarray(used);
        // an engine-like answer for everything: ownership lookups find objects without the owner's label (not owned)
        const json = h.target.includes('/json') && !h.target.includes('/containers/json') ? '{"Id":"0123456789ab","Config":{"Labels":{}},"Labels":{}}' : '[]';
        sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`);
      }
    });
    sock.on('error', () => {});
  });
  let g: GuardHandle;
  before(async () => {
    await new Promise<void>((r) => upstream.listen(join(dir, 'up.sock'), r));
    g = await startGuard({
      upstream: `unix://${join(dir, 'up.sock')}`,
      listen: `unix://${join(dir, 'g.sock')}`,
      owner: OWNER,
      limits: { headTimeoutMs: 300, bodyIdleTimeoutMs: 300, keepAliveTimeoutMs: 300 },
    });
  });
  after(async () => {
    await g.close();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const seeds = [
    'GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: docker\r\n\r\n',
    'GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n',
    'POST /v1.41/containers/create?name=x HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 63\r\n\r\n{"Image":"busybox","HostConfig":{"Binds":["/tmp:/x"],"Privileged":false}}',
    'POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"Image":"busybo\r\n3\r\nx"}\r\n0\r\n\r\n',
    'POST /v1.41/networks/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{"Name":"net"}',
    'POST /v1.41/build?t=app:ci HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n',
    'DELETE /v1.41/containers/abc?force=1 HTTP/1.1\r\nHost: docker\r\n\r\n',
    'POST /v1.41/containers/abc/attach?stream=1&stdin=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    'GET /v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D HTTP/1.1\r\nHost: docker\r\n\r\n',
    'POST /v1.41/volumes/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 37\r\n\r\n{"Name":"v","DriverOpts":{"o":"bind"}}',
  ];
  const alphabet = ['\r', '\n', ' ', '\t', ':', ',', '0', '9', 'a', '/', '%', '%2e', '..', '?', '&', '"', '{', '}', '\x00', '\x7f', '\xff', 'Content-Length: 1\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 0\r\n', '\r\n\r\n', 'GET / HTTP/1.1\r\n', '"Privileged":true,', '"privileged":true,', '"Binds":["/:/host"],', 'HostConfig', 'Upgrade: tcp\r\n', 'Connection: Upgrade\r\n'];
  let seed = 0x2545f491;
  const rnd = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const mutate = (s: string) => {
    const edits = 1 + rnd(3);
    for (let k = 0; k < edits; k++) {
      const at = rnd(s.length + 1);
      const op = rnd(3);
      const ins = alphabet[rnd(alphabet.length)]!;
      if (op === 0) s = s.slice(0, at) + ins + s.slice(at);
      else if (op === 1) s = s.slice(0, at) + s.slice(at + 1 + rnd(4));
      else s = s.slice(0, at) + ins + s.slice(at + 1);
    }
    return s;
  };

  /** Sends bytes (in random pieces), then half-closes; resolves with what came back, or 'hang' after the deadline. */
  function send(bytes: string): Promise<{ out: string; hang: boolean }> {
    return new Promise((resolve) => {
      const s = net.connect({ path: g.socketPath!, allowHalfOpen: true });
      let out = '';
      let done = false;
      const finish = (hang: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        s.destroy();
        resolve({ out, hang });
      };
      const t = setTimeout(() => finish(true), 5000);
      s.on('connect', () => {
        const cut = rnd(bytes.length + 1);
        s.write(Buffer.from(bytes.slice(0, cut), 'latin1'));
        setImmediate(() => s.end(Buffer.from(bytes.slice(cut), 'latin1')));
      });
      s.on('data', (d: Buffer) => (out += d.toString('latin1')));
      s.on('end', () => finish(false));
      s.on('close', () => finish(false));
      s.on('error', () => finish(false));
    });
  }

  it('3000 mutated requests: every one answered or closed in time, nothing malformed or unchecked upstream', { timeout: 300_000 }, async () => {
    let answered = 0;
    let forwarded = 0;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      let input = mutate(seeds[rnd(seeds.length)]!);
      // half the time, fix Content-Length to the mutated body, so body mutations reach the decider
      const split = input.indexOf('\r\n\r\n');
      if (rnd(2) === 0 && split !== -1) input = input.slice(0, split).replace(/(\r\nContent-Length: )\d+/, (_m, p: string) => `${p}${input.length - split - 4}`) + input.slice(split);
      const before = received.length;
      const r = await send(input);
      assert.equal(r.hang, false, `the guard neither answered nor closed: ${JSON.stringify(input)}`);
      for (const m of r.out.matchAll(/HTTP\/1\.1 (\d{3}) /g)) {
        const st = Number(m[1]);
        statuses.set(st, (statuses.get(st) ?? 0) + 1);
        assert.ok(st < 500 || st === 501 || st === 505, `status ${st} for ${JSON.stringify(input)}: ${r.out.slice(0, 300)}`);
      }
      if (r.out.startsWith('HTTP/1.1 ')) answered++;
      for (const got of received.slice(before)) {
        forwarded++;
        assert.equal(got.error, undefined, `malformed request reached the engine: ${got.error}\n${got.head}\nfrom ${JSON.stringify(input)}`);
        const line = /^([A-Z]+) (\S+) HTTP\/1\.1\r\n/.exec(got.head);
        assert.ok(line, got.head);
        const t = canonicalizeTarget(line[2]!);
        assert.ok(!isDenial(t), `a non-canonical target reached the engine: ${line[2]}`);
        if (/\/(containers|networks|volumes)\/create/.test(line[2]!)) {
          const body = JSON.parse(got.body.toString()) as Record<string, unknown> & { Labels?: Record<string, string>; HostConfig?: Record<string, unknown> };
          assert.equal(body.Labels?.['io.nestling.owner'], OWNER, `a create without the owner label reached the engine: ${got.body.toString()}`);
          assert.notEqual(body.HostConfig?.Privileged, true);
          assert.equal(JSON.stringify(body).toLowerCase().includes('"privileged":true'), false, got.body.toString());
        }
      }
    }
    console.log(`fuzz: ${answered} answered, ${forwarded} forwarded, statuses ${JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]))}`);
    // the fuzz must exercise both sides: refusals and forwards
    assert.ok(answered > 2500, `only ${answered} answers`);
    assert.ok(forwarded > 150, `only ${forwarded} requests forwarded: the fuzz is not reaching the engine`);
    assert.ok([...statuses.keys()].some((s) => s === 403) && [...statuses.keys()].some((s) => s === 400), JSON.stringify([...statuses]));
    // and the guard still serves
    const ok = await send('GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n');
    assert.match(ok.out, /^HTTP\/1\.1 200 /);
  });

  it('HttpParseError is what the parser raises (sanity of the oracle above)', () => {
    assert.throws(() => parseRequestHead(Buffer.from('GET / HTTP/1.1\nHost: x\r\n\r\n')), HttpParseError);
  });
});
