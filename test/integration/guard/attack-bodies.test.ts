/**
 * Hostile create/update/exec bodies and targets against the real dockerd, two-sided: what the daemon does with the
 * request directly (it escalates, or reads the body in a way a naive proxy would not), and that the guard refuses
 * it or forwards only what it checked. Cases already in rules-two-sided.test.ts are not repeated; these are the
 * spellings around them: symlinks and `..` out of an allowed dir, local-volume bind options in Mounts and volume
 * create, deprecated top-level HostConfig fields, duplicate keys in two cases, `\u` escapes and Unicode case folding
 * in keys, relaxing security options, host user/cgroup namespaces, BOMs and out-of-range numbers,
 * escalating updates, a duplicated `filters` parameter, old API versions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { defaultPolicy } from '../../../src/guard/policy.js';
import { startTestGuard, type TestGuard, apiRequest, type ApiResponse } from './helpers.js';

type Res = ApiResponse;
const send = apiRequest;

const IMAGE = 'nestling/busybox:local';
const OWNER = 'io.nestling.owner';
const q = encodeURIComponent;

interface Inspect {
  Id: string;
  HostConfig: { Privileged: boolean; SecurityOpt: string[] | null; UsernsMode: string };
  Config: { Labels: Record<string, string> | null };
}

describe('guard attacks: hostile bodies and targets', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  let g: TestGuard;
  const prefix = uniquePrefix('gatkb');
  const allowDir = mkdtempSync(join(tmpdir(), 'nst-gatkb-allow-'));
  const secretDir = mkdtempSync(join(tmpdir(), 'nst-gatkb-secret-'));
  const secret = `secret-${prefix}`;
  let own = ''; // an owned, running container

  /** POST /containers/create; a 201 is registered for cleanup */
  const create = async (socketPath: string, body: string | object): Promise<Res> => {
    const r = await send(socketPath, 'POST', '/containers/create', typeof body === 'string' ? body : JSON.stringify(body));
    if (r.status === 201) cleanup.add('container', (JSON.parse(r.text) as { Id: string }).Id);
    return r;
  };
  const inspect = async (r: Res): Promise<Inspect> => {
    const id = (JSON.parse(r.text) as { Id: string }).Id;
    const i = await send(d.socketPath, 'GET', `/containers/${id}/json`);
    return JSON.parse(i.text) as Inspect;
  };
  const refused = (r: Res, status: number, rule: string) => {
    assert.equal(r.status, status, r.text);
    assert.match(r.text, new RegExp(`denied by rule ${rule}`), r.text);
  };

  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    cleanup = new Cleanup(d.engine);
    writeFileSync(join(secretDir, 'secret.txt'), secret);
    symlinkSync(secretDir, join(allowDir, 'link'));
    g = await startTestGuard(d, `${prefix}-A`, { policy: { ...defaultPolicy(), allowBind: [allowDir] } });
    const c = await create(g.socketPath!, { Image: IMAGE, Cmd: ['sleep', '300'] });
    assert.equal(c.status, 201, c.text);
    own = (JSON.parse(c.text) as { Id: string }).Id;
    assert.equal((await send(g.socketPath!, 'POST', `/containers/${own}/start`)).status, 204);
  });

  after(async () => {
    await g?.close();
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  it('a symlink inside an allowed dir: the daemon mounts its target; the guard refuses with the resolved path', async () => {
    const bind = `${allowDir}/link:/x:ro`;
    const direct = await create(d.socketPath, { Image: IMAGE, Cmd: ['cat', '/x/secret.txt'], HostConfig: { Binds: [bind] } });
    assert.equal(direct.status, 201, direct.text);
    const id = (JSON.parse(direct.text) as { Id: string }).Id;
    assert.equal((await send(d.socketPath, 'POST', `/containers/${id}/start`)).status, 204);
    assert.equal((await send(d.socketPath, 'POST', `/containers/${id}/wait`)).status, 200);
    const logs = await send(d.socketPath, 'GET', `/containers/${id}/logs?stdout=1`);
    assert.ok(logs.text.includes(secret), 'the container read the file outside the allowed dir');
    const r = await create(g.socketPath!, { Image: IMAGE, HostConfig: { Binds: [bind] } });
    refused(r, 403, 'bind-outside-allowlist');
    assert.ok(r.text.includes(secretDir), r.text);
  });

  it('.. out of an allowed dir, in Binds and in Mounts (with BindOptions), is refused', async () => {
    const up = `${allowDir}/../${secretDir.split('/').pop()!}`;
    refused(await create(g.socketPath!, { Image: IMAGE, HostConfig: { Binds: [`${up}:/x`] } }), 403, 'bind-outside-allowlist');
    refused(
      await create(g.socketPath!, { Image: IMAGE, HostConfig: { Mounts: [{ Type: 'bind', Source: `${allowDir}/link/`, Target: '/x', BindOptions: { Propagation: 'rshared' } }] } }),
      403,
      'bind-outside-allowlist',
    );
  });

  it('a local volume with bind options in Mounts: the daemon mounts the host dir; the guard refuses', async () => {
    const mount = (name: string) => ({ Type: 'volume', Source: name, Target: '/x', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'ro,rbind', device: secretDir } } } });
    const direct = await create(d.socketPath, { Image: IMAGE, Cmd: ['cat', '/x/secret.txt'], HostConfig: { Mounts: [mount(`${prefix}-dv`)] } });
    assert.equal(direct.status, 201, direct.text);
    cleanup.add('volume', `${prefix}-dv`);
    const id = (JSON.parse(direct.text) as { Id: string }).Id;
    assert.equal((await send(d.socketPath, 'POST', `/containers/${id}/start`)).status, 204);
    assert.equal((await send(d.socketPath, 'POST', `/containers/${id}/wait`)).status, 200);
    assert.ok((await send(d.socketPath, 'GET', `/containers/${id}/logs?stdout=1`)).text.includes(secret));
    refused(await create(g.socketPath!, { Image: IMAGE, HostConfig: { Mounts: [mount(`${prefix}-gv`)] } }), 403, 'bind-outside-allowlist');
    // an anonymous one too, and through the symlink in the allowed dir
    const anon = { Type: 'volume', Target: '/x', VolumeOptions: { DriverConfig: { Options: { o: 'bind', device: `${allowDir}/link` } } } };
    refused(await create(g.socketPath!, { Image: IMAGE, HostConfig: { Mounts: [anon] } }), 403, 'bind-outside-allowlist');
  });

  it('an anonymous volume Mount carrying the owner label: the daemon labels the volume; the guard refuses, and labels its own', async () => {
    const mount = { Type: 'volume', Target: '/x', VolumeOptions: { Labels: { [OWNER]: `${prefix}-B` } } };
    const volumeOf = async (r: Res) => {
      const i = await send(d.socketPath, 'GET', `/containers/${(JSON.parse(r.text) as { Id: string }).Id}/json`);
      const name = (JSON.parse(i.text) as { Mounts: { Name: string }[] }).Mounts[0]!.Name;
      cleanup.add('volume', name);
      return JSON.parse((await send(d.socketPath, 'GET', `/volumes/${name}`)).text) as { Labels: Record<string, string> | null };
    };
    const direct = await create(d.socketPath, { Image: IMAGE, HostConfig: { Mounts: [mount] } });
    assert.equal(direct.status, 201, direct.text);
    assert.equal((await volumeOf(direct)).Labels?.[OWNER], `${prefix}-B`, 'the daemon created a volume labelled as another owner\'s');
    refused(await create(g.socketPath!, { Image: IMAGE, HostConfig: { Mounts: [mount] } }), 403, 'reserved-label');
    const plain = await create(g.socketPath!, { Image: IMAGE, HostConfig: { Mounts: [{ Type: 'volume', Target: '/x', VolumeOptions: { Labels: { app: '1' } } }] } });
    assert.equal(plain.status, 201, plain.text);
    const v = await volumeOf(plain);
    assert.equal(v.Labels?.[OWNER], `${prefix}-A`, 'an anonymous volume of a Mount is the job\'s');
    assert.equal(v.Labels?.app, '1');
  });

  it('volume create with bind driver options: the daemon accepts; the guard refuses', async () => {
    const direct = await send(d.socketPath, 'POST', '/volumes/create', JSON.stringify({ Name: `${prefix}-dvc`, DriverOpts: { type: 'none', o: 'bind', device: '/' } }));
    assert.equal(direct.status, 201, direct.text);
    cleanup.add('volume', `${prefix}-dvc`);
    refused(await send(g.socketPath!, 'POST', '/volumes/create', JSON.stringify({ Name: `${prefix}-gvc`, DriverOpts: { type: 'none', o: 'bind', device: '/' } })), 403, 'bind-outside-allowlist');
    refused(await send(g.socketPath!, 'POST', '/volumes/create', JSON.stringify({ Name: `${prefix}-gvc`, DriverOpts: { o: 'bind' } })), 403, 'bind-outside-allowlist');
    refused(await send(g.socketPath!, 'POST', '/volumes/create', JSON.stringify({ Name: `${prefix}-gvc`, DriverOpts: { type: 'overlay', o: 'lowerdir=/etc' } })), 403, 'volume-driver-opts');
  });

  it('deprecated top-level Privileged: 20.10 makes the container privileged; through the guard it is not', async () => {
    const body = { Image: IMAGE, Cmd: ['true'], Privileged: true };
    const direct = await create(d.socketPath, body);
    assert.equal(direct.status, 201, direct.text);
    assert.equal((await inspect(direct)).HostConfig.Privileged, true, 'the daemon read the top-level field');
    const r = await create(g.socketPath!, body);
    assert.equal(r.status, 201, r.text);
    const i = await inspect(r);
    assert.equal(i.HostConfig.Privileged, false);
    assert.equal(i.Config.Labels?.[OWNER], `${prefix}-A`);
  });

  const escalations: { title: string; raw: string; check: (i: Inspect) => boolean; rule: string }[] = [
    {
      title: 'HostConfig given twice in two cases (Go merges; the last Privileged wins)',
      raw: `{"Image":"${IMAGE}","HostConfig":{"Privileged":false},"hostconfig":{"privileged":true}}`,
      check: (i) => i.HostConfig.Privileged,
      rule: 'no-privileged',
    },
    {
      title: '\\u escapes in the keys',
      raw: `{"Image":"${IMAGE}","Host\\u0043onfig":{"Privil\\u0065ged":true}}`,
      check: (i) => i.HostConfig.Privileged,
      rule: 'no-privileged',
    },
    {
      title: 'U+017F (long s) folding to s in SecurityOpt',
      raw: `{"Image":"${IMAGE}","HostConfig":{"\\u017fecurityOpt":["seccomp=unconfined"]}}`,
      check: (i) => (i.HostConfig.SecurityOpt ?? []).includes('seccomp=unconfined'),
      rule: 'security-opt',
    },
    {
      title: 'label=disable',
      raw: JSON.stringify({ Image: IMAGE, HostConfig: { SecurityOpt: ['label=disable'] } }),
      check: (i) => (i.HostConfig.SecurityOpt ?? []).includes('label=disable'),
      rule: 'security-opt',
    },
    {
      title: 'apparmor:unconfined (deprecated colon form)',
      raw: JSON.stringify({ Image: IMAGE, HostConfig: { SecurityOpt: ['apparmor:unconfined'] } }),
      check: (i) => (i.HostConfig.SecurityOpt ?? []).includes('apparmor:unconfined'),
      rule: 'security-opt',
    },
    {
      title: 'UsernsMode host',
      raw: JSON.stringify({ Image: IMAGE, HostConfig: { UsernsMode: 'host' } }),
      check: (i) => i.HostConfig.UsernsMode === 'host',
      rule: 'host-namespace',
    },
  ];

  for (const e of escalations) {
    it(`create with ${e.title}: the daemon escalates; the guard refuses (${e.rule})`, async () => {
      const direct = await create(d.socketPath, e.raw);
      assert.equal(direct.status, 201, direct.text);
      assert.ok(e.check(await inspect(direct)), 'the daemon read the escalation');
      refused(await create(g.socketPath!, e.raw), 403, e.rule);
    });
  }

  it('Capabilities (not in the API structs) is dropped; CapAdd ALL and systempaths=unconfined are refused', async () => {
    const raw = JSON.stringify({ Image: IMAGE, HostConfig: { Capabilities: ['CAP_SYS_ADMIN', 'CAP_CHOWN'] } });
    const r = await create(g.socketPath!, raw);
    assert.equal(r.status, 201, r.text);
    const i = (await send(d.socketPath, 'GET', `/containers/${(JSON.parse(r.text) as { Id: string }).Id}/json`)).text;
    assert.doesNotMatch(i, /CAP_SYS_ADMIN/);
    assert.ok(g.records.some((x) => x.route === 'container-create' && x.decision === 'forward'));
    refused(await create(g.socketPath!, { Image: IMAGE, HostConfig: { CapAdd: ['all'] } }), 403, 'cap-add');
    refused(await create(g.socketPath!, { Image: IMAGE, HostConfig: { SecurityOpt: ['systempaths=unconfined'] } }), 403, 'security-opt');
  });

  it('BOMs, out-of-range numbers and floats for ints: the daemon refuses (4xx/5xx); the guard answers 400', async () => {
    for (const raw of [
      `\ufeff{"Image":"${IMAGE}"}`,
      `{"Image":"${IMAGE}","HostConfig":{"Memory":1e400}}`,
      `{"Image":"${IMAGE}","HostConfig":{"Memory":18446744073709551616}}`,
      `{"Image":"${IMAGE}","HostConfig":{"OomScoreAdj":-1e3}}`,
      `{"Image":"${IMAGE}","HostConfig":{"Privileged":"true"}}`,
    ]) {
      const direct = await create(d.socketPath, raw);
      assert.ok(direct.status === 400 || direct.status === 500, `daemon: ${raw}: ${direct.status} ${direct.text}`);
      const r = await create(g.socketPath!, raw);
      assert.equal(r.status, 400, `guard: ${raw}: ${r.text}`);
      assert.match(r.text, /invalid-body/);
    }
  });

  it('an update that adds devices or a cgroup parent is refused; a privileged exec spelled in lower case too', async () => {
    refused(await send(g.socketPath!, 'POST', `/containers/${own}/update`, JSON.stringify({ devices: [{ PathOnHost: '/dev/mem', PathInContainer: '/dev/mem', CgroupPermissions: 'rwm' }] })), 403, 'no-devices');
    refused(await send(g.socketPath!, 'POST', `/containers/${own}/update`, JSON.stringify({ DeviceCgroupRules: ['a *:* rwm'] })), 403, 'no-devices');
    refused(await send(g.socketPath!, 'POST', `/containers/${own}/update`, JSON.stringify({ CgroupParent: '/' })), 403, 'cgroup-parent');
    refused(await send(g.socketPath!, 'POST', `/containers/${own}/exec`, '{"Cmd":["true"],"privileged":false,"PRIVILEGED":true}'), 403, 'exec-privileged');
  });

  it('start from a checkpoint in a host directory: this daemon refuses (not experimental); the guard refuses on any daemon', async () => {
    const c = await create(g.socketPath!, { Image: IMAGE, Cmd: ['true'] });
    assert.equal(c.status, 201, c.text);
    const id = (JSON.parse(c.text) as { Id: string }).Id;
    const target = `/containers/${id}/start?checkpoint=cp1&checkpoint-dir=${q(secretDir)}`;
    const direct = await send(d.socketPath, 'POST', target);
    assert.equal(direct.status, 400, direct.text);
    assert.match(direct.text, /experimental/);
    refused(await send(g.socketPath!, 'POST', target), 403, 'no-checkpoint');
    refused(await send(g.socketPath!, 'POST', `/containers/${id}/start?checkpoint=&checkpoint=cp1`), 403, 'no-checkpoint');
  });

  it('filters given twice: the daemon reads the first; the guard forwards one filter with the owner label', async () => {
    const foreign = await create(d.socketPath, { Image: IMAGE, Cmd: ['true'], Labels: { [`${prefix}-mark`]: '1' } });
    assert.equal(foreign.status, 201);
    const fid = (JSON.parse(foreign.text) as { Id: string }).Id;
    const target = `/containers/json?all=1&filters=${q(JSON.stringify({ label: [`${prefix}-mark=1`] }))}&filters=${q(JSON.stringify({ label: [`${OWNER}=${prefix}-A`] }))}`;
    const direct = await send(d.socketPath, 'GET', target);
    assert.ok((JSON.parse(direct.text) as { Id: string }[]).some((c) => c.Id === fid), 'the daemon used the first filters');
    const r = await send(g.socketPath!, 'GET', target);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), []);
  });

  it('API versions below 1.24 (the daemon serves from 1.12) and unclean paths are refused', async () => {
    const direct = await send(d.socketPath, 'GET', '/v1.12/version');
    assert.equal(direct.status, 200, direct.text);
    for (const p of ['/v1.12/version', '/v1.23/containers/json', '/v01.41.1/version']) {
      const r = await send(g.socketPath!, 'GET', p);
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.match(r.text, /bad-api-version/);
    }
    for (const p of ['//containers/json', '/containers//json', `/containers/${own}/./json`, '/v1.41//version']) {
      const r = await send(g.socketPath!, 'GET', p);
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.match(r.text, /ambiguous-path/);
    }
  });

  it('form and multipart bodies in any letter case are refused', async () => {
    for (const ct of ['Application/X-WWW-Form-URLencoded', 'multipart/form-data; boundary=x', ' application/x-www-form-urlencoded ; charset=utf-8']) {
      const r = await send(g.socketPath!, 'POST', `/containers/${own}/rename`, 'name=x', ct);
      assert.equal(r.status, 400, `${ct}: ${r.text}`);
      assert.match(r.text, /bad-content-type/);
    }
  });
});
