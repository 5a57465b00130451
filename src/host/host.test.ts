import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { decodeCapMask, DOCKER_DEFAULT_CAPS, normaliseCap } from './caps.js';
import { capabilityFacts, parseStatus, readProcessStatus, readLastCap } from './process.js';
import { maskedPaths, mountFor, parseMountInfo, readMountInfo } from './mountinfo.js';
import { cgroupFacts, containerHintFromCgroup, readProcCgroup } from './cgroup.js';
import { userNamespaceFacts } from './userns.js';
import { defaultRouteMtu, parseProcNetTcp, tcpListeners } from './net.js';
import { iptablesFacts, backendFromVersion } from './iptables.js';
import { containerFacts } from './container.js';
import { lsmFacts } from './lsm.js';
import { missingLibraries, debianPackageFor } from './libraries.js';
import { findProcesses } from './processes.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/proc/', import.meta.url));
const fx = (c: string) => ({ root: join(FIXTURES, c) });

describe('capabilities', () => {
  it("decodes Docker's default set and a bounding set without CAP_SYS_RESOURCE", () => {
    assert.deepEqual(decodeCapMask('00000000a80425fb').sort(), [...DOCKER_DEFAULT_CAPS].sort());
    const noRes = decodeCapMask('000001fffeffffff');
    assert.equal(noRes.length, 40);
    assert.ok(!noRes.includes('SYS_RESOURCE'));
    assert.throws(() => decodeCapMask('zz'), /not a capability mask/);
    assert.equal(normaliseCap('cap_sys_admin'), 'SYS_ADMIN');
  });
  it('reads status and names what the bounding set lacks', async () => {
    const st = await readProcessStatus(fx('host-no-sys-resource'));
    const { lastCap } = await readLastCap(fx('host-no-sys-resource'));
    assert.equal(lastCap, 40);
    const f = capabilityFacts(st, lastCap);
    assert.deepEqual(f.missingFromBounding, ['SYS_RESOURCE']);
    assert.equal(st.seccomp, 0);
  });
  it('garbage status throws (the probe turns it into unknown)', () => {
    assert.throws(() => parseStatus('Name: x\nCapEff:\tzzzz\nUid:\tnot numbers\n'));
  });
  it('cap_last_cap missing: assumed, with the reason', async () => {
    const r = await readLastCap(fx('garbage'));
    assert.equal(r.lastCap, 40);
    assert.match(r.source, /assumed 40 \(ENOENT/);
  });
});

describe('mountinfo', () => {
  it('parses, finds the mount of a path, and lists masked and read-only paths', async () => {
    const m = await readMountInfo(fx('k8s-cgroup2'));
    assert.equal(mountFor(m, '/var/lib/docker')?.fsType, 'overlay');
    assert.equal(mountFor(m, '/proc/sys/kernel')?.mountPoint, '/proc/sys');
    const masks = maskedPaths(m);
    assert.deepEqual(masks.masked, ['/proc/acpi', '/proc/kcore', '/proc/keys', '/sys/firmware']);
    assert.deepEqual(masks.readOnly, ['/proc/bus', '/proc/sys']);
  });
  it('unescapes octal escapes and skips garbage lines', () => {
    const m = parseMountInfo('36 35 98:0 /mnt\\040dir /a\\040b rw - ext3 /dev/root rw\nnot a line\n');
    assert.equal(m.length, 1);
    assert.equal(m[0]!.mountPoint, '/a b');
    assert.equal(m[0]!.root, '/mnt dir');
  });
});

describe('cgroups and containers', () => {
  it('cgroup v2 read-only with processes in the namespace root', async () => {
    const h = fx('k8s-cgroup2');
    const c = await cgroupFacts(h, await readMountInfo(h), await readProcCgroup(h));
    assert.equal(c.version, 'v2');
    assert.equal(c.readOnly, true);
    assert.deepEqual(c.controllers, ['cpuset', 'cpu', 'io', 'memory', 'pids']);
    assert.equal(c.rootHasProcesses, true);
  });
  it('cgroup v1 read-write on a host', async () => {
    const h = fx('host-no-sys-resource');
    const c = await cgroupFacts(h, await readMountInfo(h), await readProcCgroup(h));
    assert.equal(c.version, 'v1');
    assert.equal(c.readOnly, false);
  });
  it('runtime hints from cgroup paths', () => {
    assert.deepEqual(containerHintFromCgroup(['/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef']), { runtime: 'docker', id: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' });
    assert.equal(containerHintFromCgroup(['/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope'])?.runtime, 'docker');
    assert.equal(containerHintFromCgroup(['/machine.slice/libpod-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope'])?.runtime, 'podman');
    assert.equal(containerHintFromCgroup(['/kubepods/burstable/pod1/abc'])?.runtime, 'kubernetes');
    assert.equal(containerHintFromCgroup(['/user.slice']), undefined);
  });
  it('Kubernetes pod: service account token and env; a bare host: no evidence', async () => {
    const h = fx('k8s-cgroup2');
    const k = await containerFacts(h, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, await readProcCgroup(h), await readMountInfo(h));
    assert.equal(k.inContainer, true);
    assert.equal(k.kubernetes, true);
    assert.ok(k.evidence.includes('Kubernetes service account token mounted'));
    const host = fx('host-no-sys-resource');
    const n = await containerFacts(host, {}, await readProcCgroup(host), await readMountInfo(host));
    assert.equal(n.inContainer, false);
  });
});

describe('user namespaces, LSM, network, iptables', () => {
  it('knobs that forbid user namespaces', async () => {
    const k = await userNamespaceFacts(fx('k8s-cgroup2'));
    assert.deepEqual(k.unprivilegedUsernsClone, { ok: true, value: 0 });
    assert.deepEqual(k.apparmorRestrictUnprivilegedUserns, { ok: true, value: 1 });
    assert.equal(k.inUserNamespace, false);
    const h = await userNamespaceFacts(fx('host-no-sys-resource'));
    assert.deepEqual(h.maxUserNamespaces, { ok: true, value: 0 });
    assert.equal(h.unprivilegedUsernsClone.ok, false);
    const g = await userNamespaceFacts(fx('garbage'));
    assert.equal(g.maxUserNamespaces.ok, false);
    assert.match(g.maxUserNamespaces.ok ? '' : g.maxUserNamespaces.error, /not a number/);
  });
  it('AppArmor profile of the process', async () => {
    const l = await lsmFacts(fx('k8s-cgroup2'));
    assert.equal(l.apparmorProfile, 'cri-containerd.apparmor.d (enforce)');
    assert.equal(l.apparmorEnabled, true);
  });
  it('MTU of the default route; garbage route table', async () => {
    assert.deepEqual(await defaultRouteMtu(fx('host-no-sys-resource')), { iface: 'eth0', mtu: 1400, reason: 'default route via eth0' });
    assert.equal((await defaultRouteMtu(fx('garbage'))).mtu, undefined);
  });
  it('TCP listeners, v4 and v6, only LISTEN', async () => {
    const { listeners } = await tcpListeners(fx('host-no-sys-resource'));
    assert.deepEqual(
      listeners.map((l) => `${l.address}:${l.port}/${l.inode}`),
      ['0.0.0.0:2375/4242', '127.0.0.1:8080/4343', '::1:2375/5151'],
    );
    assert.equal(parseProcNetTcp('header\n', 4).length, 0);
  });
  it('iptables: an nft binary while legacy tables are loaded', async () => {
    const f = await iptablesFacts(fx('host-no-sys-resource'));
    assert.equal(f.binary, 'nf_tables');
    assert.deepEqual(f.legacyTables, ['nat', 'filter']);
    assert.equal(backendFromVersion('iptables v1.8.9 (legacy)'), 'legacy');
    assert.equal(backendFromVersion('iptables v1.6.1'), 'legacy');
  });
  it('processes by command line', async () => {
    const p = await findProcesses(fx('host-no-sys-resource'), (a) => a[0]?.endsWith('dockerd') === true);
    assert.deepEqual(p.map((x) => x.pid).sort(), [4242, 4343]);
  });
});

describe('shared libraries', () => {
  it("names the missing library from glibc's and musl's loader messages, with the Debian package", () => {
    const libs = missingLibraries('docker: error while loading shared libraries: libltdl.so.7: cannot open shared object file: No such file or directory\n');
    assert.deepEqual(libs, ['libltdl.so.7']);
    assert.equal(debianPackageFor('libltdl.so.7'), 'libltdl7');
    assert.deepEqual(missingLibraries('Error loading shared library libseccomp.so.2: No such file or directory (needed by /usr/bin/docker)'), ['libseccomp.so.2']);
    assert.deepEqual(missingLibraries('\tlibfoo.so.1 => not found\n'), ['libfoo.so.1']);
  });
});
