/**
 * `nestling doctor --json` run inside real containers of each kind on the test engine: what each probe reports
 * must match how the container was made.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { ensureTestImages } from '../../harness/images.js';
import { Cleanup } from '../../harness/cleanup.js';
import { LocalImages } from '../../../src/images/local.js';
import type { DoctorReport } from '../../../src/doctor/doctor.js';
import type { Finding } from '../../../src/checks/model.js';
import { runCliInContainer } from './in-container.js';

let d: TestDaemon;
let cleanup: Cleanup;
const prefix = uniquePrefix('doctor');
let n = 0;

function finding(r: DoctorReport, id: string): Finding {
  const f = r.findings.find((x) => x.id === id);
  assert.ok(f, `no ${id} finding in ${JSON.stringify(r.findings.map((x) => x.id))}`);
  return f;
}

async function doctorIn(opts: Parameters<typeof runCliInContainer>[4], extra: string[] = []): Promise<{ report: DoctorReport; exitCode: number; stderr: string }> {
  const r = await runCliInContainer(d.engine, cleanup, `${prefix}-${n++}`, ['doctor', '--json', '--no-probe-containers', ...extra], opts);
  let report: DoctorReport;
  try {
    report = JSON.parse(r.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  }
  return { report, exitCode: r.exitCode, stderr: r.stderr };
}

describe('doctor inside real containers', { timeout: 300_000 }, () => {
  before(async () => {
    d = await useDockerd();
    cleanup = new Cleanup(d.engine);
    await ensureTestImages(d.engine);
  });
  after(async () => {
    await cleanup.sweepPrefix(prefix);
    await cleanup.run();
  });

  it('plain container: in a container, Docker default capabilities and masks, no engine: exit 3', async () => {
    const { report, exitCode } = await doctorIn({ image: LocalImages.busybox });
    assert.equal(exitCode, 3);
    assert.equal(report.schema, 'nestling.doctor/v1');
    const c = finding(report, 'container');
    assert.equal((c.details as { inContainer: boolean }).inContainer, true);
    assert.match(c.found, /docker/);
    const p = finding(report, 'privileges');
    const det = p.details as { effective: string[]; seccomp: number; maskedPaths: string[]; uid: number };
    assert.equal(det.uid, 0);
    assert.deepEqual([...det.effective].sort(), ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT']);
    assert.equal(det.seccomp, 2);
    assert.ok(det.maskedPaths.includes('/proc/keys'), JSON.stringify(det.maskedPaths));
    assert.match(p.found, /unprivileged \(Docker's default capability set\)/);
    assert.equal(finding(report, 'socket').status, 'fail');
    assert.equal(finding(report, 'daemon').status, 'fail');
    assert.equal(finding(report, 'recommendation').status, 'fail');
    // a default container has read-only cgroup mounts: a daemon cannot run here
    const cg = finding(report, 'cgroups');
    assert.equal(cg.status, 'warn');
    assert.match(cg.found, /cannot create cgroups/);
    // /dev/fuse and /dev/net/tun are not given to a default container
    assert.equal(finding(report, 'devices-tun').status, 'warn');
    // the image has no docker CLI
    assert.equal(finding(report, 'cli').status, 'warn');
    // the bounding set of a default container lacks most capabilities: --privileged impossible inside it
    const caps = report.findings.filter((f) => f.id === 'capabilities');
    assert.ok(caps.some((f) => /CAP_SYS_ADMIN/.test(f.found) && f.status === 'warn'));
  });

  it('socket-mounted container: the engine answers through the mounted socket, CLI runs, a mode is recommended', async () => {
    const { report, exitCode } = await doctorIn({ image: LocalImages.cli, binds: [`${d.socketPath}:/var/run/docker.sock`] });
    const fails = report.findings.filter((f) => f.status === 'fail');
    assert.deepEqual(fails, [], JSON.stringify(fails, null, 2));
    assert.equal(exitCode, 0);
    const daemon = finding(report, 'daemon');
    assert.equal(daemon.status, 'ok');
    assert.match(daemon.found, /curl --unix-socket \/var\/run\/docker.sock http:\/\/localhost\/version: HTTP 200/);
    const real = await d.engine.json<{ ApiVersion: string; Version: string }>({ method: 'GET', path: '/version' });
    assert.equal((daemon.details as { apiVersion: string }).apiVersion, real.ApiVersion);
    assert.equal((daemon.details as { serverVersion: string }).serverVersion, real.Version);
    const cli = finding(report, 'cli');
    assert.equal(cli.status, 'ok');
    assert.match(cli.found, /\/usr\/bin\/docker: Docker version 20\.10/);
    assert.equal(finding(report, 'engine-kind').status, 'ok');
    assert.ok(report.recommendation?.mode, JSON.stringify(report.recommendation));
  });

  it('non-root container: the socket group decides (EACCES without it, read-write with --group-add)', async () => {
    const gid = statSync(d.socketPath).gid;
    const mode = statSync(d.socketPath).mode & 0o777;
    assert.equal(mode & 0o006, 0, 'the test socket must not be world-accessible for this test');
    const denied = await doctorIn({ image: LocalImages.cli, user: '1000:1000', binds: [`${d.socketPath}:/var/run/docker.sock`] });
    const s1 = finding(denied.report, 'socket');
    assert.equal(s1.status, 'fail');
    assert.match(s1.fix ?? '', new RegExp(`--group-add ${gid}`));
    // the prediction matches reality: the daemon probe could not connect either
    const d1 = finding(denied.report, 'daemon');
    assert.equal(d1.status, 'fail');
    assert.match(d1.found, /EACCES/);
    assert.equal(denied.exitCode, 3);
    const allowed = await doctorIn({ image: LocalImages.cli, user: '1000:1000', hostConfig: { GroupAdd: [String(gid)] }, binds: [`${d.socketPath}:/var/run/docker.sock`] });
    assert.equal(finding(allowed.report, 'socket').status, 'ok');
    assert.equal(finding(allowed.report, 'daemon').status, 'ok');
    const p = finding(allowed.report, 'privileges');
    assert.equal((p.details as { uid: number }).uid, 1000);
    assert.match(p.found, /no effective capabilities/);
  });

  it('privileged-equivalent container: every capability the bounding set allows, no seccomp, no masks; the missing capability is named', async () => {
    // --privileged itself cannot start on this host: runc fails to apply a capability outside its bounding set.
    const hostBnd = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8');
    const { report } = await doctorIn({
      image: LocalImages.busybox,
      // systempaths=unconfined is the CLI's spelling of MaskedPaths: [] and ReadonlyPaths: []
      hostConfig: { CapAdd: ['ALL'], CapDrop: ['SYS_RESOURCE'], SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'], MaskedPaths: [], ReadonlyPaths: [] },
    });
    const p = finding(report, 'privileges');
    const det = p.details as { seccomp: number; maskedPaths: string[]; missingFromBounding: string[] };
    assert.equal(det.seccomp, 0);
    assert.deepEqual(det.maskedPaths, []);
    // CapAdd ALL on Docker 20.10 means the capabilities it knows: PERFMON, BPF and CHECKPOINT_RESTORE (Linux 5.8+)
    // are newer than its list, so they are missing too; SYS_RESOURCE is missing because we dropped it.
    assert.ok(det.missingFromBounding.includes('SYS_RESOURCE'), JSON.stringify(det.missingFromBounding));
    for (const c of det.missingFromBounding) assert.ok(['SYS_RESOURCE', 'PERFMON', 'BPF', 'CHECKPOINT_RESTORE'].includes(c), c);
    assert.match(p.found, /privileged-equivalent/);
    const caps = report.findings.filter((f) => f.id === 'capabilities');
    const bnd = caps.find((f) => /bounding set lacks/.test(f.found));
    assert.ok(bnd, JSON.stringify(caps));
    assert.match(bnd.found, /CAP_SYS_RESOURCE.*: --privileged is impossible inside this container/);
    if (/CapBnd:\s*000001fffeffffff/.test(hostBnd)) assert.equal(bnd.status, 'warn');
    // with systempaths=unconfined and all caps the cgroup mounts are still read-only unless --privileged:
    // the probe says what it saw
    assert.ok(['ok', 'warn'].includes(finding(report, 'cgroups').status));
  });

  it('no cgroup filesystem (an empty tmpfs over /sys/fs/cgroup): reported, not crashed on', async () => {
    const { report } = await doctorIn({ image: LocalImages.busybox, hostConfig: { Tmpfs: { '/sys/fs/cgroup': 'ro' } } });
    const cg = finding(report, 'cgroups');
    assert.equal(cg.status, 'warn');
    assert.match(cg.found, /no cgroup filesystem mounted/);
    assert.ok(report.findings.every((f) => ['ok', 'warn', 'fail', 'unknown'].includes(f.status)));
  });
});
