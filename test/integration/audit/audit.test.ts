/**
 * `nestling audit` against the real engine: risky containers made under a unique prefix (the daemon allows all of
 * these without --privileged; a privileged container can be created, though this host cannot start it) must be
 * found with the right severity, and a clean one must not. The scan is scoped to our prefix: other engineers'
 * containers live on the same engine.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { LocalImages } from '../../../src/images/local.js';
import { auditExitCode, runAudit, type AuditReport } from '../../../src/audit/audit.js';
import { REPO } from '../doctor/in-container.js';

let d: TestDaemon;
let cleanup: Cleanup;
const prefix = uniquePrefix('audit');
const label = `${prefix}-scope`;

async function make(name: string, hostConfig: Record<string, unknown>, opts: { start?: boolean; env?: string[]; labels?: Record<string, string> } = {}): Promise<string> {
  const { Id } = await d.engine.json<{ Id: string }>({
    method: 'POST',
    path: '/containers/create',
    query: { name: `${prefix}-${name}` },
    body: { Image: LocalImages.busybox, Cmd: ['sleep', '300'], Env: opts.env ?? [], Labels: { [label]: '1', ...opts.labels }, HostConfig: hostConfig },
  });
  cleanup.add('container', Id);
  if (opts.start !== false) await d.engine.call({ method: 'POST', path: `/containers/${Id}/start` });
  return Id;
}

const about = (r: AuditReport, name: string) => r.findings.filter((f) => f.subject === `${prefix}-${name}`);

describe('audit on the real engine', { timeout: 180_000 }, () => {
  let report: AuditReport;
  before(async () => {
    d = await useDockerd();
    cleanup = new Cleanup(d.engine);
    await ensureTestImages(d.engine);
    await make('sock', { Binds: [`${d.socketPath}:/var/run/docker.sock:ro`] });
    await make('pidhost', { PidMode: 'host' });
    await make('sysadmin', { CapAdd: ['SYS_ADMIN', 'NET_ADMIN'] });
    await make('seccomp', { SecurityOpt: ['seccomp=unconfined'] });
    await make('rootfs', { Binds: ['/:/host:ro'] }, { start: false });
    // created only: runc cannot apply every capability on this host, but the engine records the request
    await make('priv', { Privileged: true }, { start: false });
    await make('proxy', { Binds: [`${d.socketPath}:/var/run/docker.sock`] }, { env: ['CONTAINERS=1', 'POST=1'] });
    await make('clean', {});
    report = await runAudit({ engine: d.engine, scope: { namePrefix: prefix }, scanHost: false, host: { root: '/' } });
  });
  after(async () => {
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  it('scans only the containers in scope', () => {
    assert.equal(report.containersScanned, 8);
    assert.ok(report.findings.every((f) => !f.subject || f.subject.startsWith(prefix) || f.subject.startsWith('engine')), JSON.stringify(report.findings.map((f) => f.subject)));
  });

  it('finds the docker socket mount (read-only is no protection) as critical, with its image', () => {
    const f = about(report, 'sock').find((x) => x.id === 'socket-mount');
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.match(f.found, /nestling\/busybox:local/);
    assert.match(f.found, /read-only: still full API access/);
  });

  it('finds host pid namespace, SYS_ADMIN and NET_ADMIN, seccomp=unconfined, the host root mount', () => {
    assert.equal(about(report, 'pidhost').find((x) => x.id === 'host-namespaces')?.severity, 'high');
    const caps = about(report, 'sysadmin').filter((x) => x.id === 'capabilities');
    assert.deepEqual(caps.map((c) => [c.details?.capability, c.severity]).sort(), [['NET_ADMIN', 'medium'], ['SYS_ADMIN', 'high']]);
    assert.match(about(report, 'seccomp').find((x) => x.id === 'capabilities')?.found ?? '', /seccomp=unconfined/);
    const root = about(report, 'rootfs').find((x) => x.id === 'host-mounts');
    assert.equal(root?.severity, 'critical');
  });

  it('finds the privileged container (created, not running: high)', () => {
    const f = about(report, 'priv').find((x) => x.id === 'privileged');
    assert.ok(f);
    assert.equal(f.severity, 'high');
    assert.match(f.found, /not running/);
  });

  it('finds a socket proxy that allows POST on containers', () => {
    const f = about(report, 'proxy').find((x) => x.id === 'socket-proxy');
    assert.equal(f?.severity, 'high');
    assert.match(f?.found ?? '', /CONTAINERS=1 and POST=1/);
  });

  it('reports nothing for the clean container', () => {
    assert.deepEqual(about(report, 'clean'), []);
  });

  it('reports the engine version against the AuthZ bypass CVEs, from the real /info', async () => {
    const info = await d.engine.json<{ ServerVersion: string; Plugins: { Authorization: string[] | null } }>({ method: 'GET', path: '/info' });
    const f = report.findings.filter((x) => x.id === 'authz-bypass');
    if ((info.Plugins.Authorization ?? []).length === 0) assert.ok(f.every((x) => x.status === 'ok' && x.severity === 'info'));
    assert.ok(f.every((x) => x.subject === `engine ${info.ServerVersion}`));
  });

  it('exit code: 5 at or above --fail-on, 0 below', () => {
    assert.equal(auditExitCode(report, 'critical'), 5);
    assert.equal(auditExitCode(report, 'info'), 5);
  });

  it('scopes by label and exits 0 when only clean containers are in scope', async () => {
    const id = await make('clean2', {}, { labels: { [`${prefix}-only`]: 'yes' } });
    const r = await runAudit({ engine: d.engine, scope: { labels: [`${prefix}-only=yes`] }, scanHost: false, host: { root: '/' } });
    assert.equal(r.containersScanned, 1);
    assert.equal(auditExitCode(r, 'low'), 0);
    assert.ok(id);
  });

  it('the built CLI: --json, --name-prefix, --fail-on, exit 5', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [join(REPO, 'dist/src/cli/main.js'), 'audit', '--json', '--no-host', '--name-prefix', prefix, ...args], {
        encoding: 'utf8',
        env: { ...process.env, DOCKER_HOST: d.url },
        timeout: 60_000,
      });
    const high = run(['--fail-on', 'high']);
    assert.equal(high.status, 5, high.stderr);
    const j = JSON.parse(high.stdout) as AuditReport;
    assert.equal(j.schema, 'nestling.audit/v1');
    assert.ok(j.counts.critical >= 2);
    const bad = run(['--fail-on', 'severe']);
    assert.equal(bad.status, 2);
  });
});
