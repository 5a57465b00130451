import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { filterEventLine, filterJsonResponse } from './response-filter.js';
import { Learner, learningDecide } from './learn.js';
import { decide } from './decide.js';
import { defaultPolicy } from './policy.js';
import { parsePolicy } from './policy-file.js';
import { fakeContext, makeView } from './rules/testing.js';
import { mergeMappings, parseMapping, translatePath } from './path-discovery.js';
import { formatRecord, type GuardDecisionRecord } from './audit-log.js';

const L = 'io.nestling.owner';

describe('response filters', () => {
  it('images-list hides images of other owners, keeps unlabelled and own', () => {
    const body = Buffer.from(JSON.stringify([{ Id: 'a', Labels: null }, { Id: 'b', Labels: { [L]: 'me' } }, { Id: 'c', Labels: { [L]: 'other' } }]));
    const out = JSON.parse(filterJsonResponse('images-list', body, 'me').toString()) as { Id: string }[];
    assert.deepEqual(
      out.map((i) => i.Id),
      ['a', 'b'],
    );
  });
  it('system-df keeps owned containers and volumes, hides build cache, recomputes LayersSize', () => {
    const df = {
      LayersSize: 999,
      Images: [
        { Id: 'a', Size: 10, SharedSize: 0, Labels: {} },
        { Id: 'x', Size: 500, SharedSize: 0, Labels: { [L]: 'other' } },
      ],
      Containers: [{ Id: 'c1', Labels: { [L]: 'me' } }, { Id: 'c2', Labels: { [L]: 'other' } }, { Id: 'c3', Labels: {} }],
      Volumes: [{ Name: 'v1', Labels: { [L]: 'me' } }, { Name: 'v2', Labels: null }],
      BuildCache: [{ ID: 'bc' }],
    };
    const out = JSON.parse(filterJsonResponse('system-df', Buffer.from(JSON.stringify(df)), 'me').toString()) as typeof df;
    assert.equal(out.LayersSize, 10);
    assert.deepEqual(
      out.Containers.map((c) => c.Id),
      ['c1'],
    );
    assert.deepEqual(
      out.Volumes.map((v) => v.Name),
      ['v1'],
    );
    assert.deepEqual(out.BuildCache, []);
  });
  it('events: container by attributes, network/volume through the oracle (remembered), others dropped', async () => {
    const asked: string[] = [];
    const isOwned = (kind: string, id: string) => {
      asked.push(`${kind}:${id}`);
      return Promise.resolve(id === 'n1');
    };
    const seen = new Set<string>();
    const ev = (o: unknown) => JSON.stringify(o);
    assert.equal(await filterEventLine(ev({ Type: 'container', Actor: { ID: 'c', Attributes: { [L]: 'me' } } }), 'me', isOwned, seen), true);
    assert.equal(await filterEventLine(ev({ Type: 'container', Actor: { ID: 'c', Attributes: { [L]: 'other' } } }), 'me', isOwned, seen), false);
    assert.equal(await filterEventLine(ev({ Type: 'network', Actor: { ID: 'n1' } }), 'me', isOwned, seen), true);
    assert.equal(await filterEventLine(ev({ Type: 'network', Actor: { ID: 'n2' } }), 'me', isOwned, seen), false);
    assert.equal(await filterEventLine(ev({ Type: 'network', Actor: { ID: 'n1' } }), 'me', () => Promise.resolve(false), seen), true, 'destroy after the object is gone');
    assert.equal(await filterEventLine(ev({ Type: 'daemon', Actor: { ID: 'd' } }), 'me', isOwned, seen), false);
    assert.equal(await filterEventLine('not json', 'me', isOwned, seen), false);
  });
});

describe('path mappings', () => {
  it('parses, merges (explicit wins, most specific first) and translates', () => {
    assert.deepEqual(parseMapping('/work/=/srv/j1//work'), { jobPath: '/work', hostPath: '/srv/j1/work' });
    assert.throws(() => parseMapping('work=/x'), /invalid --map/);
    assert.throws(() => parseMapping('/x'), /invalid --map/);
    const m = mergeMappings([{ jobPath: '/work', hostPath: '/explicit' }], [
      { jobPath: '/work', hostPath: '/discovered' },
      { jobPath: '/work/cache', hostPath: '/cache' },
    ]);
    assert.deepEqual(m[0], { jobPath: '/work/cache', hostPath: '/cache' });
    assert.equal(translatePath('/work/src/../a', m), '/explicit/a');
    assert.equal(translatePath('/work/cache/x', m), '/cache/x');
    assert.equal(translatePath('/workshop', m), undefined);
    assert.equal(translatePath('/other', m), undefined);
  });
});

