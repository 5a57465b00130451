/**
 * Attacks across owners through the guard, against the real dockerd (two-sided: what the daemon does directly,
 * and what the guard answers).
 *
 * 1. A legacy build whose `networkmode` names another owner's network: the daemon runs the RUN steps on that network
 *    (the build reaches the other job's containers). The guard used to check only `host` and `container:`.
 * 2. The container list's `since` / `before` filters name a container the daemon resolves: another owner's container
 *    answers 200, a missing one "no such container" (an existence oracle, and `before`/`since` reveal its creation
 *    time). Through the guard both answer the same 404, and the job's own containers still work.
 * 3. Other cross-owner references the rules already refused, not covered by isolation.test.ts: namespace joins by id
 *    prefix and by `/name`, the cgroup join, network endpoints by id prefix, the websocket attach, network connect
 *    of another owner's container to an own network.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { makeTar } from '../../../src/util/tar.js';
import { startTestGuard, type TestGuard, apiRequest, type ApiResponse } from './helpers.js';

type Res = ApiResponse;
const send = apiRequest;

const IMAGE = 'nestling/busybox:local';
const q = encodeURIComponent;

describe('guard attacks: across owners', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let ga: TestGuard;
  let gb: TestGuard;
  const prefix = uniquePrefix('gatkx');
  const netA = `${prefix}-neta`;
  const netB = `${prefix}-netb`;
  let subnetA = '';
  let subnetB = '';
  let netBId = '';
  let cA = ''; // A's container
  let cB = ''; // B's running container
  const images: string[] = [];

  const createNet = async (g: TestGuard, name: string): Promise<{ id: string; subnet: string }> => {
    const r = await send(g.socketPath!, 'POST', '/networks/create', JSON.stringify({ Name: name }));
    assert.equal(r.status, 201, r.text);
    const id = cleanup.add('network', (JSON.parse(r.text) as { Id: string }).Id);
    const i = await send(d.socketPath, 'GET', `/networks/${id}`);
    const subnet = (JSON.parse(i.text) as { IPAM: { Config: { Subnet: string }[] } }).IPAM.Config[0]!.Subnet;
    return { id, subnet };
  };
  const createContainer = async (g: TestGuard | undefined, name: string, cmd: string[]): Promise<string> => {
    const r = await send(g ? g.socketPath! : d.socketPath, 'POST', `/containers/create?name=${name}`, JSON.stringify({ Image: IMAGE, Cmd: cmd }));
    assert.equal(r.status, 201, r.text);
    return cleanup.add('container', (JSON.parse(r.text) as { Id: string }).Id);
  };
  /** the first three octets of the subnet: the daemon gives the first containers .2, .3 ... */
  const netPrefix = (subnet: string) => subnet.split('.').slice(0, 3).join('.') + '.';

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    ga = await startTestGuard(d, `${prefix}-A`);
    gb = await startTestGuard(d, `${prefix}-B`);
    ({ subnet: subnetA } = await createNet(ga, netA));
    ({ id: netBId, subnet: subnetB } = await createNet(gb, netB));
    assert.notEqual(netPrefix(subnetA), netPrefix(subnetB));
    cA = await createContainer(ga, `${prefix}-ca`, ['sleep', '300']);
    cB = await createContainer(gb, `${prefix}-cb`, ['sleep', '300']);
    const s = await send(gb.socketPath!, 'POST', `/containers/${cB}/start`);
    assert.equal(s.status, 204, s.text);
  });

  after(async () => {
    await ga?.close();
    await gb?.close();
    for (const i of images) cleanup.add('image', i);
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  const context = makeTar([{ name: 'Dockerfile', data: `FROM ${IMAGE}\nRUN ip -4 -o addr show eth0\n` }]);
  const build = async (socketPath: string, networkmode: string, tag: string): Promise<Res> => {
    const r = await send(socketPath, 'POST', `/build?networkmode=${q(networkmode)}&t=${q(tag)}&rm=1&forcerm=1&nocache=1`, context, 'application/x-tar');
    if (r.status === 200) images.push(tag);
    return r;
  };

  it('legacy build on another owner\'s network: the daemon runs RUN on it; the guard answers "network not found"', async () => {
    const direct = await build(d.socketPath, netB, `${prefix}-direct:1`);
    assert.equal(direct.status, 200, direct.text);
    assert.match(direct.text, /Successfully built/, direct.text);
    assert.ok(direct.text.includes(`inet ${netPrefix(subnetB)}`), `the RUN step was on B's network ${subnetB}: ${direct.text}`);
    for (const ref of [netB, netBId, netBId.slice(0, 12)]) {
      const g = await build(ga.socketPath!, ref, `${prefix}-viaguard:1`);
      assert.equal(g.status, 404, g.text);
      assert.deepEqual(JSON.parse(g.text), { message: `network ${ref} not found` });
    }
  });

  it('legacy build on the job\'s own network works through the guard (forwarded by id)', async () => {
    const g = await build(ga.socketPath!, netA, `${prefix}-own:1`);
    assert.equal(g.status, 200, g.text);
    assert.match(g.text, /Successfully built/, g.text);
    assert.ok(g.text.includes(`inet ${netPrefix(subnetA)}`), `the RUN step was on A's network ${subnetA}: ${g.text}`);
    const rec = ga.records.filter((r) => r.route === 'build').at(-1);
    assert.equal(rec?.decision, 'forward');
  });

  it('container list since/before: directly an existence oracle for another owner\'s container; through the guard the same 404 as a missing one', async () => {
    const list = (socketPath: string, key: string, ref: string) => send(socketPath, 'GET', `/containers/json?all=1&filters=${q(JSON.stringify({ [key]: [ref] }))}`);
    const missing = `${prefix}-nope`;
    for (const key of ['since', 'before']) {
      const exists = await list(d.socketPath, key, `${prefix}-cb`);
      const absent = await list(d.socketPath, key, missing);
      assert.equal(exists.status, 200, exists.text);
      assert.notEqual(absent.status, 200, 'the daemon tells an existing container from a missing one');
      assert.match(absent.text, /no such container/i);
      for (const ref of [`${prefix}-cb`, cB, cB.slice(0, 12), missing]) {
        const g = await list(ga.socketPath!, key, ref);
        assert.equal(g.status, 404, g.text);
        assert.deepEqual(JSON.parse(g.text), { message: `No such container: ${ref}` });
      }
    }
    // the job's own container: works, and only the job's containers are listed
    const later = await createContainer(ga, `${prefix}-ca2`, ['true']);
    const own = await list(ga.socketPath!, 'since', `${prefix}-ca`);
    assert.equal(own.status, 200, own.text);
    assert.deepEqual((JSON.parse(own.text) as { Id: string }[]).map((c) => c.Id), [later]);
    const own2 = await list(ga.socketPath!, 'before', later.slice(0, 12));
    assert.equal(own2.status, 200, own2.text);
    assert.deepEqual((JSON.parse(own2.text) as { Id: string }[]).map((c) => c.Id), [cA]);
  });

  it('a name that is another owner\'s container id prefix: free on the daemon, and through the guard (no existence oracle)', async () => {
    const name = cB.slice(0, 16);
    const direct = await send(d.socketPath, 'POST', `/containers/create?name=${name}`, JSON.stringify({ Image: IMAGE, Cmd: ['true'] }));
    assert.equal(direct.status, 201, direct.text);
    await send(d.socketPath, 'DELETE', `/containers/${(JSON.parse(direct.text) as { Id: string }).Id}`);
    const r = await send(ga.socketPath!, 'POST', `/containers/create?name=${name}`, JSON.stringify({ Image: IMAGE, Cmd: ['true'] }));
    assert.equal(r.status, 201, r.text);
    const id = cleanup.add('container', (JSON.parse(r.text) as { Id: string }).Id);
    // the name now means A's container; a rename of another of A's containers onto B's prefix is free too
    const rn = await send(ga.socketPath!, 'POST', `/containers/${id}/rename?name=${cB.slice(0, 14)}`);
    assert.equal(rn.status, 204, rn.text);
    // while B's real name still conflicts
    const taken = await send(ga.socketPath!, 'POST', `/containers/create?name=${prefix}-cb`, JSON.stringify({ Image: IMAGE }));
    assert.equal(taken.status, 409, taken.text);
    assert.match(taken.text, /denied by rule name-conflict/);
  });

  it('the image list hides another owner\'s images (docs/guard.md), base images stay visible', async () => {
    const commit = await send(gb.socketPath!, 'POST', `/commit?container=${cB}&repo=${q(`${prefix}-bimg`)}&tag=1`, '{}');
    assert.equal(commit.status, 201, commit.text);
    const bImage = (JSON.parse(commit.text) as { Id: string }).Id;
    images.push(bImage);
    const direct = JSON.parse((await send(d.socketPath, 'GET', '/images/json')).text) as { Id: string }[];
    assert.ok(direct.some((i) => i.Id === bImage), 'the daemon lists it');
    const viaB = JSON.parse((await send(gb.socketPath!, 'GET', '/images/json')).text) as { Id: string }[];
    assert.ok(viaB.some((i) => i.Id === bImage), 'its owner lists it');
    const viaA = await send(ga.socketPath!, 'GET', '/images/json?all=1');
    assert.equal(viaA.status, 200, viaA.text);
    const listA = JSON.parse(viaA.text) as { Id: string; RepoTags: string[] | null }[];
    assert.ok(!listA.some((i) => i.Id === bImage), 'another owner does not');
    assert.ok(listA.some((i) => (i.RepoTags ?? []).includes(IMAGE)), 'base images stay visible');
  });

  it('namespace and cgroup joins of another owner\'s container by id prefix or /name: 404', async () => {
    for (const [field, value] of [
      ['NetworkMode', `container:${cB.slice(0, 12)}`],
      ['PidMode', `container:/${prefix}-cb`],
      ['IpcMode', `container:${cB}`],
      ['Cgroup', `container:${cB.slice(0, 10)}`],
    ] as const) {
      const ref = value.slice('container:'.length);
      const direct = await send(d.socketPath, 'POST', `/containers/create?name=${prefix}-j${field.toLowerCase()}`, JSON.stringify({ Image: IMAGE, Cmd: ['true'], HostConfig: { [field]: value } }));
      if (direct.status === 201) cleanup.add('container', (JSON.parse(direct.text) as { Id: string }).Id);
      assert.equal(direct.status, 201, `the daemon accepts ${field}=${value}: ${direct.text}`);
      const g = await send(ga.socketPath!, 'POST', '/containers/create', JSON.stringify({ Image: IMAGE, Cmd: ['true'], HostConfig: { [field]: value } }));
      assert.equal(g.status, 404, g.text);
      assert.deepEqual(JSON.parse(g.text), { message: `No such container: ${ref}` });
    }
  });

  it('legacy links: to another owner\'s container (by /name, or by id prefix) 404; to an own one works, by the checked id', async () => {
    for (const link of [`/${prefix}-cb:db`, `${cB.slice(0, 12)}`]) {
      const g = await send(ga.socketPath!, 'POST', '/containers/create', JSON.stringify({ Image: IMAGE, Cmd: ['true'], HostConfig: { Links: [link] } }));
      assert.equal(g.status, 404, g.text);
      assert.match(g.text, /No such container/);
    }
    assert.equal((await send(ga.socketPath!, 'POST', `/containers/${cA}/start`)).status, 204);
    const c = await send(ga.socketPath!, 'POST', `/containers/create?name=${prefix}-linker`, JSON.stringify({ Image: IMAGE, Cmd: ['cat', '/etc/hosts'], HostConfig: { Links: [`${prefix}-ca:db`] } }));
    assert.equal(c.status, 201, c.text);
    const id = cleanup.add('container', (JSON.parse(c.text) as { Id: string }).Id);
    assert.equal((await send(ga.socketPath!, 'POST', `/containers/${id}/start`)).status, 204);
    assert.equal((await send(ga.socketPath!, 'POST', `/containers/${id}/wait`)).status, 200);
    const logs = await send(ga.socketPath!, 'GET', `/containers/${id}/logs?stdout=1`);
    assert.match(logs.text, /\sdb(\s|$)/m, logs.text);
    const insp = JSON.parse((await send(d.socketPath, 'GET', `/containers/${id}/json`)).text) as { HostConfig: { Links: string[] } };
    assert.deepEqual(insp.HostConfig.Links, [`/${prefix}-ca:/${prefix}-linker/db`]);
  });

  it('an endpoint on another owner\'s network by id prefix; connecting another owner\'s container to an own network: 404', async () => {
    const body = JSON.stringify({ Image: IMAGE, Cmd: ['true'], NetworkingConfig: { EndpointsConfig: { [netBId.slice(0, 12)]: {} } } });
    const g = await send(ga.socketPath!, 'POST', '/containers/create', body);
    assert.equal(g.status, 404, g.text);
    assert.deepEqual(JSON.parse(g.text), { message: `network ${netBId.slice(0, 12)} not found` });
    const c = await send(ga.socketPath!, 'POST', `/networks/${netA}/connect`, JSON.stringify({ Container: `${prefix}-cb` }));
    assert.equal(c.status, 404, c.text);
    assert.deepEqual(JSON.parse(c.text), { message: `No such container: ${prefix}-cb` });
    const insp = await send(d.socketPath, 'GET', `/containers/${cB}/json`);
    assert.ok(!Object.keys((JSON.parse(insp.text) as { NetworkSettings: { Networks: Record<string, unknown> } }).NetworkSettings.Networks).includes(netA));
  });

  it('the websocket attach, stats, top and logs of another owner\'s container: 404', async () => {
    for (const p of [`/containers/${cB}/attach/ws?stream=1`, `/containers/${prefix}-cb/stats?stream=0`, `/containers/${cB.slice(0, 12)}/top`, `/containers/${prefix}-cb/logs?stdout=1`]) {
      const g = await send(ga.socketPath!, 'GET', p);
      assert.equal(g.status, 404, `${p}: ${g.text}`);
      assert.match(g.text, /No such container/);
    }
  });
});
