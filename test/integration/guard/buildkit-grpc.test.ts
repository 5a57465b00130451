// BuildKit's control API (/grpc, what buildx's docker driver speaks) through the guard, against the real daemon:
// the h2c connection is terminated and every gRPC call decided. Each refusal is two-sided where the daemon would
// act on the request (the same call sent to the daemon directly succeeds); builds through the Dockerfile frontend
// get the owner label; exporters cannot move another owner's tag; the daemon's own entitlement check still holds
// behind the guard.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { readBody } from '../../../src/engine/transport.js';
import { startTestGuard, type TestGuard } from './helpers.js';
import { defaultPolicy } from '../../../src/guard/policy.js';
import {
  call,
  DISK_USAGE,
  execDefinition,
  filesDefinition,
  LIST_WORKERS,
  openGrpc,
  openSession,
  pb,
  PRUNE,
  SOLVE,
  solveRequest,
  type GrpcConn,
  type SolveArgs,
} from './buildkit-client.js';

const IMAGE = 'docker.io/nestling/busybox:local';
const PERMISSION_DENIED = 7;

describe('guard: BuildKit /grpc', () => {
  let d: TestDaemon;
  let g: TestGuard;
  let g2: TestGuard;
  let dry: TestGuard;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('ggrpc');
  const owner = `${prefix}-a`;
  const ownerB = `${prefix}-b`;
  let viaGuard: GrpcConn;
  let direct: GrpcConn;
  let n = 0;
  const ref = () => `${prefix}-${++n}`.replace(/[^a-z0-9]/g, '');

  const imageInfo = async (name: string): Promise<{ Id: string; Config: { Labels: Record<string, string> | null } } | undefined> => {
    const r = await d.engine.request({ method: 'GET', path: `/images/${name}/json`, acceptStatus: () => true });
    const body = (await readBody(r)).toString();
    return r.statusCode === 200 ? (JSON.parse(body) as { Id: string; Config: { Labels: Record<string, string> | null } }) : undefined;
  };
  const dockerfileBuild = (name: string, extra: Partial<SolveArgs> = {}): Buffer =>
    solveRequest({
      ref: ref(),
      frontend: 'dockerfile.v0',
      frontendInputs: {
        dockerfile: filesDefinition({ '/Dockerfile': 'FROM scratch\nCOPY hello /hello\nLABEL made=by-dockerfile\n' }),
        context: filesDefinition({ '/hello': `${name}\n` }),
      },
      exporter: 'moby',
      exporterAttrs: { name },
      ...extra,
    });
  const denied = (r: { code: number; message: string }, rule: string) => {
    assert.equal(r.code, PERMISSION_DENIED, `expected a refusal, got ${r.code} ${r.message}`);
    assert.match(r.message, new RegExp(`^nestling guard: denied by rule ${rule}: `));
  };

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    g = await startTestGuard(d, owner);
    g2 = await startTestGuard(d, ownerB);
    dry = await startTestGuard(d, `${prefix}-dry`, { dryRun: true });
    viaGuard = await openGrpc(g.socketPath!);
    direct = await openGrpc(d.socketPath);
  });
  after(async () => {
    viaGuard?.close();
    direct?.close();
    for (const x of [g, g2, dry]) await x?.close();
    for (const t of ['own:1', 'foreign:1', 'moved:1', 'lbl:1', 'ent:1', 'dry:1', 'cg:1', 'unk:1', 'raw:1', 'direct:1']) cleanup.add('image', `${prefix}-${t}`);
    await cleanup.run();
  });

  it('the connection is upgraded and plain calls are relayed (ListWorkers)', async () => {
    const r = await call(viaGuard, LIST_WORKERS, Buffer.alloc(0));
    assert.equal(r.code, 0, r.message);
    assert.equal(r.messages.length, 1);
    assert.match(r.messages[0]!.toString('latin1'), /moby/);
    const rec = g.records.find((x) => x.path === LIST_WORKERS);
    assert.equal(rec?.decision, 'forward');
    assert.equal(rec?.route, 'grpc-call');
  });

  it('a Dockerfile build exports its image with the owner label; the job can build the same tag again', async () => {
    const name = `${prefix}-own:1`;
    const r = await call(viaGuard, SOLVE, dockerfileBuild(name));
    assert.equal(r.code, 0, r.message);
    const img = await imageInfo(name);
    assert.equal(img?.Config.Labels?.['io.nestling.owner'], owner);
    assert.equal(img?.Config.Labels?.made, 'by-dockerfile');
    const again = await call(viaGuard, SOLVE, dockerfileBuild(name, { frontendAttrs: { 'build-arg:X': '2', 'label:v': '2' } }));
    assert.equal(again.code, 0, again.message);
    assert.equal((await imageInfo(name))?.Config.Labels?.v, '2');
  });

  it('a raw LLB solve (no frontend) is relayed and exported', async () => {
    const name = `${prefix}-raw:1`;
    const r = await call(viaGuard, SOLVE, solveRequest({ ref: ref(), definition: filesDefinition({ '/x': 'y' }), exporter: 'moby', exporterAttrs: { name } }));
    assert.equal(r.code, 0, r.message);
    assert.ok(await imageInfo(name));
  });

  it('image-not-owned: an exporter name that moves a tag this owner did not create (daemon: moves it)', async () => {
    const foreign = `${prefix}-foreign:1`;
    const made = await call(direct, SOLVE, dockerfileBuild(foreign));
    assert.equal(made.code, 0, made.message);
    const before = (await imageInfo(foreign))!.Id;
    const r = await call(viaGuard, SOLVE, dockerfileBuild(foreign, { frontendAttrs: { 'label:evil': '1' } }));
    denied(r, 'image-not-owned');
    assert.equal((await imageInfo(foreign))!.Id, before, 'the tag did not move');
    // one of several names, and the other owner's guard on this owner's tag
    denied(await call(viaGuard, SOLVE, dockerfileBuild(`${prefix}-moved:1, ${foreign}`)), 'image-not-owned');
    denied(await call(await openGrpc(g2.socketPath!), SOLVE, dockerfileBuild(`${prefix}-own:1`)), 'image-not-owned');
    // directly, the daemon moves it
    const moved = await call(direct, SOLVE, dockerfileBuild(foreign, { frontendAttrs: { 'label:evil': '1' } }));
    assert.equal(moved.code, 0, moved.message);
    assert.notEqual((await imageInfo(foreign))!.Id, before);
  });

  it('reserved-label: a frontend label under io.nestling. (daemon: sets it)', async () => {
    const name = `${prefix}-lbl:1`;
    const attrs = { 'label:io.nestling.owner': ownerB };
    denied(await call(viaGuard, SOLVE, dockerfileBuild(name, { frontendAttrs: attrs })), 'reserved-label');
    const r = await call(direct, SOLVE, dockerfileBuild(name, { frontendAttrs: attrs }));
    assert.equal(r.code, 0, r.message);
    assert.equal((await imageInfo(name))?.Config.Labels?.['io.nestling.owner'], ownerB);
  });

  it('build-entitlement: a solve asking for network.host (daemon: runs the step on the host network)', async () => {
    const name = `${prefix}-ent:1`;
    const req = (ents?: string[], to = name) =>
      solveRequest({ ref: ref(), definition: execDefinition(IMAGE, ['/bin/sh', '-c', 'true'], { network: 1 }), entitlements: ents, exporter: 'moby', exporterAttrs: { name: to } });
    denied(await call(viaGuard, SOLVE, req(['network.host'])), 'build-entitlement');
    denied(await call(viaGuard, SOLVE, req(['security.insecure'])), 'build-entitlement');
    const ok = await call(direct, SOLVE, req(['network.host'], `${prefix}-direct:1`));
    assert.equal(ok.code, 0, ok.message);
    // without the entitlement the daemon's own check refuses the host-network step, through the guard too
    const noEnt = await call(viaGuard, SOLVE, req());
    assert.notEqual(noEnt.code, 0);
    assert.match(noEnt.message, /network\.host is not allowed/);
  });

  it('cgroup-parent: an LLB exec op with its own cgroup parent (daemon 20.10: runs it)', async () => {
    const name = `${prefix}-cg:1`;
    const req = (to = name) => solveRequest({ ref: ref(), definition: execDefinition(IMAGE, ['/bin/sh', '-c', 'true'], { cgroupParent: '/escape' }), exporter: 'moby', exporterAttrs: { name: to } });
    denied(await call(viaGuard, SOLVE, req()), 'cgroup-parent');
    const r = await call(direct, SOLVE, req(`${prefix}-direct:1`));
    assert.equal(r.code, 0, r.message);
    denied(await call(viaGuard, SOLVE, dockerfileBuild(name, { frontendAttrs: { 'cgroup-parent': '/escape' } })), 'cgroup-parent');
  });

  it('build-host-network and daemon-fetch: frontend attributes a legacy build query would be refused for', async () => {
    denied(await call(viaGuard, SOLVE, dockerfileBuild(`${prefix}-own:1`, { frontendAttrs: { 'force-network-mode': 'host' } })), 'build-host-network');
    denied(await call(viaGuard, SOLVE, dockerfileBuild(`${prefix}-own:1`, { frontendAttrs: { context: 'https://example.invalid/repo.git' } })), 'daemon-fetch');
  });

  it('system-wide: DiskUsage lists every job\'s build cache (daemon: answers), Prune is refused', async () => {
    const r = await call(direct, DISK_USAGE, Buffer.alloc(0));
    assert.equal(r.code, 0, r.message);
    denied(await call(viaGuard, DISK_USAGE, Buffer.alloc(0)), 'system-wide');
    // not sent directly: it would prune the shared daemon's build cache under the other suites
    denied(await call(viaGuard, PRUNE, Buffer.alloc(0)), 'system-wide');
  });

  it('grpc-method and build-container: methods not in the table, gateway containers', async () => {
    denied(await call(viaGuard, '/moby.buildkit.v1.Control/NoSuchMethod', Buffer.alloc(0)), 'grpc-method');
    denied(await call(viaGuard, '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', Buffer.alloc(0)), 'grpc-method');
    denied(await call(viaGuard, '/moby.buildkit.v1.frontend.LLBBridge/NewContainer', Buffer.alloc(0)), 'build-container');
    denied(await call(viaGuard, '/moby.buildkit.v1.frontend.LLBBridge/ExecProcess', Buffer.alloc(0)), 'build-container');
    // the daemon does serve the gateway (it answers with its own error for a build id that does not exist)
    const r = await call(direct, '/moby.buildkit.v1.frontend.LLBBridge/NewContainer', Buffer.alloc(0));
    assert.notEqual(r.code, PERMISSION_DENIED);
  });

  it('build-frontend and build-exporter: frontends and exporter types the guard does not know', async () => {
    denied(await call(viaGuard, SOLVE, dockerfileBuild(`${prefix}-own:1`, { frontend: 'mine.v0' })), 'build-frontend');
    denied(await call(viaGuard, SOLVE, solveRequest({ ref: ref(), definition: filesDefinition({ '/x': 'y' }), exporter: 'weird' })), 'build-exporter');
    denied(
      await call(viaGuard, SOLVE, solveRequest({ ref: ref(), definition: filesDefinition({ '/x': 'y' }), exporter: 'moby', exporterAttrs: { 'dangling-name-prefix': 'x' } })),
      'build-exporter',
    );
  });

  it('grpc-unreadable: what Go would read differently is refused (unknown fields, repeats, compression)', async () => {
    const name = `${prefix}-unk:1`;
    // an unknown field: Go skips it and builds (two-sided), the guard cannot know what it means
    const unknown = dockerfileBuild(name, { extra: [[99, 'x']] });
    denied(await call(viaGuard, SOLVE, unknown), 'grpc-unreadable');
    const r = await call(direct, SOLVE, dockerfileBuild(`${prefix}-direct:1`, { extra: [[99, 'x']] }));
    assert.equal(r.code, 0, r.message);
    // the exporter named twice: Go keeps the last, a reader keeping the first checks the wrong one
    denied(await call(viaGuard, SOLVE, dockerfileBuild(`${prefix}-moved:1`, { extra: [[3, 'moby']] })), 'grpc-unreadable');
    // a map key twice
    const dupKey = solveRequest({ ref: ref(), definition: filesDefinition({ '/x': 'y' }), extra: [[4, new Map([['name', `${prefix}-moved:1`]])], [4, new Map([['name', `${prefix}-foreign:1`]])]] });
    denied(await call(viaGuard, SOLVE, dupKey), 'grpc-unreadable');
    // compressed flag, two messages, a truncated frame
    const msg = dockerfileBuild(name);
    const framed = (flag: number, m: Buffer) => {
      const h = Buffer.alloc(5);
      h[0] = flag;
      h.writeUInt32BE(m.length, 1);
      return Buffer.concat([h, m]);
    };
    denied(await call(viaGuard, SOLVE, framed(1, msg), { raw: true }), 'grpc-unreadable');
    const one = framed(0, msg);
    denied(await call(viaGuard, SOLVE, Buffer.concat([one, one]), { raw: true }), 'grpc-unreadable');
    denied(await call(viaGuard, SOLVE, one.subarray(0, one.length - 3), { raw: true }), 'grpc-unreadable');
    // not protobuf at all
    denied(await call(viaGuard, SOLVE, pb([[2, 'x']]).subarray(0, 2)), 'grpc-unreadable');
  });

  it('a refusal ends one call, not the connection: the next call on it works', async () => {
    denied(await call(viaGuard, SOLVE, dockerfileBuild(`${prefix}-own:1`, { entitlements: ['network.host'] })), 'build-entitlement');
    const r = await call(viaGuard, LIST_WORKERS, Buffer.alloc(0));
    assert.equal(r.code, 0);
  });

  it('every gRPC call has an audit record; no message bodies are logged', () => {
    const calls = g.records.filter((x) => x.route === 'grpc-call');
    assert.ok(calls.length >= 20, `only ${calls.length} call records`);
    assert.ok(calls.some((x) => x.decision === 'deny' && x.rule === 'build-entitlement'));
    assert.ok(!JSON.stringify(calls).includes('FROM scratch'));
  });

  it('--dry-run relays a call it would refuse and logs would-deny', async () => {
    const c = await openGrpc(dry.socketPath!);
    try {
      const name = `${prefix}-dry:1`;
      const r = await call(c, SOLVE, dockerfileBuild(name, { frontendAttrs: { 'label:io.nestling.run': 'x' } }));
      assert.equal(r.code, 0, r.message);
      const rec = dry.records.find((x) => x.route === 'grpc-call' && x.decision === 'would-deny');
      assert.equal(rec?.rule, 'reserved-label');
    } finally {
      c.close();
    }
  });

  it('server streaming and cancellation: a Status call on a ref is relayed and a client cancel ends it', async () => {
    const req = viaGuard.session.request({ ':method': 'POST', ':path': '/moby.buildkit.v1.Control/Status', 'content-type': 'application/grpc', te: 'trailers' });
    const body = pb([[1, 'no-such-ref-yet']]);
    const h = Buffer.alloc(5);
    h.writeUInt32BE(body.length, 1);
    req.end(Buffer.concat([h, body]));
    await new Promise((r) => setTimeout(r, 300));
    req.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise<void>((r) => req.once('close', () => r()));
    // the connection still serves calls
    assert.equal((await call(viaGuard, LIST_WORKERS, Buffer.alloc(0))).code, 0);
  });
  it('a session (Control.Session, bidirectional): the daemon calls back into the client through the guard', async () => {
    const id = `${prefix}sess`.replace(/[^a-z0-9]/g, '');
    const diffCopy = '/moby.filesync.v1.FileSync/DiffCopy';
    const health = '/grpc.health.v1.Health/Check';
    // the client exposes FileSync; it answers UNIMPLEMENTED (12): the build fails, after the daemon asked for the
    // Dockerfile over the session, which is what this test is about
    const s = openSession(viaGuard, id, [diffCopy, health], (path) => (path === health ? { code: 0, messages: [Buffer.from([0x08, 0x01])] } : { code: 12 }));
    try {
      await new Promise((r) => setTimeout(r, 200));
      const r = await call(viaGuard, SOLVE, solveRequest({ ref: ref(), frontend: 'dockerfile.v0', exporter: 'moby', exporterAttrs: { name: `${prefix}-own:1` }, extra: [[5, id]] }));
      assert.notEqual(r.code, 0);
      assert.ok(s.calls.includes(diffCopy), `the daemon's calls over the session: ${JSON.stringify(s.calls)}; solve: ${r.message}`);
    } finally {
      s.close();
    }
    assert.equal((await call(viaGuard, LIST_WORKERS, Buffer.alloc(0))).code, 0);
  });
  it('checked messages are capped: one over maxBodyBytes, and several in flight on one connection', async () => {
    const small = await startTestGuard(d, `${prefix}-small`, { policy: { ...defaultPolicy(), maxBodyBytes: 1024 } });
    const c = await openGrpc(small.socketPath!);
    try {
      const big = solveRequest({ ref: ref(), frontend: 'dockerfile.v0', frontendAttrs: { 'build-arg:PAD': 'x'.repeat(2000) } });
      const r = await call(c, SOLVE, big);
      denied(r, 'grpc-unreadable');
      assert.match(r.message, /larger than 1024 bytes/);
      // three Solve streams that send 900 bytes each and do not end: the third is over 2 x 1024 in flight
      const open = [0, 1, 2].map(() => {
        const req = c.session.request({ ':method': 'POST', ':path': SOLVE, 'content-type': 'application/grpc', te: 'trailers' });
        req.on('error', () => undefined);
        let status = '';
        req.on('response', (h) => (status = String(h['grpc-status'] ?? '')));
        req.write(Buffer.alloc(900, 1));
        return { req, status: () => status };
      });
      await new Promise((r2) => setTimeout(r2, 500));
      assert.deepEqual(open.map((x) => x.status()).sort(), ['', '', String(PERMISSION_DENIED)]);
      for (const x of open) x.req.close();
      // the budget is released: a small call works
      assert.equal((await call(c, LIST_WORKERS, Buffer.alloc(0))).code, 0);
    } finally {
      c.close();
      await small.close();
    }
  });
});