describe('audit records and learning', () => {
  const rec = (o: Partial<GuardDecisionRecord>): GuardDecisionRecord => ({
    ts: '2026-01-01T00:00:00.000Z',
    level: 'info',
    req: 1,
    method: 'POST',
    path: '/containers/create',
    route: 'container-create',
    owner: 'job',
    decision: 'forward',
    rule: undefined,
    status: 201,
    ms: 3,
    ...o,
  });
  it('formats text and json lines', () => {
    assert.equal(formatRecord(rec({}), 'text'), '2026-01-01T00:00:00.000Z info req#1 POST /containers/create route=container-create owner=job decision=forward rule=- status=201 ms=3');
    assert.equal((JSON.parse(formatRecord(rec({}), 'json')) as { status: number }).status, 201);
  });
  it('turns would-deny records into a policy file (the messages the rules really write)', () => {
    const l = new Learner('job');
    l.observe(rec({ decision: 'would-deny', rule: 'bind-outside-allowlist', message: 'nestling guard: denied by rule bind-outside-allowlist: HostConfig.Binds[0]=/srv/data' }));
    l.observe(rec({ decision: 'would-deny', rule: 'cap-add', message: 'nestling guard: denied by rule cap-add: HostConfig.CapAdd=cap_net_admin' }));
    l.observe(rec({ decision: 'would-deny', rule: 'no-privileged', message: 'nestling guard: denied by rule no-privileged: HostConfig.Privileged=true' }));
    l.observe(rec({ decision: 'deny', rule: 'not-found', message: 'No such container: x' }));
    l.observe(rec({ route: 'container-start' }));
    const r = l.result();
    assert.deepEqual(r.policy.allowBind, ['/srv/data']);
    assert.deepEqual(r.policy.allowCaps, ['NET_ADMIN']);
    assert.deepEqual(r.unrelaxable, ['no-privileged: HostConfig.Privileged=true']);
    assert.deepEqual(r.routes, ['container-create', 'container-start']);
    assert.equal(r.requests, 5);
    const text = l.render();
    assert.match(text, /^version: 1$/m);
    assert.match(text, /^# {3}no-privileged: HostConfig\.Privileged=true$/m);
    // the file is a valid policy file, and it is what was learned on top of the base
    assert.deepEqual(parsePolicy(text, 'learned.yaml'), r.policy);
  });
  it('keeps the base policy the guard ran with', () => {
    const base = { ...defaultPolicy(), allowBind: ['/srv/base'], quotas: { pidsLimit: 100 } };
    const l = new Learner('job', base);
    l.observeMessage('nestling guard: denied by rule runtime: HostConfig.Runtime=runsc');
    const p = parsePolicy(l.render());
    assert.deepEqual(p.allowBind, ['/srv/base']);
    assert.deepEqual(p.allowRuntimes, ['runsc']);
    assert.equal(p.quotas.pidsLimit, 100);
  });
  it('learningDecide finds every relaxation one request needs, and answers the first decision', async () => {
    const ctx = fakeContext();
    const l = new Learner('job-1');
    const view = makeView('POST', '/containers/create', { Image: 'x', HostConfig: { CapAdd: ['NET_ADMIN'], Binds: ['/srv/a:/a'], Privileged: false } });
    const d = await learningDecide(decide, l)(view, ctx);
    assert.equal(d.action, 'deny');
    assert.equal(d.action === 'deny' && d.rule, 'cap-add');
    const p = l.policy();
    assert.deepEqual([p.allowCaps, p.allowBind], [['NET_ADMIN'], ['/srv/a']]);
    const again = await decide(view, { ...ctx, policy: p });
    assert.equal(again.action, 'forward');
    // an unrelaxable refusal stops the loop and relaxes nothing
    const l2 = new Learner('job-1');
    const priv = makeView('POST', '/containers/create', { Image: 'x', HostConfig: { Privileged: true, CapAdd: ['NET_ADMIN'] } });
    await learningDecide(decide, l2)(priv, ctx);
    assert.deepEqual(l2.policy().allowCaps, []);
    assert.deepEqual(l2.result().unrelaxable, ['no-privileged: HostConfig.Privileged=true']);
  });
});

describe('predefined networks (bridge, host, none)', () => {
  const net = (Name: string, Id: string, owner?: string, Containers: Record<string, unknown> = {}) => ({ Name, Id, Driver: 'bridge', Labels: owner ? { [L]: owner } : {}, Containers });
  it('network-list keeps own and predefined networks, empties the predefined ones\' Containers', () => {
    const list = [
      net('bridge', 'b', undefined, { c1: { Name: 'other-job-db' } }),
      net('host', 'h'),
      net('none', 'n'),
      net('mine', 'm', 'me', { c2: { Name: 'my-db' } }),
      net('theirs', 't', 'other'),
      net('unlabelled', 'u'),
    ];
    const out = JSON.parse(filterJsonResponse('network-list', Buffer.from(JSON.stringify(list)), 'me').toString()) as { Name: string; Containers: object }[];
    assert.deepEqual(out.map((n) => n.Name), ['bridge', 'host', 'none', 'mine']);
    assert.deepEqual(out[0]!.Containers, {});
    assert.deepEqual(out[3]!.Containers, { c2: { Name: 'my-db' } });
    assert.throws(() => filterJsonResponse('network-list', Buffer.from('{}'), 'me'), /not an array/);
  });
  it('network-inspect empties Containers of a predefined network, refuses to pass anything else', () => {
    const b = Buffer.from(JSON.stringify({ ...net('bridge', 'b', undefined, { c1: { Name: 'x', IPv4Address: '172.17.0.2/16' } }), IPAM: { Config: [{ Gateway: '172.17.0.1' }] } }));
    const out = JSON.parse(filterJsonResponse('network-inspect', b, 'me').toString()) as { Containers: object; IPAM: { Config: { Gateway: string }[] } };
    assert.deepEqual(out.Containers, {});
    assert.equal(out.IPAM.Config[0]!.Gateway, '172.17.0.1');
    assert.throws(() => filterJsonResponse('network-inspect', Buffer.from(JSON.stringify(net('theirs', 't', 'other'))), 'me'), /neither owned nor predefined/);
    assert.throws(() => filterJsonResponse('network-inspect', Buffer.from(JSON.stringify(net('bridge', 'b', 'other'))), 'me'), /neither owned nor predefined/);
  });
  it('events: a predefined network\'s connect events of the owner\'s containers only', async () => {
    const ev = (container: string) => JSON.stringify({ Type: 'network', Action: 'connect', Actor: { ID: 'bridge-id', Attributes: { container, name: 'bridge', type: 'bridge' } } });
    const owned = (kind: string, id: string) => Promise.resolve(kind === 'container' && id === 'mine');
    assert.equal(await filterEventLine(ev('mine'), 'me', owned), true);
    assert.equal(await filterEventLine(ev('theirs'), 'me', owned), false);
    assert.equal(await filterEventLine(JSON.stringify({ Type: 'network', Action: 'destroy', Actor: { ID: 'bridge-id', Attributes: { name: 'bridge' } } }), 'me', owned), false);
  });
  it('the decider: list, inspect, connect, delete', async () => {
    const ctx = fakeContext({
      objects: {
        network: { bridge: { id: 'bid', owned: false }, bid: { id: 'bid', owned: false }, bi: { id: 'bid', owned: false }, host: { id: 'hid', owned: false }, none: { id: 'nid', owned: false }, theirs: { id: 'tid', owned: false } },
        container: { mine: { id: 'cid', owned: true }, other: { id: 'oid', owned: false } },
      },
    });
    const list = await decide(makeView('GET', '/networks?filters=%7B%22driver%22%3A%5B%22bridge%22%5D%7D'), ctx);
    assert.equal(list.action, 'forward');
    assert.equal(list.action === 'forward' && list.responseFilter, 'network-list');
    assert.equal(list.action === 'forward' && list.rewrite?.target, '/networks?filters=%7B%22driver%22%3A%5B%22bridge%22%5D%7D', 'the job\'s own filters, nothing added');
    const bad = await decide(makeView('GET', '/networks?filters=nope'), ctx);
    assert.equal(bad.action === 'deny' && bad.rule, 'bad-filters');
    for (const ref of ['bridge', 'bid', 'bi']) {
      const ins = await decide(makeView('GET', `/networks/${ref}`), ctx);
      assert.equal(ins.action, 'forward', ref);
      assert.equal(ins.action === 'forward' && ins.responseFilter, 'network-inspect');
      assert.equal(ins.action === 'forward' && ins.rewrite?.target, '/networks/bid');
    }
    const theirs = await decide(makeView('GET', '/networks/theirs'), ctx);
    assert.deepEqual(theirs.action === 'deny' && [theirs.status, theirs.message], [404, 'network theirs not found']);
    const del = await decide(makeView('DELETE', '/networks/bridge'), ctx);
    assert.deepEqual(del.action === 'deny' && [del.status, del.rule], [403, 'system-wide']);
    const delTheirs = await decide(makeView('DELETE', '/networks/theirs'), ctx);
    assert.equal(delTheirs.action === 'deny' && delTheirs.status, 404);
    const conn = await decide(makeView('POST', '/networks/bridge/connect', { Container: 'mine' }), ctx);
    assert.equal(conn.action, 'forward');
    assert.equal(conn.action === 'forward' && conn.rewrite?.target, '/networks/bid/connect');
    const connOther = await decide(makeView('POST', '/networks/bridge/connect', { Container: 'other' }), ctx);
    assert.deepEqual(connOther.action === 'deny' && [connOther.status, connOther.message], [404, 'No such container: other']);
    const host = await decide(makeView('POST', '/networks/host/connect', { Container: 'mine' }), ctx);
    assert.deepEqual(host.action === 'deny' && host.rule, 'host-namespace');
  });
});
