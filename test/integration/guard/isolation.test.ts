// Two concurrent owners on one real dockerd, each through its own guard: neither can see or touch the other's
// objects (lists filtered; by id, name and id prefix => 404 in the daemon's words; exec/attach/archive/export/commit
// refused as not found); everything created through a guard carries its owner label; label spoofing is refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { Engine } from '../../../src/engine/client.js';
import { parseHostUrl } from '../../../src/engine/resolve.js';
import { EngineError } from '../../../src/util/errors.js';
import { DOCKER_28, run, startTestGuard, type TestGuard } from './helpers.js';

const IMG = 'nestling/busybox:local';
const OWNER_LABEL = 'io.nestling.owner';

describe('guard: two owners on one daemon', () => {
  let d: TestDaemon;
  let ga: TestGuard;
  let gb: TestGuard;
  let ea: Engine;
  let eb: Engine;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('giso');
  const ownerA = `${prefix}-A`;
  const ownerB = `${prefix}-B`;
  let cid = '';
  const netName = `${prefix}-neta`;
  const volName = `${prefix}-vola`;
  const dockerA = (args: string[]) => run(DOCKER_28, args, { env: { DOCKER_HOST: ga.url } });
  const dockerB = (args: string[]) => run(DOCKER_28, args, { env: { DOCKER_HOST: gb.url } });

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    ga = await startTestGuard(d, ownerA);
    gb = await startTestGuard(d, ownerB);
    ea = new Engine(parseHostUrl(ga.url, 'test'));
    eb = new Engine(parseHostUrl(gb.url, 'test'));
    const r = await dockerA(['run', '-d', '--name', `${prefix}-a1`, IMG, 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    cid = r.stdout.trim();
    cleanup.add('container', cid);
    assert.equal((await dockerA(['network', 'create', netName])).code, 0);
    cleanup.add('network', netName);
    assert.equal((await dockerA(['volume', 'create', volName])).code, 0);
    cleanup.add('volume', volName);
  });
  after(async () => {
    await ga.close();
    await gb.close();
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  it('objects created through the guard carry the owner label (checked on the daemon directly)', async () => {
    const c = await d.engine.json<{ Config: { Labels: Record<string, string> } }>({ method: 'GET', path: `/containers/${cid}/json` });
    assert.equal(c.Config.Labels[OWNER_LABEL], ownerA);
    const n = await d.engine.json<{ Labels: Record<string, string> }>({ method: 'GET', path: `/networks/${netName}` });
    assert.equal(n.Labels[OWNER_LABEL], ownerA);
    const v = await d.engine.json<{ Labels: Record<string, string> }>({ method: 'GET', path: `/volumes/${volName}` });
    assert.equal(v.Labels[OWNER_LABEL], ownerA);
  });

  it('lists are filtered: B sees none of A\'s containers, networks, volumes; A sees its own', async () => {
    const la = await ea.json<{ Id: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true } });
    assert.ok(la.some((c) => c.Id === cid));
    const lb = await eb.json<{ Id: string; Labels: Record<string, string> }[]>({ method: 'GET', path: '/containers/json', query: { all: true } });
    assert.ok(!lb.some((c) => c.Id === cid));
    assert.ok(lb.every((c) => c.Labels[OWNER_LABEL] === ownerB), 'B only sees its own containers');
    const nb = await eb.json<{ Name: string }[]>({ method: 'GET', path: '/networks' });
    assert.ok(!nb.some((n) => n.Name === netName));
    const vb = await eb.json<{ Volumes: { Name: string }[] | null }>({ method: 'GET', path: '/volumes' });
    assert.ok(!(vb.Volumes ?? []).some((v) => v.Name === volName));
    const psb = await dockerB(['ps', '-a', '--format', '{{.Names}}']);
    assert.doesNotMatch(psb.stdout, new RegExp(`${prefix}-a1`));
  });

  const notFound = async (p: Promise<unknown>, what: RegExp) => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof EngineError, String(e));
      assert.equal(e.statusCode, 404, `${e.message}`);
      assert.match(e.engineMessage ?? '', what);
      return true;
    });
  };

  it('B gets 404 "No such container" by id, name and id prefix', async () => {
    for (const ref of [cid, `${prefix}-a1`, cid.slice(0, 12), cid.slice(0, 5)]) {
      await notFound(eb.json({ method: 'GET', path: `/containers/${ref}/json` }), /No such container/);
    }
  });

  it('B cannot exec, attach, archive, export, commit, stop, remove, rename A\'s container (404)', async () => {
    await notFound(eb.json({ method: 'POST', path: `/containers/${cid}/exec`, body: { Cmd: ['true'] } }), /No such container/);
    await notFound(eb.json({ method: 'GET', path: `/containers/${cid}/archive`, query: { path: '/' } }), /No such container/);
    await notFound(eb.json({ method: 'GET', path: `/containers/${cid}/export` }), /No such container/);
    await notFound(eb.json({ method: 'POST', path: '/commit', query: { container: cid } }), /No such container/);
    await notFound(eb.json({ method: 'POST', path: `/containers/${cid}/stop` }), /No such container/);
    await notFound(eb.json({ method: 'DELETE', path: `/containers/${cid}`, query: { force: true } }), /No such container/);
    await notFound(eb.json({ method: 'POST', path: `/containers/${cid}/rename`, query: { name: `${prefix}-stolen` } }), /No such container/);
    const att = await dockerB(['attach', cid]);
    assert.notEqual(att.code, 0);
    assert.match(att.stderr, /No such container/);
    const ex = await dockerB(['exec', `${prefix}-a1`, 'true']);
    assert.notEqual(ex.code, 0);
    assert.match(ex.stderr, /No such container/);
    // still running, untouched
    const c = await d.engine.json<{ State: { Running: boolean }; Name: string }>({ method: 'GET', path: `/containers/${cid}/json` });
    assert.equal(c.State.Running, true);
    assert.equal(c.Name, `/${prefix}-a1`);
  });

  it('B cannot see or use A\'s exec instances (404)', async () => {
    const ex = await ea.json<{ Id: string }>({ method: 'POST', path: `/containers/${cid}/exec`, body: { Cmd: ['true'] } });
    await notFound(eb.json({ method: 'GET', path: `/exec/${ex.Id}/json` }), /No such exec/);
  });

  it('B cannot reach A\'s network or volume, nor join A\'s container namespaces or volumes', async () => {
    await notFound(eb.json({ method: 'GET', path: `/networks/${netName}` }), /network .* not found|No such network/i);
    await notFound(eb.json({ method: 'DELETE', path: `/networks/${netName}` }), /network .* not found|No such network/i);
    await notFound(eb.json({ method: 'GET', path: `/volumes/${volName}` }), /no such volume/i);
    const r1 = await dockerB(['run', '--rm', '--network', `container:${cid}`, IMG, 'true']);
    assert.notEqual(r1.code, 0);
    const r2 = await dockerB(['run', '--rm', '--volumes-from', cid, IMG, 'true']);
    assert.notEqual(r2.code, 0);
    const r3 = await dockerB(['run', '--rm', '--network', netName, IMG, 'true']);
    assert.notEqual(r3.code, 0);
    const r4 = await dockerB(['run', '--rm', '-v', `${volName}:/v`, IMG, 'true']);
    assert.notEqual(r4.code, 0, 'mounting another owner\'s named volume is refused');
  });

  it('label spoofing is refused: B cannot create objects labelled as A (or as anything under io.nestling.)', async () => {
    const r = await dockerB(['run', '--rm', '--label', `${OWNER_LABEL}=${ownerA}`, IMG, 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied/);
    const n = await dockerB(['network', 'create', '--label', `${OWNER_LABEL}=${ownerA}`, `${prefix}-spoof`]);
    assert.notEqual(n.code, 0);
    cleanup.add('network', `${prefix}-spoof`);
  });

  it('the same container name in both owners: the daemon\'s names are global, so the second create is refused, and B still cannot see A\'s', async () => {
    const r = await dockerB(['create', '--name', `${prefix}-a1`, IMG, 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /already in use|Conflict|name-conflict/, r.stderr);
    assert.doesNotMatch(r.stderr, new RegExp(cid.slice(0, 12)), 'the conflict message must not reveal the other owner\'s container id');
  });
});
