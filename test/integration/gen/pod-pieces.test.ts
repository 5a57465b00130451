/**
 * The generated manifests' moving parts, run for real: there is no Kubernetes cluster here, so each container's
 * command, probe and wiring is executed on the test dockerd (or on this host) with the pod's paths mapped to
 * temporary ones, and `$(VAR)` expanded the way the kubelet does.
 *   - the guard sidecar's exact args start the real `nestling guard`; its startup probe passes through it; the
 *     job's DOCKER_HOST reaches the engine through it; the escalations the notes name are refused; binds under the
 *     workspace work; --reap-on-exit removes what the job made;
 *   - the daemon's startup probe (`docker info`) fails until a daemon answers, then passes;
 *   - the MTU script reads the MTU of the network the container is on;
 *   - the TLS init script's certificates are accepted by `dockerd --tlsverify`, and the probe's client flags
 *     connect with them (and fail without them).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useDockerd, startDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { Cleanup } from '../../harness/cleanup.js';
import { ensureTestImages } from '../../harness/images.js';
import { generateK8s } from '../../../src/gen/k8s/index.js';
import { certsScript } from '../../../src/gen/k8s/manifest.js';
import { SOCKET_GID } from '../../../src/gen/defaults.js';
import type { Container, EnvVar, Job, Pod, PodSpec } from '../../../src/gen/k8s/types.js';
import { LocalImages } from '../../../src/images/local.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const DOCKER = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});

/** Kubernetes' $(VAR) expansion in command/args: defined names are replaced, $$ is a literal $. */
export function expandK8s(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (m === '$$' ? '$' : name !== undefined && name in env ? (env[name] ?? '') : m));
}

const podSpecOf = (objects: readonly unknown[]): PodSpec => {
  const w = objects.find((o) => (o as { kind: string }).kind !== 'ConfigMap') as Pod | Job;
  return w.kind === 'Pod' ? w.spec : w.spec.template.spec;
};
const initNamed = (s: PodSpec, name: string): Container => s.initContainers?.find((c) => c.name === name) ?? assert.fail(`no ${name}`);

function mapPaths(s: string, map: [string, string][]): string {
  let out = s;
  for (const [from, to] of map) out = out.split(from).join(to);
  return out;
}

