import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeFacts } from './test-facts.js';
import { modeByName } from './registry.js';
import { chooseMode, AUTO_ORDER } from './resolve.js';
import { cacheSlug, cacheVolumeName } from './daemon-plan.js';
import { filesToTar } from './apply.js';
import { Labels } from '../util/labels.js';
import { isNestlingError } from '../util/errors.js';
import type { ModeContext, RunOptions } from './types.js';
import type { HostFacts } from './facts.js';

const ctx = (facts: HostFacts): ModeContext => ({
  engine: undefined as never,
  facts,
  pidLabel: 'host:123:456',
  stateDir: '/tmp/nestling-test',
  progress: () => {},
  dockerVersion: '28',
});
const opts = (o: Partial<RunOptions> = {}): RunOptions => ({
  mode: 'dind',
  images: 'local',
  preload: [],
  env: [],
  cmd: ['docker', 'version'],
  tty: false,
  interactive: false,
  runId: 'r1',
  ...o,
});
const PRIV_DENIED = { granted: false, reason: 'caps', caps: ['SYS_ADMIN', 'NET_ADMIN'], missing: ['SYS_RESOURCE'] };

describe('plans (pure data)', () => {
  it('dood mounts the socket, adds its group, warns, mounts the workspace at the same path', () => {
    const p = modeByName('dood').plan(opts({ mode: 'dood', workspace: '/srv/ws' }), ctx(fakeFacts()));
    const job = p.containers[0]!;
    assert.equal(p.relationship, 'sibling');
    assert.deepEqual(job.body.HostConfig.Binds, ['/var/run/docker.sock:/var/run/docker.sock', '/srv/ws:/srv/ws']);
    assert.deepEqual(job.body.HostConfig.GroupAdd, ['998']);
    assert.equal(job.body.WorkingDir, '/srv/ws');
    assert.ok(job.body.Env!.includes('DOCKER_HOST=unix:///var/run/docker.sock'));
    assert.match(p.warnings[0]!, /root on the host/);
    assert.equal(job.body.Labels[Labels.run], 'r1');
    assert.equal(job.body.Labels[Labels.role], 'job');
    assert.equal(job.body.Labels[Labels.pid], 'host:123:456');
  });

  it('--workspace DIR:PATH: mounted at PATH; guarded maps PATH to DIR; dood warns that it translates nothing', () => {
    const g = modeByName('guarded').plan(opts({ mode: 'guarded', workspace: '/srv/ws', workspaceTarget: '/work' }), ctx(fakeFacts()));
    assert.deepEqual(g.guard?.mappings, [{ jobPath: '/work', hostPath: '/srv/ws' }]);
    assert.deepEqual(g.guard?.allowBind, ['/srv/ws']);
    assert.ok((g.containers[0]!.body.HostConfig.Binds as string[]).includes('/srv/ws:/work'));
    assert.equal(g.containers[0]!.body.WorkingDir, '/work');
    const dd = modeByName('dood').plan(opts({ mode: 'dood', workspace: '/srv/ws', workspaceTarget: '/work' }), ctx(fakeFacts()));
    assert.ok(dd.warnings.some((w) => /translates nothing/.test(w)));
    const di = modeByName('dind').plan(opts({ mode: 'dind', workspace: '/srv/ws', workspaceTarget: '/work' }), ctx(fakeFacts()));
    assert.ok((di.containers[0]!.body.HostConfig.Binds as string[]).includes('/srv/ws:/work'));
  });

  it('dood is not applicable to a remote engine', () => {
    assert.throws(
      () => modeByName('dood').plan(opts({ mode: 'dood' }), ctx(fakeFacts({ engineLocal: false, engineUrl: 'tcp://h:2376' }))),
      (e) => isNestlingError(e) && e.code === 'E_MODE_NOT_APPLICABLE' && e.exitCode === 3,
    );
  });

  it('dind: the explicit equivalent when --privileged is refused, TLS in the job, loopback-only port, MTU', () => {
    const p = modeByName('dind').plan(opts({ mode: 'dind' }), ctx(fakeFacts({ privilege: PRIV_DENIED })));
    const [daemon, job] = p.containers;
    assert.equal(daemon!.body.HostConfig.Privileged, undefined);
    assert.deepEqual(daemon!.body.HostConfig.CapAdd, ['SYS_ADMIN', 'NET_ADMIN']);
    assert.deepEqual(daemon!.body.HostConfig.PortBindings, { '2376/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    assert.deepEqual(daemon!.body.NetworkingConfig!.EndpointsConfig['nestling-r1-net']!.Aliases, ['docker']);
    assert.ok(daemon!.body.Env!.includes('NESTLING_DIND_MTU=1450'));
    assert.equal(p.networks[0]!.options['com.docker.network.driver.mtu'], '1450');
    assert.deepEqual(daemon!.body.HostConfig.Mounts, [{ Type: 'volume', Source: 'nestling-r1-data', Target: '/var/lib/docker' }]);
    assert.ok(p.relaxed.some((r) => /explicit equivalent/.test(r.what)));
    assert.equal(daemon!.body.Entrypoint![0], 'sh');
    assert.match(daemon!.body.Entrypoint![2]!, /remount,bind,rw[\s\S]*exec dockerd-entrypoint.sh "\$@"$/);
    assert.ok(p.relaxed.some((r) => /SYS_RESOURCE/.test(r.what)));
    assert.equal(p.tls!.algorithm, 'ecdsa-p256');
    assert.ok(job!.body.Env!.includes('DOCKER_HOST=tcp://docker:2376'));
    assert.ok(job!.body.Env!.includes('DOCKER_TLS_VERIFY=1'));
    assert.ok(job!.body.Env!.includes('DOCKER_CERT_PATH=/certs/client'));
    const key = job!.files!.find((f) => f.path === '/certs/client/key.pem')!;
    assert.equal(key.mode, 0o600);
    assert.ok(p.warnings.some((w) => /--guard/.test(w)));
    // no secrets in a plan
    assert.doesNotMatch(JSON.stringify(p), /PRIVATE KEY/);
  });

  it('dind --guard: the job gets the guard socket, no certificates, no warning', () => {
    const p = modeByName('dind').plan(opts({ mode: 'dind', guard: true, workspace: '/w' }), ctx(fakeFacts({ privilege: { ...PRIV_DENIED, granted: true } })));
    const job = p.containers.find((c) => c.role === 'job')!;
    assert.equal(p.guard?.upstream, 'inner');
    assert.deepEqual(p.guard?.allowBind, ['/w']);
    assert.ok(job.body.Env!.includes('DOCKER_HOST=unix:///run/nestling/docker.sock'));
    assert.equal(job.files, undefined);
    assert.equal(p.containers[0]!.body.HostConfig.Privileged, true);
    assert.equal(p.containers[0]!.body.Entrypoint, undefined);
    assert.equal(p.warnings.length, 0);
  });

  it('dind --cache: a kept, labelled volume whose daemon name is the lock', () => {
    const p = modeByName('dind').plan(opts({ mode: 'dind', cache: 'My Key/1' }), ctx(fakeFacts()));
    assert.equal(p.volumes[0]!.keep, true);
    assert.equal(p.volumes[0]!.labels[Labels.role], 'cache');
    assert.equal(p.volumes[0]!.labels[Labels.cacheKey], 'My Key/1');
    assert.equal(p.containers[0]!.name, `${cacheVolumeName('dind', 'My Key/1')}-dockerd`);
    assert.equal(p.cache?.policy, 'wait');
  });

  it('inner-daemon modes need the engine on this machine (its loopback port); tcp to 127.0.0.1 counts', () => {
    const remote = fakeFacts({ engineLocal: false, engineOnLoopback: false, engineUrl: 'tcp://ci-host:2376' });
    for (const m of ['dind', 'rootless', 'sysbox'] as const) {
      const d = modeByName(m).detect({ ...remote, runtimes: ['runc', 'sysbox-runc'] });
      assert.equal(d.applicable, false, m);
      assert.match(d.reasons[0]!, /another machine/);
    }
    assert.equal(modeByName('dind').detect(fakeFacts({ engineLocal: false, engineOnLoopback: true, engineUrl: 'tcp://127.0.0.1:2376' })).applicable, true);
  });

  it('--dockerd bind-mounts a local binary', () => {
    const p = modeByName('dind').plan(opts({ mode: 'dind', dockerd: '/src/moby/bundles/dockerd' }), ctx(fakeFacts()));
    assert.ok((p.containers[0]!.body.HostConfig.Binds as string[]).includes('/src/moby/bundles/dockerd:/usr/local/bin/dockerd:ro'));
  });

  it('rootless adds no capability and no --privileged; states what it relaxes', () => {
    const p = modeByName('rootless').plan(opts({ mode: 'rootless', daemonUser: '2000:3000' }), ctx(fakeFacts({ userns: { ok: true, reason: 'ok' } })));
    const hc = p.containers[0]!.body.HostConfig;
    assert.equal(hc.Privileged, undefined);
    assert.equal(hc.CapAdd, undefined);
    // this engine applies seccomp only (fakeFacts): AppArmor is not relaxed, and the notes say so
    assert.deepEqual(hc.SecurityOpt, ['seccomp=unconfined']);
    assert.ok(p.notes.some((n) => /AppArmor is not enabled/.test(n)));
    const withAa = modeByName('rootless').plan(
      opts({ mode: 'rootless' }),
      ctx(fakeFacts({ userns: { ok: true, reason: 'ok' }, securityOptions: ['name=apparmor', 'name=seccomp,profile=default'] })),
    );
    assert.deepEqual(withAa.containers[0]!.body.HostConfig.SecurityOpt, ['seccomp=unconfined', 'apparmor=unconfined']);
    assert.deepEqual(hc.MaskedPaths, []);
    assert.ok(p.containers[0]!.body.Env!.includes('NESTLING_ROOTLESS_UID=2000'));
    const serverKey = p.containers[0]!.files!.find((f) => f.path === '/certs/server/key.pem')!;
    assert.equal(serverKey.uid, 2000);
    assert.ok(p.relaxed.length >= 3);
  });

  it('rootless relaxes seccomp and systempaths only when the probes say the host needs them', () => {
    const needed = modeByName('rootless').plan(opts({ mode: 'rootless' }), ctx(fakeFacts({ userns: { ok: true, reason: 'ok', needsSeccompUnconfined: true, needsSystempaths: true } })));
    assert.deepEqual(needed.containers[0]!.body.HostConfig.SecurityOpt, ['seccomp=unconfined']);
    assert.deepEqual(needed.containers[0]!.body.HostConfig.MaskedPaths, []);
    assert.ok(needed.relaxed.some((r) => /probed on this host/.test(r.why)));
    const notNeeded = modeByName('rootless').plan(opts({ mode: 'rootless' }), ctx(fakeFacts({ userns: { ok: true, reason: 'ok', needsSeccompUnconfined: false, needsSystempaths: false } })));
    assert.deepEqual(notNeeded.containers[0]!.body.HostConfig.SecurityOpt, []);
    assert.equal(notNeeded.containers[0]!.body.HostConfig.MaskedPaths, undefined);
    assert.ok(!notNeeded.relaxed.some((r) => /seccomp|systempaths/.test(r.what)));
    assert.ok(notNeeded.notes.some((n) => /seccomp not relaxed/.test(n)));
    assert.ok(notNeeded.notes.some((n) => /systempaths not relaxed/.test(n)));
  });

  it('rootless is not applicable when the user-namespace probe failed', () => {
    const d = modeByName('rootless').detect(fakeFacts({ userns: { ok: false, reason: 'userns: unshare -U failed' } }));
    assert.equal(d.applicable, false);
    assert.ok(d.needs?.length);
  });

  it('sysbox: the runtime when present, a clear exit-3 error when absent', () => {
    const p = modeByName('sysbox').plan(opts({ mode: 'sysbox' }), ctx(fakeFacts({ runtimes: ['runc', 'sysbox-runc'] })));
    assert.equal(p.containers[0]!.body.HostConfig.Runtime, 'sysbox-runc');
    assert.equal(p.containers[0]!.body.HostConfig.Privileged, undefined);
    assert.throws(
      () => modeByName('sysbox').plan(opts({ mode: 'sysbox' }), ctx(fakeFacts())),
      (e) => isNestlingError(e) && e.code === 'E_MODE_SYSBOX_MISSING' && e.exitCode === 3 && /sysbox/i.test(e.hint ?? ''),
    );
  });

  it('guarded: the guard socket and the per-job network', () => {
    const p = modeByName('guarded').plan(opts({ mode: 'guarded' }), ctx(fakeFacts()));
    assert.equal(p.guard?.upstream, 'host');
    assert.equal(p.guard?.jobNetwork, 'nestling-r1-net');
    assert.equal(p.containers[0]!.body.HostConfig.NetworkMode, 'nestling-r1-net');
    assert.deepEqual(p.containers[0]!.body.HostConfig.Binds, ['/tmp/nestling-test/r1:/run/nestling']);
  });

  it('cache slugs are safe names and distinct per key', () => {
    assert.match(cacheSlug('a/b c'), /^a-b-c-[0-9a-f]{8}$/);
    assert.notEqual(cacheSlug('a/b'), cacheSlug('a b'));
    assert.throws(() => cacheSlug(''));
  });

  it('files are written with their modes and owners, parents first', () => {
    const certs = { ca: { cert: 'CA', key: 'CAK' }, server: { cert: 'S', key: 'SK' }, client: { cert: 'C', key: 'CK' } };
    const t = filesToTar([{ path: '/certs/client/key.pem', mode: 0o600, uid: 5, gid: 6, source: 'tls-client-key' }], certs);
    assert.deepEqual(t.map((e) => e.name), ['certs', 'certs/client', 'certs/client/key.pem']);
    assert.equal(t[2]!.mode, 0o600);
    assert.equal(t[2]!.uid, 5);
    assert.equal(String(t[2]!.data), 'CK');
  });
});

describe('chooseMode (auto)', () => {
  it('prefers sysbox, then rootless, then dind with the guard, then guarded', () => {
    assert.deepEqual(AUTO_ORDER, ['sysbox', 'rootless', 'dind', 'guarded']);
    assert.equal(chooseMode(fakeFacts({ runtimes: ['runc', 'sysbox-runc'] })).mode, 'sysbox');
    assert.equal(chooseMode(fakeFacts({ userns: { ok: true, reason: 'ok' } })).mode, 'rootless');
    const r = chooseMode(fakeFacts({ userns: { ok: false, reason: 'no userns' }, privilege: PRIV_DENIED }));
    assert.equal(r.mode, 'dind');
    assert.equal(r.guard, true);
    assert.ok(r.reasons.some((x) => /sysbox skipped/.test(x)));
    assert.ok(r.reasons.some((x) => /rootless skipped: no userns/.test(x)));
    assert.match(r.reasons[0]!, /most isolated/);
  });
  it('falls back to guarded when no daemon image is available', () => {
    const r = chooseMode(fakeFacts(), { sysbox: false, rootless: false, dind: false });
    assert.equal(r.mode, 'guarded');
    assert.equal(r.guard, false);
  });
  it('says so when nothing applies', () => {
    const r = chooseMode(fakeFacts({ engineLocal: false, osType: 'windows' }));
    assert.equal(r.mode, undefined);
  });
});
