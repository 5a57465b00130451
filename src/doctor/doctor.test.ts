import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDoctor, doctorExitCode, renderDoctorReport, type DoctorReport } from './doctor.js';
import type { DoctorEnvironment } from './context.js';
import type { ExecFn } from '../host/exec.js';
import type { Resolution } from '../engine/resolve.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/proc/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'nst-doctor-unit-'));
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
  rmSync(tmp, { recursive: true, force: true });
});

const noExec: ExecFn = () => Promise.resolve({ code: undefined, stdout: '', stderr: '', error: 'ENOENT' });

function unixResolution(socketPath: string): () => Resolution {
  return () => ({ endpoint: { kind: 'unix', socketPath, url: `unix://${socketPath}`, source: 'test' }, candidates: [{ source: 'test', applied: true, reason: 'test' }] });
}

function env(root: string, resolve: () => Resolution, exec: ExecFn = noExec): DoctorEnvironment {
  return { host: { root }, env: { PATH: '/usr/bin:/bin' }, home: '/nonexistent', resolve, exec, now: () => new Date('2026-01-01T00:00:00Z'), engineTimeoutMs: 500, probeContainers: false, images: 'local', dockerVersion: '28' };
}

/** A unix socket server that answers every connection with `respond` (or never, when undefined). */
function fakeEngine(name: string, respond: string | undefined): Promise<string> {
  const path = join(tmp, `${name}.sock`);
  return new Promise((resolve) => {
    const s = createServer((c) => {
      c.on('error', () => {});
      if (respond !== undefined) c.end(respond);
    });
    servers.push(s);
    s.listen(path, () => resolve(path));
  });
}

const byId = (r: DoctorReport, id: string) => r.findings.filter((f) => f.id === id);