function docker(host: string, args: string[], timeout = 60_000) {
  assert.ok(DOCKER, 'no docker CLI on this host');
  const r = spawnSync(DOCKER, args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: host, DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '' }, timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

let d: TestDaemon;
let cleanup: Cleanup;
let dir: string;
const prefix = uniquePrefix('gen');

before(async () => {
  d = await useDockerd();
  await ensureTestImages(d.engine);
  cleanup = new Cleanup(d.engine);
  dir = mkdtempSync(join(tmpdir(), 'nst-gen-'));
});
after(async () => {
  await cleanup.sweepPrefix(prefix);
  await cleanup.run();
  rmSync(dir, { recursive: true, force: true });
});

describe('generated guard sidecar, run as written', () => {
  let guard: ChildProcess | undefined;
  let owner: string;
  let jobHost: string;
  let ws: string;
  let probe: string[];
  after(() => {
    if (guard && guard.exitCode === null) guard.kill('SIGKILL');
  });

  it('its args start the real `nestling guard`, and its startup probe passes through it', async () => {
    const out = generateK8s({ mode: 'dind', nestlingVersion: '0.0.0' });
    const s = podSpecOf(out.objects);
    const g = initNamed(s, 'guard');
    const cm = out.objects.find((o) => o.kind === 'ConfigMap');
    assert.ok(cm && cm.kind === 'ConfigMap');
    const guardDir = join(dir, 'guard');
    ws = join(dir, 'workspace');
    mkdirSync(guardDir);
    // what the kubelet does to an emptyDir of a pod with fsGroup: group fsGroup, setgid, group-writable
    assert.equal(s.securityContext?.fsGroup, SOCKET_GID);
    chmodSync(dir, 0o755); // mkdtemp makes 0700; in the pod the mount path is traversable
    chownSync(guardDir, 0, SOCKET_GID);
    chmodSync(guardDir, 0o2777);
    mkdirSync(ws);
    writeFileSync(join(ws, 'hello.txt'), 'from the workspace\n');
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, cm.data['policy.yaml'] ?? assert.fail('no policy.yaml'));
    const map: [string, string][] = [
      ['/nestling/engine/docker.sock', d.socketPath],
      ['/nestling/guard', guardDir],
      ['/etc/nestling/policy.yaml', policy],
      ['/workspace', ws],
    ];
    owner = `${prefix}-pod-uid`;
    const env: Record<string, string> = {};
    for (const e of g.env ?? ([] as EnvVar[])) env[e.name] = e.valueFrom?.fieldRef.fieldPath === 'metadata.uid' ? owner : (e.value ?? '');
    const args = (g.args ?? []).map((a) => mapPaths(expandK8s(a, env), map));
    assert.equal(args[0], 'guard');
    assert.ok(args.includes(owner), 'the owner is the pod uid, expanded from $(NESTLING_OWNER)');
    guard = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    guard.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`guard did not print listening within 20 s; stderr:\n${stderr}`)), 20_000);
      let buf = '';
      guard?.stdout?.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('listening')) {
          clearTimeout(t);
          resolve();
        }
      });
      guard?.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`guard exited ${code}; stderr:\n${stderr}`));
      });
    });
    probe = (g.startupProbe?.exec.command ?? []).map((a) => mapPaths(a, map));
    assert.equal(probe[0], 'node');
    const r = spawnSync(process.execPath, probe.slice(1), { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, `startup probe failed: ${r.stderr}`);
    const job = s.containers[0] ?? assert.fail();
    const host = job.env?.find((e) => e.name === 'DOCKER_HOST')?.value ?? assert.fail('no DOCKER_HOST');
    const guardMount = job.volumeMounts?.find((m) => m.name === 'guard') ?? assert.fail('job has no guard mount');
    jobHost = host.replace(guardMount.mountPath, guardDir);
  });

  it("the job's DOCKER_HOST reaches the engine through it", () => {
    const v = docker(jobHost, ['version', '--format', '{{.Server.Version}}']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout.trim(), /^\d+\.\d+/);
  });

  it('a non-root job (uid 1001) connects through the pod fsGroup, and not without it', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to switch users');
    const sock = jobHost.replace('unix://', '');
    assert.equal(statSync(sock).gid, SOCKET_GID, 'the socket inherits the setgid emptyDir group');
    assert.equal(statSync(sock).mode & 0o777, 0o660);
    const as = (groups: string) =>
      spawnSync('setpriv', ['--reuid=1001', '--regid=1001', `--groups=${groups}`, DOCKER ?? 'docker', 'version', '--format', '{{.Server.Version}}'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', DOCKER_HOST: jobHost },
        timeout: 30_000,
      });
    const member = as(`1001,${SOCKET_GID}`);
    assert.equal(member.status, 0, member.stderr);
    const stranger = as('1001');
    assert.notEqual(stranger.status, 0);
    assert.match(stranger.stderr, /permission denied/i);
  });

  it('what the notes say the guard stops is refused: --privileged, -v /:/host', () => {
    for (const extra of [['--privileged'], ['-v', '/:/host']]) {
      const r = docker(jobHost, ['run', '--rm', '--name', `${prefix}-esc-${extra.length}`, ...extra, LocalImages.busybox, 'true']);
      assert.notEqual(r.code, 0, `${extra.join(' ')} went through`);
      assert.match(r.stderr, /denied/i, r.stderr);
    }
  });

  it('a bind from the workspace (--allow-bind /workspace) works', () => {
    const r = docker(jobHost, ['run', '--rm', '--name', `${prefix}-ws`, '-v', `${ws}:/src:ro`, LocalImages.busybox, 'cat', '/src/hello.txt']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'from the workspace\n');
  });

  it('a symlink the job plants in the workspace is resolved as the daemon would, and refused', () => {
    symlinkSync('/', join(ws, 'evil'));
    const r = docker(jobHost, ['run', '--rm', '--name', `${prefix}-evil`, '-v', `${join(ws, 'evil')}:/host`, LocalImages.busybox, 'true']);
    assert.notEqual(r.code, 0, 'a bind through a symlink to / went through');
    assert.match(r.stderr, /denied/i);
  });

  it('--reap-on-exit: when the guard is stopped (pod end), what the job made is gone from the engine', async () => {
    const c = docker(jobHost, ['create', '--name', `${prefix}-left`, LocalImages.busybox, 'sleep', '60']);
    assert.equal(c.code, 0, c.stderr);
    const owned = async () =>
      (await d.engine.json<{ Id: string }[]>({ method: 'GET', path: '/containers/json', query: { all: 'true', filters: JSON.stringify({ label: [`io.nestling.owner=${owner}`] }) } })).length;
    assert.ok((await owned()) >= 1, 'the job\'s container carries the owner label');
    const g = guard ?? assert.fail();
    const exited = new Promise<number | null>((resolve) => g.once('exit', (code) => resolve(code)));
    g.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(await owned(), 0);
  });
});

