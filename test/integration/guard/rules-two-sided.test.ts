/**
 * Two-sided rule tests against the real dockerd: for every rule id, the same request is sent
 *   1. directly to the daemon, which ACCEPTS it (2xx; what it created is removed afterwards), and
 *   2. through a guard (startGuard on the same daemon), which REFUSES it with the rule's status and the rule id in
 *      the message (or, for `not-found`, the daemon's own wording).
 * A few rules cannot be accepted by this daemon whatever we send (swarm is not initialised, checkpoints need an
 * experimental daemon, a non-local volume driver needs a plugin, an h2c /grpc needs an upgrade, the build cache
 * prune would prune other suites' cache): for those the test records and asserts what the daemon answers instead,
 * and says so in its name ("daemon refuses too" / "not sent directly").
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { startGuard, type GuardHandle } from '../../../src/guard/server.js';
import { defaultPolicy } from '../../../src/guard/policy.js';
import { RULES } from '../../../src/guard/rules/catalog.js';
import { makeTar } from '../../../src/util/tar.js';
import type { EffectivePolicy } from '../../../src/guard/types.js';

interface Res {
  status: number;
  text: string;
}

function send(socketPath: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const req = http.request(
      {
        socketPath,
        method,
        path,
        headers: {
          Host: 'docker',
          ...(b ? { 'Content-Length': String(b.length), 'Content-Type': 'application/json' } : {}),
          ...headers,
        },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(b);
  });
}

const IMAGE = 'nestling/busybox:local';

describe('guard rules, two-sided against the real daemon', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let guard: GuardHandle;
  let strict: GuardHandle;
  const prefix = uniquePrefix('g2s');
  const owner = `${prefix}-owner`;
  const covered = new Set<string>();
  let running = ''; // an owned, running container (created through the guard)
  let foreign = ''; // a container created directly (no owner label)

  const dir = mkdtempSync(join(tmpdir(), 'nst-g2s-'));
  const allowDir = mkdtempSync(join(tmpdir(), 'nst-g2s-allow-'));

  const base: EffectivePolicy = { ...defaultPolicy(), allowBind: [allowDir] };
  const strictPolicy: EffectivePolicy = { ...base, quotas: { memoryBytes: 64 * 1024 * 1024 }, defaults: { user: '1000' } };

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    guard = await startGuard({ upstream: d.url, listen: `unix://${join(dir, 'g.sock')}`, owner, policy: base });
    strict = await startGuard({ upstream: d.url, listen: `unix://${join(dir, 's.sock')}`, owner, policy: strictPolicy });
    // an owned running container, for exec and form-smuggling cases
    const c = await send(guard.socketPath!, 'POST', `/v1.41/containers/create?name=${prefix}-run`, JSON.stringify({ Image: IMAGE, Cmd: ['sleep', '300'] }));
    assert.equal(c.status, 201, c.text);
    running = (JSON.parse(c.text) as { Id: string }).Id;
    cleanup.add('container', running);
    const s = await send(guard.socketPath!, 'POST', `/v1.41/containers/${running}/start`);
    assert.equal(s.status, 204, s.text);
    const f = await send(d.socketPath, 'POST', `/v1.41/containers/create?name=${prefix}-foreign`, JSON.stringify({ Image: IMAGE, Cmd: ['sleep', '300'] }));
    assert.equal(f.status, 201, f.text);
    foreign = (JSON.parse(f.text) as { Id: string }).Id;
    cleanup.add('container', foreign);
  });

  after(async () => {
    await guard?.close();
    await strict?.close();
    // tags made by the image cases
    await send(d.socketPath, 'DELETE', `/v1.41/images/${prefix}-img:1`).catch(() => undefined);
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  /** Registers what a direct 201 created, so after() removes it. */
  function track(kind: 'container' | 'network' | 'volume', r: Res): void {
    if (r.status !== 201) return;
    const j = JSON.parse(r.text) as { Id?: string; Name?: string };
    const id = kind === 'volume' ? j.Name : j.Id;
    if (id) cleanup.add(kind, id);
  }

  interface Case {
    rule: string;
    title: string;
    method: string;
    /** path without version prefix */
    path: string | (() => string);
    body?: unknown;
    rawBody?: string | Buffer | (() => Promise<Buffer>);
    headers?: Record<string, string>;
    kind?: 'container' | 'network' | 'volume';
    /** the guard to use: strict has quotas and a forced user */
    strict?: boolean;
    /** when the daemon cannot accept it: the status it answers instead (asserted), and why */
    daemonRefuses?: { status: number; why: string };
    /** the direct request is not sent (it would touch other suites' state) */
    notDirect?: string;
    /** the guard's expected status (403 by default) */
    guardStatus?: number;
    /** for not-found: the daemon wording expected instead of the rule id */
    guardMessage?: () => string;
    /** a different request through the guard (same rule), e.g. to use an owned object */
    guardPath?: () => string;
  }

  const create = (hc: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ Image: IMAGE, Cmd: ['true'], ...extra, HostConfig: hc });
  let n = 0;
  const name = () => `${prefix}-c${++n}`;

  const cases: Case[] = [
    { rule: 'no-privileged', title: 'HostConfig.Privileged', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ Privileged: true }), kind: 'container' },
    { rule: 'cap-add', title: 'CapAdd sys_admin (lower case, no CAP_)', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ CapAdd: ['sys_admin'] }), kind: 'container' },
    { rule: 'security-opt', title: 'seccomp:unconfined (colon form)', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ SecurityOpt: ['seccomp:unconfined'] }), kind: 'container' },
    { rule: 'masked-paths', title: 'MaskedPaths []', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ MaskedPaths: [] }), kind: 'container' },
    { rule: 'host-namespace', title: 'PidMode host', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ PidMode: 'host' }), kind: 'container' },
    { rule: 'no-devices', title: 'DeviceCgroupRules', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ DeviceCgroupRules: ['c 1:3 rwm'] }), kind: 'container' },
    { rule: 'bind-outside-allowlist', title: 'Binds /etc (via a case-folded key)', method: 'POST', path: () => `/containers/create?name=${name()}`, rawBody: JSON.stringify({ Image: IMAGE, hostconfig: { binds: ['/etc:/x:ro'] } }), kind: 'container' },
    { rule: 'runtime', title: 'a non-default runtime the daemon has', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ Runtime: 'io.containerd.runtime.v1.linux' }), kind: 'container' },
    { rule: 'cgroup-parent', title: 'CgroupParent', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ CgroupParent: `/${prefix}` }), kind: 'container' },
    { rule: 'sysctl', title: 'a sysctl outside the allowed namespaced set', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ Sysctls: { 'kernel.domainname': 'x' } }), kind: 'container' },
    { rule: 'oom-score-adj', title: 'negative OomScoreAdj', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ OomScoreAdj: -500 }), kind: 'container' },
    { rule: 'log-driver', title: 'syslog log driver (to loopback; never started)', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'udp://127.0.0.1:5514' } } }), kind: 'container' },
    { rule: 'host-port', title: 'host port 80', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '80' }] } }, { ExposedPorts: { '80/tcp': {} } }), kind: 'container' },
    { rule: 'reserved-label', title: 'a job setting io.nestling.owner', method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({}, { Labels: { 'io.nestling.owner': 'someone-else' } }), kind: 'container' },
    { rule: 'quota', title: 'Memory above the policy quota', strict: true, method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({ Memory: 1024 * 1024 * 1024 }), kind: 'container' },
    { rule: 'forced-user', title: 'User root with a forced user', strict: true, method: 'POST', path: () => `/containers/create?name=${name()}`, body: create({}, { User: 'root' }), kind: 'container' },
    { rule: 'invalid-body', title: 'a second JSON value after the first (20.10 ignores it)', method: 'POST', path: () => `/containers/create?name=${name()}`, rawBody: `{"Image":"${IMAGE}"} {"HostConfig":{"Privileged":true}}`, kind: 'container', guardStatus: 400 },
    { rule: 'name-conflict', title: 'a name another owner uses', method: 'POST', path: () => `/containers/create?name=${prefix}-dup`, body: create({}), kind: 'container', guardStatus: 409 },
    { rule: 'volume-driver-opts', title: 'local volume mounting a block device', method: 'POST', path: '/volumes/create', body: { Name: `${prefix}-vdev`, DriverOpts: { type: 'ext4', device: '/dev/nst-nonexistent' } }, kind: 'volume' },
    { rule: 'network-driver', title: 'a config-only network', method: 'POST', path: '/networks/create', body: { Name: `${prefix}-cfgonly`, ConfigOnly: true }, kind: 'network' },
    { rule: 'network-option', title: 'a bridge option outside the safe set', method: 'POST', path: '/networks/create', body: { Name: `${prefix}-opt`, Options: { 'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1' } }, kind: 'network' },
    { rule: 'exec-privileged', title: 'a privileged exec', method: 'POST', path: () => `/containers/${running}/exec`, body: { Cmd: ['true'], Privileged: true } },
    { rule: 'not-found', title: 'inspect of a container another owner made', method: 'GET', path: () => `/containers/${foreign}/json`, guardStatus: 404, guardMessage: () => `No such container: ${foreign}` },
    { rule: 'image-not-owned', title: 'tag over a reference this owner did not create', method: 'POST', path: () => `/images/${IMAGE}/tag?repo=${prefix}-img&tag=1` },
    {
      rule: 'image-load',
      title: 'image load of an archive whose manifest.json is a link (the daemon follows it; the guard cannot check what it names)',
      method: 'POST',
      path: '/images/load?quiet=1',
      headers: { 'Content-Type': 'application/x-tar' },
      rawBody: async () => {
        const saved = await new Promise<Buffer>((resolve, reject) => {
          http
            .get({ socketPath: d.socketPath, path: `/v1.41/images/${IMAGE}/get`, headers: { Host: 'docker' } }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => resolve(Buffer.concat(chunks)));
            })
            .on('error', reject);
        });
        // the saved entries again, the manifest renamed (a new tag) and manifest.json a symlink to it
        const entries: { name: string; type?: 'file' | 'dir'; data?: Buffer }[] = [];
        for (let i = 0; i + 512 <= saved.length; ) {
          const h = saved.subarray(i, i + 512);
          if (h.every((x) => x === 0)) break;
          const name = h.toString('utf8', 0, 100).replace(/\0.*$/s, '');
          const size = parseInt(h.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
          const type = String.fromCharCode(h[156]!);
          entries.push({ name, type: type === '5' ? 'dir' : 'file', data: saved.subarray(i + 512, i + 512 + size) });
          i += 512 + Math.ceil(size / 512) * 512;
        }
        const m = entries.find((e) => e.name === 'manifest.json')!;
        const manifest = JSON.parse(m.data!.toString()) as { RepoTags: string[] }[];
        manifest[0]!.RepoTags = [`${prefix}-lnk:1`];
        cleanup.add('image', `${prefix}-lnk:1`);
        return makeTar([
          ...entries.filter((e) => e.name !== 'manifest.json' && e.name !== 'repositories'),
          { name: 'real-manifest.json', data: Buffer.from(JSON.stringify(manifest)) },
          { name: 'manifest.json', type: 'symlink', linkname: 'real-manifest.json' },
        ]);
      },
    },
    {
      rule: 'build-host-network',
      title: 'legacy build with networkmode=host',
      method: 'POST',
      path: '/build?networkmode=host&q=1&rm=1',
      headers: { 'Content-Type': 'application/x-tar' },
      rawBody: makeTar([{ name: 'Dockerfile', data: `FROM ${IMAGE}\n` }]),
    },
    { rule: 'no-plugin', title: 'plugin list', method: 'GET', path: '/plugins' },
    { rule: 'no-debug', title: 'the debug vars (daemon cmdline, memstats; registered without /vX.Y)', method: 'GET', path: '/../debug/vars' },
    { rule: 'unknown-route', title: 'a path moby does not route (daemon refuses too: 404)', method: 'GET', path: '/nestling-unknown', daemonRefuses: { status: 404, why: 'page not found' } },
    { rule: 'bad-api-version', title: 'a /v1.41.0 prefix', method: 'GET', path: '/../v1.41.0/_ping', guardStatus: 400 },
    { rule: 'bad-query', title: 'a ; in the query', method: 'GET', path: '/_ping?a=1;b=2', guardStatus: 400 },
    {
      rule: 'bad-content-type',
      title: 'a form body carrying the rename parameter',
      method: 'POST',
      path: () => `/containers/${foreign}/rename`,
      guardPath: () => `/containers/${running}/rename`,
      rawBody: `name=${prefix}-renamed`,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      guardStatus: 400,
    },
    // the daemon cannot accept these here: its answer is asserted instead
    { rule: 'volume-driver', title: 'a non-local volume driver (daemon refuses too: no such plugin)', method: 'POST', path: '/volumes/create', body: { Name: `${prefix}-vdrv`, Driver: 'nst-no-such-driver' }, kind: 'volume', daemonRefuses: { status: 404, why: 'no such volume plugin' } },
    { rule: 'no-swarm', title: 'swarm inspect (daemon refuses too: not a swarm manager)', method: 'GET', path: '/swarm', daemonRefuses: { status: 503, why: 'not a swarm manager' } },
    { rule: 'no-checkpoint', title: 'checkpoint create (daemon refuses too: not experimental)', method: 'POST', path: () => `/containers/${running}/checkpoints`, body: { CheckpointID: 'c1' }, daemonRefuses: { status: 501, why: 'experimental feature disabled' } },
    { rule: 'method-not-allowed', title: 'POST on a GET-only path (daemon refuses too: 404 page not found)', method: 'POST', path: '/containers/json', daemonRefuses: { status: 404, why: 'moby answers 404 for a method mismatch' }, guardStatus: 405 },
    { rule: 'ambiguous-path', title: 'a .. path (daemon redirects: 301)', method: 'GET', path: '/containers/x/../json', daemonRefuses: { status: 301, why: 'gorilla/mux redirects unclean paths' }, guardStatus: 400 },
    { rule: 'bad-filters', title: 'malformed filters (daemon refuses too: 400)', method: 'GET', path: '/containers/json?filters=%7Bnot-json', daemonRefuses: { status: 500, why: 'invalid filter JSON (20.10 answers 500)' }, guardStatus: 400 },
    { rule: 'bad-target', title: 'an invalid percent escape in the path (daemon refuses too: 400)', method: 'GET', path: '/containers/%zz/json', daemonRefuses: { status: 400, why: 'Go cannot parse the target' }, guardStatus: 400 },
    { rule: 'system-wide', title: 'build cache prune (not sent directly: it would prune other suites\' cache)', method: 'POST', path: '/build/prune', notDirect: 'it prunes the whole build cache of the shared daemon' },
  ];

  for (const c of cases) {
    it(`${c.rule}: ${c.title}`, async () => {
      const path = typeof c.path === 'function' ? c.path() : c.path;
      const raw = typeof c.rawBody === 'function' ? await c.rawBody() : c.rawBody;
      const body = raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body));
      const target = path.startsWith('/../') ? path.slice(3) : `/v1.41${path}`;
      // 1. directly
      if (!c.notDirect) {
        const r = await send(d.socketPath, c.method, target, body, c.headers);
        if (c.kind) track(c.kind, r);
        if (c.daemonRefuses) {
          assert.equal(r.status, c.daemonRefuses.status, `daemon answer for ${c.rule} (${c.daemonRefuses.why}): ${r.text}`);
        } else {
          assert.ok(r.status >= 200 && r.status < 300, `the daemon should accept ${c.method} ${target} directly, got ${r.status} ${r.text.slice(0, 300)}`);
          if (c.method === 'POST' && path.startsWith('/containers/create')) assert.equal(r.status, 201);
        }
      }
      // 2. through the guard
      const g = c.strict ? strict : guard;
      // a fresh path (a new container name) unless the case wants the same object
      const gPath = c.guardPath ? c.guardPath() : typeof c.path === 'function' ? c.path() : path;
      const gTarget = gPath.startsWith('/../') ? gPath.slice(3) : `/v1.41${gPath}`;
      const gr = await send(g.socketPath!, c.method, gTarget, body, c.headers);
      if (gr.status === 201 && c.kind) track(c.kind, gr);
      assert.equal(gr.status, c.guardStatus ?? 403, `guard answer for ${c.rule}: ${gr.text}`);
      const msg = (JSON.parse(gr.text) as { message: string }).message;
      if (c.guardMessage) assert.equal(msg, c.guardMessage());
      else assert.match(msg, new RegExp(`denied by rule ${c.rule}\\b`), msg);
      covered.add(c.rule);
    });
  }

  it('bad-api-version: below 1.24 the daemon applies a HostConfig sent with start; the guard refuses', async () => {
    const body = JSON.stringify({ Binds: [`${allowDir}:/nst-from-start:ro`] });
    // directly: a container created without binds gets one at start
    const c = await send(d.socketPath, 'POST', `/v1.41/containers/create?name=${prefix}-oldstart`, JSON.stringify({ Image: IMAGE, Cmd: ['true'] }));
    assert.equal(c.status, 201, c.text);
    const id = (JSON.parse(c.text) as { Id: string }).Id;
    cleanup.add('container', id);
    const s = await send(d.socketPath, 'POST', `/v1.23/containers/${id}/start`, body);
    assert.equal(s.status, 204, s.text);
    const ins = JSON.parse((await send(d.socketPath, 'GET', `/v1.41/containers/${id}/json`)).text) as { HostConfig: { Binds: string[] | null } };
    assert.deepEqual(ins.HostConfig.Binds, [`${allowDir}:/nst-from-start:ro`]);
    // through the guard, on an owned container
    const gc = await send(guard.socketPath!, 'POST', `/v1.41/containers/create?name=${prefix}-oldstart-g`, JSON.stringify({ Image: IMAGE, Cmd: ['true'] }));
    assert.equal(gc.status, 201, gc.text);
    const gid = (JSON.parse(gc.text) as { Id: string }).Id;
    cleanup.add('container', gid);
    const gs = await send(guard.socketPath!, 'POST', `/v1.23/containers/${gid}/start`, body);
    assert.equal(gs.status, 400, gs.text);
    assert.match((JSON.parse(gs.text) as { message: string }).message, /denied by rule bad-api-version\b/);
    // and a body on start at a current version is dropped, never forwarded: the container starts without the bind
    const gs2 = await send(guard.socketPath!, 'POST', `/v1.41/containers/${gid}/start`, body);
    assert.equal(gs2.status, 204, gs2.text);
    const gins = JSON.parse((await send(d.socketPath, 'GET', `/v1.41/containers/${gid}/json`)).text) as { HostConfig: { Binds: string[] | null } };
    assert.ok(!gins.HostConfig.Binds?.length, JSON.stringify(gins.HostConfig.Binds));
  });

  it('daemon-fetch: the daemon imports from a loopback URL (the host network); the guard refuses', async () => {
    const tar = makeTar([{ name: 'hello.txt', data: 'from a host-only service\n' }]);
    const srv = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-tar', 'Content-Length': String(tar.length) });
      res.end(tar);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as { port: number }).port;
      const url = encodeURIComponent(`http://127.0.0.1:${port}/layer.tar`);
      const direct = await send(d.socketPath, 'POST', `/v1.41/images/create?fromSrc=${url}&repo=${prefix}-imp&tag=1`);
      assert.equal(direct.status, 200, direct.text);
      assert.match(direct.text, /sha256:/);
      const g = await send(guard.socketPath!, 'POST', `/v1.41/images/create?fromSrc=${url}&repo=${prefix}-imp2&tag=1`);
      assert.equal(g.status, 403, g.text);
      assert.match((JSON.parse(g.text) as { message: string }).message, /denied by rule daemon-fetch\b/);
      covered.add('daemon-fetch');
    } finally {
      srv.close();
      await send(d.socketPath, 'DELETE', `/v1.41/images/${prefix}-imp:1`).catch(() => undefined);
    }
  });

  it('two owners on one daemon: lists are filtered, by-name access answers 404, labels are set', async () => {
    const other = await startGuard({ upstream: d.url, listen: `unix://${join(dir, 'o.sock')}`, owner: `${owner}-b`, policy: base });
    try {
      const netName = `${prefix}-net-a`;
      const n = await send(guard.socketPath!, 'POST', '/v1.41/networks/create', JSON.stringify({ Name: netName }));
      assert.equal(n.status, 201, n.text);
      track('network', n);
      const v = await send(guard.socketPath!, 'POST', '/v1.41/volumes/create', JSON.stringify({ Name: `${prefix}-vol-a` }));
      assert.equal(v.status, 201, v.text);
      track('volume', v);
      const ins = JSON.parse((await send(d.socketPath, 'GET', `/v1.41/containers/${running}/json`)).text) as { Config: { Labels: Record<string, string> } };
      assert.equal(ins.Config.Labels['io.nestling.owner'], owner);
      // anonymous volumes (docker run -v /anon) and new named ones in Binds are created with the owner label
      const av = await send(guard.socketPath!, 'POST', `/v1.41/containers/create?name=${prefix}-anon`, JSON.stringify({ Image: IMAGE, Volumes: { '/anon': {} }, HostConfig: { Binds: [`${prefix}-vol-new:/new`] } }));
      assert.equal(av.status, 201, av.text);
      track('container', av);
      cleanup.add('volume', `${prefix}-vol-new`);
      const avi = JSON.parse((await send(d.socketPath, 'GET', `/v1.41/containers/${(JSON.parse(av.text) as { Id: string }).Id}/json`)).text) as { Mounts: { Name: string; Destination: string }[] };
      assert.equal(avi.Mounts.length, 2);
      for (const m of avi.Mounts) {
        cleanup.add('volume', m.Name);
        const vi = JSON.parse((await send(d.socketPath, 'GET', `/v1.41/volumes/${m.Name}`)).text) as { Labels: Record<string, string> | null };
        assert.equal(vi.Labels?.['io.nestling.owner'], owner, `volume for ${m.Destination}`);
      }
      // owner A sees its objects, owner B sees none of them
      const listA = JSON.parse((await send(guard.socketPath!, 'GET', '/v1.41/containers/json?all=1')).text) as { Id: string }[];
      assert.ok(listA.some((c) => c.Id === running));
      assert.ok(!listA.some((c) => c.Id === foreign), 'an unlabelled container is not listed');
      const listB = JSON.parse((await send(other.socketPath!, 'GET', '/v1.41/containers/json?all=1')).text) as { Id: string }[];
      assert.ok(!listB.some((c) => c.Id === running));
      const netsB = JSON.parse((await send(other.socketPath!, 'GET', '/v1.41/networks')).text) as { Name: string }[];
      assert.ok(!netsB.some((x) => x.Name === netName));
      const volsB = JSON.parse((await send(other.socketPath!, 'GET', '/v1.41/volumes')).text) as { Volumes: { Name: string }[] | null };
      assert.ok(!(volsB.Volumes ?? []).some((x) => x.Name === `${prefix}-vol-a`));
      // by name, by id, by id prefix: the daemon's own 404 wording
      for (const ref of [`${prefix}-run`, running, running.slice(0, 12)]) {
        const r = await send(other.socketPath!, 'GET', `/v1.41/containers/${ref}/json`);
        assert.equal(r.status, 404, r.text);
        assert.equal((JSON.parse(r.text) as { message: string }).message, `No such container: ${ref}`);
      }
      const rn = await send(other.socketPath!, 'GET', `/v1.41/networks/${netName}`);
      assert.equal(rn.status, 404);
      assert.equal((JSON.parse(rn.text) as { message: string }).message, `network ${netName} not found`);
      const rv = await send(other.socketPath!, 'DELETE', `/v1.41/volumes/${prefix}-vol-a`);
      assert.equal(rv.status, 404);
      assert.equal((JSON.parse(rv.text) as { message: string }).message, `get ${prefix}-vol-a: no such volume`);
      const kill = await send(other.socketPath!, 'POST', `/v1.41/containers/${running}/kill`);
      assert.equal(kill.status, 404);
      const ex = await send(other.socketPath!, 'POST', `/v1.41/containers/${running}/exec`, JSON.stringify({ Cmd: ['true'] }));
      assert.equal(ex.status, 404);
      // and the object is still there and running
      const still = JSON.parse((await send(d.socketPath, 'GET', `/v1.41/containers/${running}/json`)).text) as { State: { Running: boolean } };
      assert.equal(still.State.Running, true);
    } finally {
      await other.close();
    }
  });

  it('the rename smuggled in a form body did not happen through the guard', async () => {
    const r = await send(d.socketPath, 'GET', `/v1.41/containers/${running}/json`);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.text) as { Name: string }).Name, `/${prefix}-run`);
  });

  it('every rule id has a two-sided case (or is a request-shape rule covered by the hostile-HTTP and unit tests)', () => {
    const shapeOnly = new Set<string>();
    // rules whose two-sided case needs steps between requests live in their own files
    const elsewhere = new Map([
      ['bind-swapped', 'bind-swap.test.ts (create, swap a symlink in, start)'],
      ['restart-host-path', 'bind-swap.test.ts (create and update with a restart policy and a bind)'],
      // gRPC calls over /grpc: both sides in buildkit-grpc.test.ts
      ...['grpc-method', 'grpc-unreadable', 'build-entitlement', 'build-frontend', 'build-exporter', 'build-container'].map((r) => [r, 'buildkit-grpc.test.ts'] as [string, string]),
    ]);
    const missing = Object.keys(RULES).filter((id) => !covered.has(id) && !shapeOnly.has(id) && !elsewhere.has(id) && !cases.some((c) => c.rule === id));
    assert.deepEqual(missing, []);
  });
});
