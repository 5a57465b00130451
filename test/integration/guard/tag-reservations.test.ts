// A tag is checked when a write starts and written when it ends (found by attacking the guard): a job could hold a
// BuildKit build open (a client-side frontend build waits for LLBBridge.Return) naming a tag nobody had, let another
// job build that tag, then finish and move it. The first guard to allow a write to a free tag reserves it for its
// owner (tag-reservations.ts, shared by the host's guards): the second job's build is refused like a tag the first
// already has, and the tag it would have owned is never moved under it. Against the real daemon.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useDockerd, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { readBody } from '../../../src/engine/transport.js';
import { readFields } from '../../../src/guard/grpc/proto.js';
import { apiRequest, startTestGuard, type TestGuard } from './helpers.js';
import { call, filesDefinition, openGrpc, pb, SOLVE, solveRequest } from './buildkit-client.js';

const BRIDGE = '/moby.buildkit.v1.frontend.LLBBridge/';

describe('guard: tag reservations (a held build cannot move a tag another job builds meanwhile)', () => {
  let d: TestDaemon;
  let attacker: TestGuard;
  let victim: TestGuard;
  let cleanup: Cleanup;
  const tag = `nst-tagres-${Date.now().toString(36)}`;
  const name = `${tag}:ci`;

  const imageInfo = async (n: string) => {
    const r = await d.engine.request({ method: 'GET', path: `/images/${n}/json`, acceptStatus: () => true });
    const body = (await readBody(r)).toString();
    return r.statusCode === 200 ? (JSON.parse(body) as { Id: string; Config: { Labels: Record<string, string> | null } }) : undefined;
  };

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    attacker = await startTestGuard(d, `${tag}-attacker`);
    victim = await startTestGuard(d, `${tag}-victim`);
  });
  after(async () => {
    await attacker?.close();
    await victim?.close();
    cleanup.add('image', name);
    await cleanup.run();
  });

  it('the second owner\'s build of a tag reserved by a held build is refused; the held build then lands on its own name', async () => {
    const a = await openGrpc(attacker.socketPath!);
    const v = await openGrpc(victim.socketPath!);
    try {
      const ref = `nsthold${Date.now()}`;
      // 1. a held build naming a reference nobody has yet: allowed, and reserved for its owner
      const held = call(a, SOLVE, solveRequest({ ref, exporter: 'moby', exporterAttrs: { name } }), { timeoutMs: 120_000 });
      await new Promise((r) => setTimeout(r, 500));
      // 2. the other owner's build of the same tag, and a legacy tag onto it: refused as not its own
      const built = await call(
        v,
        SOLVE,
        solveRequest({
          ref: `nstvictim${Date.now()}`,
          frontend: 'dockerfile.v0',
          frontendInputs: {
            dockerfile: filesDefinition({ '/Dockerfile': 'FROM scratch\nCOPY f /f\n' }),
            context: filesDefinition({ '/f': 'victim\n' }),
          },
          exporter: 'moby',
          exporterAttrs: { name },
        }),
      );
      assert.equal(built.code, 7, built.message);
      assert.match(built.message, /denied by rule image-not-owned/);
      const plain = await apiRequest(victim.socketPath!, 'POST', `/images/nestling/busybox:local/tag?repo=${tag}&tag=ci`);
      assert.equal(plain.status, 403, plain.text);
      assert.equal(await imageInfo(name), undefined, 'nothing was written under the reserved name meanwhile');
      // 3. the held build ends: its own content under the name it reserved first
      const md = { 'buildkit-controlapi-buildid': ref };
      const s = await call(a, `${BRIDGE}Solve`, pb([[1, filesDefinition({ '/mine': 'first\n' })]]), { headers: md });
      assert.equal(s.code, 0, s.message);
      const id = readFields(s.messages[0]!, 'SolveResponse').find((f) => f.no === 1)?.bytes?.toString();
      assert.ok(id, 'a result ref');
      const ret = await call(a, `${BRIDGE}Return`, pb([[1, pb([[1, id]])]]), { headers: md });
      assert.equal(ret.code, 0, ret.message);
      const done = await held;
      assert.equal(done.code, 0, done.message);
      assert.ok(await imageInfo(name));
    } finally {
      a.close();
      v.close();
    }
  });

  it('a reservation ends with its guard: another owner may then write the name (here: it is free again)', async () => {
    const free = `${tag}-free:1`;
    const g1 = await startTestGuard(d, `${tag}-first`);
    const r1 = await apiRequest(g1.socketPath!, 'POST', `/images/nestling/busybox:local/tag?repo=${tag}-free&tag=1`);
    assert.equal(r1.status, 201, r1.text);
    // the tag now exists with no owner label (a retag of a shared image): nobody may move it; remove it directly
    await d.engine.call({ method: 'DELETE', path: `/images/${free}` });
    // still reserved by the first owner while its guard runs
    const r2 = await apiRequest(victim.socketPath!, 'POST', `/images/nestling/busybox:local/tag?repo=${tag}-free&tag=1`);
    assert.equal(r2.status, 403, r2.text);
    await g1.close();
    const r3 = await apiRequest(victim.socketPath!, 'POST', `/images/nestling/busybox:local/tag?repo=${tag}-free&tag=1`);
    assert.equal(r3.status, 201, r3.text);
    cleanup.add('image', free);
  });
});