describe('generated guarded-mode guard, run as written', () => {
  let guard: ChildProcess | undefined;
  after(() => {
    if (guard && guard.exitCode === null) guard.kill('SIGKILL');
  });

  it("maps the job's /workspace to the emptyDir's path on the node, so `-v /workspace:/src` mounts the job's files", async () => {
    const kubelet = join(dir, 'kubelet');
    const out = generateK8s({ mode: 'guarded', kubeletDir: kubelet, nestlingVersion: '0.0.0' });
    const s = podSpecOf(out.objects);
    const g = initNamed(s, 'guard');
    const owner = `${prefix}-guarded-uid`;
    const onNode = join(kubelet, 'pods', owner, 'volumes', 'kubernetes.io~empty-dir', 'workspace');
    mkdirSync(onNode, { recursive: true });
    writeFileSync(join(onNode, 'hello.txt'), 'seen from the node\n');
    const guardDir = join(dir, 'guarded-guard');
    mkdirSync(guardDir);
    const policy = join(dir, 'guarded-policy.yaml');
    const cm = out.objects.find((o) => o.kind === 'ConfigMap');
    writeFileSync(policy, cm && cm.kind === 'ConfigMap' ? (cm.data['policy.yaml'] ?? '') : assert.fail('no ConfigMap'));
    // the hostPath volume is the node's engine socket: here, the test daemon's
    assert.deepEqual(s.volumes?.find((v) => v.name === 'host-engine')?.hostPath, { path: '/var/run/docker.sock', type: 'Socket' });
    const map: [string, string][] = [
      ['/nestling/host-engine/docker.sock', d.socketPath],
      ['/nestling/guard', guardDir],
      ['/etc/nestling/policy.yaml', policy],
    ];
    const env: Record<string, string> = { NESTLING_OWNER: owner };
    const args = (g.args ?? []).map((a) => mapPaths(expandK8s(a, env), map));
    guard = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    guard.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`guard did not print listening within 20 s; stderr:\n${stderr}`)), 20_000);
      guard?.stdout?.on('data', (c: Buffer) => {
        if (c.toString().includes('listening')) {
          clearTimeout(t);
          resolve();
        }
      });
      guard?.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`guard exited ${code}; stderr:\n${stderr}`));
      });
    });
    const host = `unix://${join(guardDir, 'docker.sock')}`;
    // the job container's own view: its workspace is /workspace
    const r = docker(host, ['run', '--rm', '--name', `${prefix}-map`, '-v', '/workspace:/src:ro', LocalImages.busybox, 'cat', '/src/hello.txt']);
    assert.equal(r.code, 0, `${r.stderr}\n${stderr}`);
    assert.equal(r.stdout, 'seen from the node\n');
    const esc = docker(host, ['run', '--rm', '--name', `${prefix}-map-esc`, '-v', '/etc:/src:ro', LocalImages.busybox, 'true']);
    assert.notEqual(esc.code, 0, 'a bind outside the workspace went through');
    // the guard sees the node's path (the kubelet-pods hostPath): a symlink planted in the workspace is resolved
    assert.ok(g.volumeMounts?.some((m) => m.name === 'kubelet-pods' && m.mountPath === `${kubelet}/pods` && m.readOnly));
    symlinkSync('/', join(onNode, 'evil'));
    const evil = docker(host, ['run', '--rm', '--name', `${prefix}-map-evil`, '-v', '/workspace/evil:/host', LocalImages.busybox, 'true']);
    assert.notEqual(evil.code, 0, 'a bind through a symlink to / went through');
    assert.match(evil.stderr, /denied/i);
    const exited = new Promise<number | null>((resolve) => guard?.once('exit', (code) => resolve(code)));
    guard.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});

