// Hostile HTTP against a guard in front of the real dockerd: every malformed or smuggling request gets a 4xx from
// the guard, and the daemon never acts on it (checked on the daemon directly: the container the smuggled request
// would have created does not exist).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { EngineError } from '../../../src/util/errors.js';
import { Engine } from '../../../src/engine/client.js';
import { parseHostUrl } from '../../../src/engine/resolve.js';
import { messages, rawExchange, startTestGuard, statuses, type TestGuard } from './helpers.js';

describe('guard: hostile HTTP', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('ghttp');
  const owner = `${prefix}-owner`;

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    g = await startTestGuard(d, owner, { limits: { headTimeoutMs: 800, bodyIdleTimeoutMs: 800 } });
  });
  after(async () => {
    await g.close();
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  const exists = async (name: string) => {
    try {
      await d.engine.json({ method: 'GET', path: `/containers/${name}/json` });
      cleanup.add('container', name);
      return true;
    } catch (e) {
      if (e instanceof EngineError && e.statusCode === 404) return false;
      throw e;
    }
  };
  const createBody = (name: string) => JSON.stringify({ Image: 'nestling/busybox:local', Cmd: ['true'], HostConfig: { Privileged: true }, Name: name });
  const create = (name: string) => `POST /v1.41/containers/create?name=${name} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n`;

  it('the baseline works: a well-formed create is forwarded and labelled', async () => {
    const name = `${prefix}-ok`;
    const body = JSON.stringify({ Image: 'nestling/busybox:local', Cmd: ['true'] });
    const r = await rawExchange(g.socketPath!, [`${create(name)}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`]);
    assert.deepEqual(statuses(r.text), [201], r.text);
    assert.equal(await exists(name), true);
    const j = await d.engine.json<{ Config: { Labels: Record<string, string> } }>({ method: 'GET', path: `/containers/${name}/json` });
    assert.equal(j.Config.Labels['io.nestling.owner'], owner);
  });

  it('a request pipelined after a hijack request that the daemon answers framed never reaches the daemon', async () => {
    // a running container of the job and a detached exec start: the daemon answers 200 with a framed body, no switch
    const run = `${prefix}-hj`;
    const job = new Engine(parseHostUrl(g.url, 'guard'));
    const c = await job.json<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name: run }, body: { Image: 'nestling/busybox:local', Cmd: ['sleep', '300'] } });
    cleanup.add('container', run);
    (await job.request({ method: 'POST', path: `/containers/${c.Id}/start` })).resume();
    const ex = await job.json<{ Id: string }>({ method: 'POST', path: `/containers/${c.Id}/exec`, body: { Cmd: ['true'] } });
    const smuggledName = `${prefix}-smuggled`;
    const smuggled = `${create(smuggledName)}Content-Length: ${createBody(smuggledName).length}\r\n\r\n${createBody(smuggledName)}`;
    const start = '{"Detach":true}';
    // in one write: the guard holds the pipelined bytes until the daemon's answer, which is framed
    const r = await rawExchange(g.socketPath!, [`POST /v1.41/exec/${ex.Id}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${start.length}\r\n\r\n${start}${smuggled}`]);
    assert.equal(statuses(r.text)[0], 200, r.text);
    assert.equal(statuses(r.text).length, 1, `the pipelined request got no answer: ${r.text}`);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(await exists(smuggledName), false, 'the privileged create never reached the daemon');
  });

  it('CVE-2024-41110 form: Content-Length: 0 with the body after it => 400, nothing created', async () => {
    const name = `${prefix}-cl0`;
    const body = createBody(name);
    const r = await rawExchange(g.socketPath!, [`${create(name)}Content-Length: 0\r\n\r\n${body}`]);
    assert.equal(statuses(r.text)[0], 400, r.text);
    assert.ok(r.closed);
    assert.equal(await exists(name), false);
  });

  it('a create without any body => 400', async () => {
    const name = `${prefix}-nobody`;
    const r = await rawExchange(g.socketPath!, [`${create(name)}\r\n`]);
    assert.equal(statuses(r.text)[0], 400, r.text);
    assert.equal(await exists(name), false);
  });

  const smuggling: [string, (body: string) => string][] = [
    ['CL + TE', (b) => `Content-Length: ${b.length}\r\nTransfer-Encoding: chunked\r\n\r\n${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`],
    ['TE + CL', (b) => `Transfer-Encoding: chunked\r\nContent-Length: ${b.length}\r\n\r\n${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`],
    ['duplicate CL', (b) => `Content-Length: ${b.length}\r\nContent-Length: ${b.length}\r\n\r\n${b}`],
    ['obs-fold CL', (b) => `X-A: 1\r\n Content-Length: ${b.length}\r\n\r\n${b}`],
    ['TE: xchunked', (b) => `Transfer-Encoding: xchunked\r\n\r\n${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`],
    ['TE with a space before the colon', (b) => `Transfer-Encoding : chunked\r\n\r\n${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`],
    ['bare LF header', (b) => `Content-Length: ${b.length}\n\r\n${b}`],
    ['chunk size 0x', (b) => `Transfer-Encoding: chunked\r\n\r\n0x${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`],
    ['chunk data longer than its size', (b) => `Transfer-Encoding: chunked\r\n\r\n1\r\n${b}\r\n0\r\n\r\n`],
  ];
  for (const [label, frame] of smuggling) {
    it(`smuggling form "${label}" => 4xx, nothing created`, async () => {
      const name = `${prefix}-sm${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
      const r = await rawExchange(g.socketPath!, [`${create(name)}${frame(createBody(name))}`]);
      const st = statuses(r.text);
      assert.ok(st.length >= 1 && st[0]! >= 400 && st[0]! <= 501 && st[0] !== 500, `${label}: ${r.text}`);
      assert.ok(!st.includes(201), r.text);
      assert.equal(await exists(name), false);
    });
  }

  it('a body over the cap => 413 before reading it (Content-Length), and while reading it (chunked)', async () => {
    const big = 5 * 1024 * 1024;
    const r1 = await rawExchange(g.socketPath!, [`POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${big}\r\nExpect: 100-continue\r\n\r\n`]);
    assert.deepEqual(statuses(r1.text), [413], r1.text);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const parts: (string | Buffer)[] = ['POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n\r\n'];
    for (let i = 0; i < 6; i++) parts.push(`${chunk.length.toString(16)}\r\n`, chunk, '\r\n');
    const r2 = await rawExchange(g.socketPath!, parts);
    assert.equal(statuses(r2.text)[0], 413, r2.text.slice(0, 300));
  });

  it('oversized head => 431', async () => {
    const r = await rawExchange(g.socketPath!, [`GET /_ping HTTP/1.1\r\nHost: docker\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`]);
    assert.equal(statuses(r.text)[0], 431);
  });

  it('a slow head (slowloris) => 408 after the head timeout, not a hang', async () => {
    const r = await rawExchange(g.socketPath!, ['GET /_ping HTTP/1.1\r\n', 'Host: docker\r\n'], { pauseMs: 100, timeoutMs: 4000 });
    assert.equal(statuses(r.text)[0], 408, r.text);
    assert.ok(r.closed);
  });

  it('a body that stops half way => 408, not a hang', async () => {
    const r = await rawExchange(g.socketPath!, [`POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Length: 100\r\n\r\n{"Image":`], { timeoutMs: 4000 });
    assert.equal(statuses(r.text)[0], 408, r.text);
  });

  it('bad paths and methods are refused', async () => {
    for (const [req, want] of [
      ['GET http://docker/containers/json HTTP/1.1\r\n\r\n', 400],
      ['TRACE /_ping HTTP/1.1\r\nHost: docker\r\n\r\n', 405],
      ['GET /v1.41/containers/json HTTP/2.0\r\n\r\n', 505],
      ['GET /%00 HTTP/1.1\r\nHost: docker\r\n\r\n', 400],
      ['GET /v1.41/does-not-exist HTTP/1.1\r\nHost: docker\r\n\r\n', 403],
    ] as [string, number][]) {
      const r = await rawExchange(g.socketPath!, [req]);
      const st = statuses(r.text)[0];
      assert.ok(st !== undefined && st >= 400 && st < 600 && st !== 500, `${JSON.stringify(req)} => ${r.text}`);
      if (want !== 403) assert.equal(st, want, `${JSON.stringify(req)} => ${r.text}`);
      assert.equal(messages(r.text).length, 1, r.text);
    }
  });

  it('pipelined requests are answered in order on one connection; HTTP/1.0 closes', async () => {
    const r = await rawExchange(g.socketPath!, ['GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\nGET /v1.41/version HTTP/1.1\r\nHost: docker\r\n\r\nGET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n']);
    assert.deepEqual(statuses(r.text), [200, 200, 200]);
    assert.match(r.text, /"ApiVersion"/);
    const r10 = await rawExchange(g.socketPath!, ['GET /_ping HTTP/1.0\r\n\r\n']);
    assert.deepEqual(statuses(r10.text), [200]);
    assert.ok(r10.closed);
  });

  it('Expect: 100-continue gets a 100 before the final answer', async () => {
    const body = '{}';
    const r = await rawExchange(g.socketPath!, [
      `POST /v1.41/networks/prune HTTP/1.1\r\nHost: docker\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      body,
    ], { pauseMs: 100 });
    assert.equal(statuses(r.text)[0], 100, r.text);
  });

  it('a garbage request after a good one on the same connection is refused; the good one was answered', async () => {
    const r = await rawExchange(g.socketPath!, ['GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\nGARBAGE\r\n\r\n']);
    assert.deepEqual(statuses(r.text), [200, 400]);
  });

  it('a dead upstream => 502 with a hint', async () => {
    const dead = await startTestGuard(d, `${prefix}-dead`, {});
    await dead.close();
    const g2 = await startTestGuard({ ...d, url: `unix://${dead.dir}/nothing-here.sock` }, `${prefix}-dead2`);
    try {
      const r = await rawExchange(g2.socketPath!, ['GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n']);
      assert.equal(statuses(r.text)[0], 502, r.text);
      assert.match(r.text, /cannot reach the Docker engine .*is dockerd running/);
    } finally {
      await g2.close();
    }
  });

  it('never logs credentials or bodies', () => {
    const all = JSON.stringify(g.records);
    assert.doesNotMatch(all, /Privileged/);
    assert.doesNotMatch(all, /X-Registry-Auth/i);
    assert.ok(g.records.length > 10);
  });
});