describe('doctor on fake trees', () => {
  it('a host whose bounding set lacks CAP_SYS_RESOURCE: the probe says --privileged is impossible', async () => {
    const r = await runDoctor(env(join(FIXTURES, 'host-no-sys-resource'), unixResolution('/nonexistent.sock')), { timeoutMs: 3000 });
    const caps = byId(r, 'capabilities');
    const b = caps.find((f) => /bounding set/.test(f.found));
    assert.equal(b?.status, 'warn');
    assert.match(b?.found ?? '', /lacks CAP_SYS_RESOURCE: --privileged is impossible for containers of an engine running here/);
    assert.match(b?.why ?? '', /unable to apply caps/);
    assert.equal(byId(r, 'userns')[0]?.status, 'warn');
    assert.match(byId(r, 'userns')[0]?.found ?? '', /max_user_namespaces=0/);
    assert.equal(byId(r, 'iptables')[0]?.status, 'warn');
    assert.equal(byId(r, 'mtu')[0]?.status, 'warn');
    assert.equal(byId(r, 'container')[0]?.found.startsWith('not in a container'), true);
    assert.equal(byId(r, 'socket')[0]?.status, 'fail');
    assert.equal(doctorExitCode(r), 3);
  });

  it('a Kubernetes pod: restricted userns, AppArmor confinement, read-only cgroup v2, overlay data root', async () => {
    const r = await runDoctor(env(join(FIXTURES, 'k8s-cgroup2'), unixResolution('/nonexistent.sock')), { timeoutMs: 3000 });
    assert.match(byId(r, 'container')[0]?.found ?? '', /Kubernetes/);
    const u = byId(r, 'userns');
    assert.equal(u.length, 2);
    assert.ok(u.every((f) => f.status === 'warn'));
    assert.equal(byId(r, 'lsm')[0]?.status, 'warn');
    assert.equal(byId(r, 'cgroups')[0]?.status, 'warn');
    assert.equal(byId(r, 'data-root')[0]?.status, 'warn');
    assert.match(byId(r, 'privileges')[0]?.found ?? '', /uid 1000, unprivileged \(no effective capabilities\); seccomp filter, no_new_privs, AppArmor/);
  });

  it('garbage /proc: every probe still reports; unreadable facts are unknown with the reason', async () => {
    const r = await runDoctor(env(join(FIXTURES, 'garbage'), unixResolution('/nonexistent.sock')), { timeoutMs: 3000 });
    const p = byId(r, 'privileges')[0];
    assert.equal(p?.status, 'unknown');
    assert.match(p?.found ?? '', /the probe failed/);
    assert.equal(byId(r, 'cgroups')[0]?.status, 'unknown');
    assert.ok(r.findings.length >= 17);
    assert.ok(renderDoctorReport(r, false).length > 20);
  });

  it('an engine that answers garbage: daemon fails with what it answered', async () => {
    const sock = await fakeEngine('garbage', 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world');
    const r = await runDoctor(env(join(FIXTURES, 'host-no-sys-resource'), unixResolution(sock)), { timeoutMs: 3000 });
    const d = byId(r, 'daemon')[0];
    assert.equal(d?.status, 'fail');
    assert.match(d?.found ?? '', /not a Docker \/version document.*hello world/);
    assert.equal(byId(r, 'recommendation')[0]?.status, 'fail');
  });

  it('an engine that is not HTTP at all', async () => {
    const sock = await fakeEngine('nothttp', '\x00\x01\x02 garbage\r\n\r\n');
    const r = await runDoctor(env(join(FIXTURES, 'host-no-sys-resource'), unixResolution(sock)), { timeoutMs: 3000 });
    assert.equal(byId(r, 'daemon')[0]?.status, 'fail');
  });

  it('an engine that hangs: the probe times out, the report still comes', async () => {
    const sock = await fakeEngine('hang', undefined);
    const e = env(join(FIXTURES, 'host-no-sys-resource'), unixResolution(sock));
    e.engineTimeoutMs = 60_000; // only the probe timeout can end it
    const t0 = Date.now();
    const r = await runDoctor(e, { timeoutMs: 400 });
    assert.ok(Date.now() - t0 < 5000);
    const d = byId(r, 'daemon')[0];
    assert.equal(d?.status, 'unknown');
    assert.match(d?.found ?? '', /no answer within 400 ms/);
  });

  it('a docker CLI with a missing shared library: named with its Debian package, fail', async () => {
    const root = join(tmp, 'cliroot');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/bin/docker'), '');
    chmodSync(join(root, 'usr/bin/docker'), 0o755);
    const exec: ExecFn = (file) =>
      Promise.resolve(
        file.endsWith('/docker')
          ? { code: 127, stdout: '', stderr: 'docker: error while loading shared libraries: libltdl.so.7: cannot open shared object file: No such file or directory\n', error: undefined }
          : { code: undefined, stdout: '', stderr: '', error: 'ENOENT' },
      );
    const r = await runDoctor(env(root, unixResolution('/nonexistent.sock'), exec), { timeoutMs: 3000 });
    const c = byId(r, 'cli')[0];
    assert.equal(c?.status, 'fail');
    assert.match(c?.found ?? '', /libltdl\.so\.7 \(Debian package libltdl7\)/);
    assert.match(c?.fix ?? '', /apt-get install libltdl7/);
  });

  it('a resolution error (bad DOCKER_HOST) is a failed endpoint probe, not a crash', async () => {
    const r = await runDoctor(
      env(join(FIXTURES, 'host-no-sys-resource'), () => {
        throw new Error('DOCKER_HOST=foo has no scheme');
      }),
      { timeoutMs: 3000 },
    );
    assert.equal(byId(r, 'endpoint')[0]?.status, 'fail');
    assert.equal(byId(r, 'socket')[0]?.status, 'unknown');
  });
});

describe('certificate validity', () => {
  it('short-lived certificates warn only in the last fifth of their life; expired ones fail', async () => {
    const { checkValidity } = await import('./probes/tls.js');
    const cert = (from: string, to: string) => ({ validFrom: from, validTo: to }) as unknown as import('node:crypto').X509Certificate;
    const sevenDays = cert('Jan  1 00:00:00 2026 GMT', 'Jan  8 00:00:00 2026 GMT');
    assert.equal(checkValidity(sevenDays, 'c', new Date('2026-01-02T00:00:00Z')), undefined);
    assert.equal(checkValidity(sevenDays, 'c', new Date('2026-01-07T00:00:00Z'))?.status, 'warn');
    assert.equal(checkValidity(sevenDays, 'c', new Date('2026-01-09T00:00:00Z'))?.status, 'fail');
    assert.equal(checkValidity(sevenDays, 'c', new Date('2025-12-31T00:00:00Z'))?.status, 'fail');
    const year = cert('Jan  1 00:00:00 2026 GMT', 'Jan  1 00:00:00 2027 GMT');
    assert.equal(checkValidity(year, 'c', new Date('2026-11-01T00:00:00Z')), undefined);
    assert.match(checkValidity(year, 'c', new Date('2026-12-15T00:00:00Z'))?.found ?? '', /expires in 17 days/);
  });
});