describe('generated daemon startup probe', () => {
  it('`docker info` fails while no daemon answers and passes once one does', () => {
    const s = podSpecOf(generateK8s({ mode: 'dind', guard: false, nestlingVersion: '0.0.0' }).objects);
    const probe = initNamed(s, 'dockerd').startupProbe?.exec.command ?? assert.fail();
    assert.equal(probe[0], 'docker');
    const run = (sock: string) => {
      const args = probe.slice(1).map((a) => a.replace('/nestling/engine/docker.sock', sock));
      return spawnSync(DOCKER ?? 'docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: '', DOCKER_CONTEXT: '' }, timeout: 30_000 }).status;
    };
    assert.notEqual(run(join(dir, 'no-daemon.sock')), 0);
    assert.equal(run(d.socketPath), 0);
  });
});

describe('generated MTU script', () => {
  it('reads the MTU of the network the container is on, and NESTLING_MTU overrides it', () => {
    const s = podSpecOf(generateK8s({ mode: 'dind', nestlingVersion: '0.0.0' }).objects);
    const script = initNamed(s, 'dockerd').command?.[2] ?? assert.fail();
    const lines = script.split('\n');
    assert.match(lines.at(-1) ?? '', /^exec dockerd-entrypoint\.sh dockerd .*--mtu="\$mtu"/);
    const probe = [...lines.slice(0, -1), 'echo "$mtu"'].join('\n');
    const net = `${prefix}-mtu`;
    const n = docker(d.url, ['network', 'create', '--opt', 'com.docker.network.driver.mtu=1400', net]);
    assert.equal(n.code, 0, n.stderr);
    cleanup.add('network', net);
    const auto = docker(d.url, ['run', '--rm', '--name', `${prefix}-mtu1`, '--network', net, LocalImages.busybox, 'sh', '-c', probe]);
    assert.equal(auto.code, 0, auto.stderr);
    assert.equal(auto.stdout.trim(), '1400');
    const fixed = docker(d.url, ['run', '--rm', '--name', `${prefix}-mtu2`, '--network', net, '-e', 'NESTLING_MTU=1300', LocalImages.busybox, 'sh', '-c', probe]);
    assert.equal(fixed.stdout.trim(), '1300');
  });
});

describe('generated TLS init script', () => {
  let tlsd: TestDaemon | undefined;
  after(async () => {
    await tlsd?.stop();
  });

  it('makes certificates that `dockerd --tlsverify` accepts and the probe connects with (and not without them)', async () => {
    const out = generateK8s({ mode: 'dind', tls: true, guard: false, nestlingVersion: '0.0.0' });
    const s = podSpecOf(out.objects);
    const certs = join(dir, 'certs');
    const script = initNamed(s, 'certs').command?.[2] ?? assert.fail();
    assert.equal(script, certsScript(2));
    const r = spawnSync('sh', ['-c', script.split('/certs').join(certs)], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(certs).sort(), ['ca', 'client', 'server']);
    for (const who of ['ca', 'server', 'client']) assert.equal(statSync(join(certs, who, 'key.pem')).mode & 0o777, 0o600, `${who}/key.pem`);
    const daemonArgs = (initNamed(s, 'dockerd').command?.[2] ?? '').split('\n').at(-1) ?? '';
    const port = await freePort();
    const tlsFlags = [...daemonArgs.matchAll(/--(tlsverify|tlscacert=\S+|tlscert=\S+|tlskey=\S+)/g)].map((m) => `--${(m[1] ?? '').split('/certs').join(certs)}`);
    assert.equal(tlsFlags.length, 4, daemonArgs);
    assert.match(daemonArgs, /--host=tcp:\/\/127\.0\.0\.1:2376 /);
    // the unix-socket daemon's --group (numeric) is checked on the same daemon: its own unix socket gets it
    const unixScript = initNamed(podSpecOf(generateK8s({ mode: 'dind', nestlingVersion: '0.0.0' }).objects), 'dockerd').command?.[2] ?? '';
    const group = /--group=\d+/.exec(unixScript)?.[0] ?? assert.fail('no --group in the dind command');
    tlsd = await startDockerd({ extraArgs: [`--host=tcp://127.0.0.1:${port}`, ...tlsFlags, group] });
    assert.equal(statSync(tlsd.socketPath).gid, SOCKET_GID, `dockerd ${group} chowns its unix socket to that gid`);
    const probe = (initNamed(s, 'dockerd').startupProbe?.exec.command ?? []).map((a) => a.split('/certs').join(certs).replace(':2376', `:${port}`));
    const env = { ...process.env, DOCKER_HOST: '', DOCKER_CONTEXT: '', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '' };
    const ok = spawnSync(DOCKER ?? 'docker', probe.slice(1), { encoding: 'utf8', env, timeout: 30_000 });
    assert.equal(ok.status, 0, ok.stderr);
    const noClientCert = probe.slice(1).filter((a) => !a.startsWith('--tlscert=') && !a.startsWith('--tlskey='));
    const refused = spawnSync(DOCKER ?? 'docker', noClientCert, { encoding: 'utf8', env, timeout: 30_000 });
    assert.notEqual(refused.status, 0, 'the daemon took a client without a certificate');
    // the job's env (no guard): DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH=/certs/client
    const job = s.containers[0] ?? assert.fail();
    const jenv = Object.fromEntries((job.env ?? []).map((e) => [e.name, (e.value ?? '').split('/certs').join(certs).replace(':2376', `:${port}`)]));
    const v = spawnSync(DOCKER ?? 'docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8', env: { ...env, ...jenv }, timeout: 30_000 });
    assert.equal(v.status, 0, v.stderr);
  });
});
