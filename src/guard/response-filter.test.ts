import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { filterEventLine, filterJsonResponse } from './response-filter.js';
import { Learner } from './learn.js';
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
  it('turns would-deny records into a policy file', () => {
    const l = new Learner('job');
    l.observe(rec({ decision: 'would-deny', rule: 'bind-outside-allowlist', message: 'nestling guard: denied by rule bind-outside-allowlist: HostConfig.Binds=/srv/data:/data' }));
    l.observe(rec({ decision: 'would-deny', rule: 'cap-add', message: 'nestling guard: denied by rule cap-add: HostConfig.CapAdd=["NET_ADMIN"]' }));
    l.observe(rec({ decision: 'would-deny', rule: 'no-privileged', message: 'nestling guard: denied by rule no-privileged: HostConfig.Privileged=true' }));
    l.observe(rec({ route: 'container-start' }));
    const r = l.result();
    assert.deepEqual(r.allowBind, ['/srv/data']);
    assert.deepEqual(r.allowCaps, ['NET_ADMIN']);
    assert.deepEqual(r.unrelaxable, ['no-privileged: HostConfig.Privileged=true']);
    assert.deepEqual(r.routes, ['container-create', 'container-start']);
    const text = l.render();
    assert.match(text, /^version: 1$/m);
    assert.match(text, /allowBind:\n {2}- "\/srv\/data"/);
  });
});
