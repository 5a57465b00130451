/**
 * The dind pods of `nestling k8s --mode dind` (unix socket, and --tls), assembled on the test dockerd as the
 * kubelet would assemble them: init containers run to completion, the `dockerd` sidecar with its exact command,
 * env and mounts (in nestling/dind:local, the local stand-in for docker:dind with the same entrypoint contract;
 * --privileged, or its explicit equivalent where this host cannot grant it), its exec startup probe polled until it
 * passes, the guard with its exact args and env (in the daemon's network namespace, as in a pod), and the job
 * container with its exact env and mounts. The emptyDirs are host directories shared by bind mounts, prepared as the
 * kubelet prepares them for the pod's fsGroup.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { Cleanup } from '../../harness/cleanup.js';
import { ensureTestImages } from '../../harness/images.js';
import { copyImageInto, createContainer, dockerCli, logs, missingBoundingCaps, removeContainer, startContainer, waitFor } from '../images/helpers.js';
import { generateK8s, type K8sInput, type K8sOutput } from '../../../src/gen/k8s/index.js';
import type { Container, Job, PodSpec } from '../../../src/gen/k8s/types.js';
import { LocalImages } from '../../../src/images/local.js';
import { buildDindImage, buildDindRootlessImage } from '../../../src/images/dind.js';
import { isCapsFailure, knownCapabilities, privilegedEquivalentHostConfig } from '../../../src/modes/privilege.js';
import { EngineError } from '../../../src/util/errors.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

let d: TestDaemon;
let cleanup: Cleanup;
let root: string;
const prefix = uniquePrefix('gen-pod');

before(async () => {
  d = await useDockerd();
  await ensureTestImages(d.engine);
  await buildDindImage(d.engine, { env: process.env });
  cleanup = new Cleanup(d.engine);
  root = mkdtempSync(join(tmpdir(), 'nst-gen-pod-'));
  chmodSync(root, 0o755);
});
after(async () => {
  await cleanup.sweepPrefix(prefix);
  await cleanup.run();
  rmSync(root, { recursive: true, force: true });
});

const expand = (s: string, env: Record<string, string>) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m);

async function waitExit(id: string, ms: number): Promise<number> {
  return waitFor(`container ${id} to exit`, ms, async () => {
    const s = await d.engine.json<{ State: { Running: boolean; ExitCode: number } }>({ method: 'GET', path: `/containers/${id}/json` });
    if (s.State.Running) throw new Error('running');
    return s.State.ExitCode;
  });
}

/** One pod: its emptyDirs as host dirs, and the steps the kubelet takes, in order. */
class PodOnDocker {
  readonly out: K8sOutput;
  readonly spec: PodSpec;
  readonly vol: Record<string, string> = {};
  readonly dir: string;
  readonly owner: string;
  dindId = '';
  guard: ChildProcess | undefined;
  privilege: Record<string, unknown> | undefined;
  note = '';

  readonly name: string;

  constructor(name: string, input: K8sInput) {
    this.name = name;
    this.out = generateK8s(input);
    this.spec = ((this.out.objects.find((o) => o.kind === 'Job') as Job | undefined) ?? assert.fail('no Job')).spec.template.spec;
    this.dir = join(root, name);
    this.owner = `${prefix}-${name}-uid`;
    mkdirSync(this.dir, { mode: 0o755 });
    const cm = this.out.objects.find((o) => o.kind === 'ConfigMap');
    if (cm?.kind === 'ConfigMap') {
      const p = join(this.dir, 'config');
      mkdirSync(p, { mode: 0o755 });
      for (const [k, v] of Object.entries(cm.data)) writeFileSync(join(p, k), v, { mode: 0o644 });
      this.vol.config = p;
    }
    for (const v of this.spec.volumes ?? []) {
      if (!v.emptyDir) continue;
      const p = join(this.dir, v.name);
      mkdirSync(p);
      // the kubelet's emptyDir: 0777; with a pod fsGroup also that group and the setgid bit
      const fsGroup = this.spec.securityContext?.fsGroup;
      if (fsGroup !== undefined) chownSync(p, 0, fsGroup);
      chmodSync(p, fsGroup !== undefined ? 0o2777 : 0o777);
      this.vol[v.name] = p;
    }
  }

  init(name: string): Container {
    return this.spec.initContainers?.find((c) => c.name === name) ?? assert.fail(`no init container ${name}`);
  }

  binds(c: Container): string[] {
    return (c.volumeMounts ?? []).map((m) => {
      const src = this.vol[m.name] ?? assert.fail(`no emptyDir ${m.name}`);
      return `${m.subPath ? join(src, m.subPath) : src}:${m.mountPath}${m.readOnly ? ':ro' : ''}`;
    });
  }

  env(c: Container): string[] {
    return (c.env ?? []).filter((e) => e.value !== undefined).map((e) => `${e.name}=${e.value ?? ''}`);
  }

  /** An init container that runs to completion (certs). */
  async runToCompletion(c: Container, image: string): Promise<void> {
    const id = await createContainer(d.engine, cleanup, `${prefix}-${this.name}-${c.name}`, {
      Image: image,
      Entrypoint: c.command,
      Env: this.env(c),
      HostConfig: { Binds: this.binds(c), CapDrop: c.securityContext?.capabilities?.drop ?? [], SecurityOpt: ['no-new-privileges'] },
    });
    await startContainer(d.engine, id);
    assert.equal(await waitExit(id, 60_000), 0, await logs(d.url, id));
  }

  /** The daemon sidecar, then its startup probe as the kubelet runs it. */
  async startDaemon(): Promise<void> {
    const c = this.init('dockerd');
    assert.deepEqual(c.securityContext, { privileged: true });
    const body = { Image: LocalImages.dind, Entrypoint: c.command, Env: this.env(c), HostConfig: { Binds: this.binds(c) } };
    const name = `${prefix}-${this.name}-dockerd`;
    try {
      this.dindId = await createContainer(d.engine, cleanup, name, { ...body, HostConfig: { ...body.HostConfig, Privileged: true } });
      await startContainer(d.engine, this.dindId);
      this.note = 'privileged';
    } catch (e) {
      if (!(e instanceof EngineError) || !isCapsFailure(e.engineMessage ?? e.message)) throw e;
      if (this.dindId) await removeContainer(d.engine, this.dindId);
      const version = (await d.engine.json<{ Version: string }>({ method: 'GET', path: '/version' })).Version;
      const caps = knownCapabilities(version).filter((x) => !missingBoundingCaps().includes(x));
      this.dindId = await createContainer(d.engine, cleanup, `${name}-eq`, { ...body, HostConfig: { ...body.HostConfig, ...privilegedEquivalentHostConfig(caps) } });
      await startContainer(d.engine, this.dindId);
      this.note = `--privileged refused here (${e.engineMessage ?? e.message}); started with its explicit equivalent`;
    }
    const probe = c.startupProbe ?? assert.fail('no startup probe');
    await waitFor('dockerd startup probe', probe.failureThreshold * probe.periodSeconds * 1000, () => dockerCli(d.url, ['exec', this.dindId, ...probe.exec.command]), () =>
      logs(d.url, this.dindId),
    );
  }

  /** Listening TCP sockets in the daemon container (= the pod's network namespace), as "addr:port" hex pairs. */
  async tcpListeners(): Promise<string[]> {
    const out = await dockerCli(d.url, ['exec', this.dindId, 'sh', '-c', "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$4 == \"0A\" { print $2 }'"]);
    return out.split('\n').filter(Boolean);
  }

  /** The guard sidecar: a host process in the daemon container's network namespace (the pod's), its paths mapped. */
  async startGuard(): Promise<void> {
    const g = this.init('guard');
    const policy = join(this.dir, 'policy.yaml');
    const cm = this.out.objects.find((o) => o.kind === 'ConfigMap');
    writeFileSync(policy, cm?.kind === 'ConfigMap' ? (cm.data['policy.yaml'] ?? '') : assert.fail('no ConfigMap'));
    const map = (a: string) =>
      expand(a, { NESTLING_OWNER: this.owner })
        .split('/nestling/engine').join(this.vol.engine ?? '/nonexistent')
        .split('/nestling/guard').join(this.vol.guard ?? '')
        .split('/certs').join(this.vol.certs ?? '/nonexistent')
        .split('/etc/nestling/policy.yaml').join(policy);
    // `--allow-bind /workspace` stays as written: bind sources are paths as the inner daemon sees them
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' };
    for (const e of g.env ?? []) env[e.name] = e.valueFrom?.fieldRef.fieldPath === 'metadata.uid' ? this.owner : map(e.value ?? '');
    const pid = (await d.engine.json<{ State: { Pid: number } }>({ method: 'GET', path: `/containers/${this.dindId}/json` })).State.Pid;
    this.guard = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, '--', process.execPath, MAIN, ...(g.args ?? []).map(map)], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let err = '';
    this.guard.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in 20 s: ${err}`)), 20_000);
      this.guard?.stdout?.on('data', (b: Buffer) => {
        if (b.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.guard?.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`guard exited ${code}: ${err}`));
      });
    });
    const probe = (g.startupProbe?.exec.command ?? []).map(map);
    await waitFor('guard startup probe', 10_000, async () => {
      const r = spawn(process.execPath, probe.slice(1), { stdio: 'ignore' });
      const code = await new Promise<number | null>((res) => r.once('exit', res));
      if (code !== 0) throw new Error(`probe exit ${code}`);
    });
  }

  /** The job container with its exact env, mounts and working dir; returns its output lines. */
  async runJob(script: string): Promise<string[]> {
    const j = this.spec.containers[0] ?? assert.fail();
    const id = await createContainer(d.engine, cleanup, `${prefix}-${this.name}-job`, {
      Image: LocalImages.cli,
      Entrypoint: ['sh', '-c', script],
      WorkingDir: j.workingDir,
      Env: this.env(j),
      HostConfig: { Binds: this.binds(j), ...(this.spec.securityContext?.fsGroup !== undefined ? { GroupAdd: [String(this.spec.securityContext.fsGroup)] } : {}) },
    });
    await startContainer(d.engine, id);
    const code = await waitExit(id, 120_000);
    const output = await logs(d.url, id);
    assert.equal(code, 0, output);
    return output.trim().split('\n');
  }

  async stopGuard(): Promise<void> {
    const g = this.guard ?? assert.fail('no guard');
    const exited = new Promise<number | null>((res) => g.once('exit', res));
    g.kill('SIGTERM');
    assert.equal(await exited, 0);
  }

  innerDocker(args: string[]): Promise<string> {
    const tls = this.init('dockerd').startupProbe?.exec.command.slice(1, -1) ?? [];
    return dockerCli(d.url, ['exec', this.dindId, 'docker', ...tls, ...args]);
  }

  kill(): void {
    if (this.guard && this.guard.exitCode === null) this.guard.kill('SIGKILL');
  }
}

const JOB_SCRIPT = (name: string) =>
  [
    'set -e',
    `docker run --rm --name ${name}-child ${LocalImages.busybox} echo child-ok`,
    `docker run --rm -v "$PWD:/src" ${LocalImages.busybox} cat /src/hello.txt`,
    `if docker run --rm --privileged ${LocalImages.busybox} true 2>/tmp/err; then echo PRIVILEGED-WENT-THROUGH; else grep -i denied /tmp/err >/dev/null && echo privileged-denied; fi`,
    `docker create --name ${name}-left ${LocalImages.busybox} sleep 60 >/dev/null && echo left-one`,
  ].join('\n');

for (const variant of [
  { name: 'unix', input: { mode: 'dind', nestlingVersion: '0.0.0', dockerVersion: '20.10' } },
  { name: 'tls', input: { mode: 'dind', tls: true, nestlingVersion: '0.0.0', dockerVersion: '20.10' } },
] satisfies { name: string; input: K8sInput }[]) {
  describe(`the dind pod (${variant.name}), assembled on Docker as the kubelet would`, () => {
    // docker 20.10 is what nestling/dind:local carries: the generator leaves out the flags that version lacks
    let pod: PodOnDocker;
    before(() => {
      pod = new PodOnDocker(variant.name, variant.input);
    });
    after(() => pod.kill());

    it('init containers run to completion, then the dockerd sidecar passes its exec startup probe', async (t) => {
      if (variant.input.tls) {
        const certs = pod.init('certs');
        assert.equal(certs.image, pod.init('dockerd').image, 'certificates come from the daemon image (openssl)');
        await pod.runToCompletion(certs, LocalImages.dind);
        for (const f of ['ca/key.pem', 'server/cert.pem', 'client/cert.pem', 'client/key.pem']) assert.ok(existsSync(join(pod.vol.certs ?? '', f)), f);
      }
      await pod.startDaemon();
      t.diagnostic(pod.note);
      const listeners = await pod.tcpListeners();
      if (variant.input.tls) {
        // only 127.0.0.1:2376 (0100007F:0948)
        assert.deepEqual(listeners, ['0100007F:0948'], 'the TLS daemon listens on 127.0.0.1:2376 only');
      } else {
        assert.deepEqual(listeners, [], 'no TCP listener');
        assert.ok(existsSync(join(pod.vol.engine ?? '', 'docker.sock')), 'the socket is on the engine emptyDir');
      }
    });

    it('the guard starts with its exact args and env in the pod network, and its startup probe passes', async () => {
      if (variant.input.tls) assert.equal(pod.init('guard').args?.includes('--upstream'), false, 'TLS upstream comes from DOCKER_* env');
      await pod.startGuard();
    });

    it('the job runs a child through the guard; --privileged is refused; $PWD is shared with the daemon; the child is not on the outer engine', async () => {
      await copyImageInto(d.url, LocalImages.busybox, pod.dindId, ['-e', `DOCKER_HOST=${variant.input.tls ? 'tcp://127.0.0.1:2376' : 'unix:///nestling/engine/docker.sock'}`, ...(variant.input.tls ? ['-e', 'DOCKER_TLS_VERIFY=1', '-e', 'DOCKER_CERT_PATH=/certs/client'] : [])]);
      writeFileSync(join(pod.vol.workspace ?? '', 'hello.txt'), 'from the job workspace\n');
      const jobName = `${prefix}-${variant.name}`;
      assert.deepEqual(await pod.runJob(JOB_SCRIPT(jobName)), ['child-ok', 'from the job workspace', 'privileged-denied', 'left-one']);
      const outer = await dockerCli(d.url, ['ps', '-a', '--filter', `name=${jobName}-left`, '--format', '{{.Names}}']);
      assert.equal(outer.trim(), '', "the job's child is not a container of the outer engine");
    });

    it('when the pod ends the guard reaps what the job left in the inner daemon', async () => {
      const owned = () => pod.innerDocker(['ps', '-aq', '--filter', `label=io.nestling.owner=${pod.owner}`]);
      assert.notEqual((await owned()).trim(), '', 'the job left a container, with the owner label');
      await pod.stopGuard();
      assert.equal((await owned()).trim(), '');
    });
  });
}

describe('the rootless pod\'s daemon, assembled on Docker with the relaxations it states', () => {
  // Kubernetes fields -> their Docker equivalents: seccompProfile/appArmorProfile Unconfined -> seccomp/apparmor
  // =unconfined, procMount Unmasked -> systempaths=unconfined (MaskedPaths/ReadonlyPaths []), the tun device plugin -> --device /dev/net/tun,
  // runAsUser/runAsGroup -> --user. Not emulated: hostUsers false (Docker has no per-container user namespace).
  let pod: PodOnDocker;
  let id = '';
  before(() => {
    pod = new PodOnDocker('rootless', { mode: 'rootless', nestlingVersion: '0.0.0' });
  });

  it('dockerd starts as uid 1000 with no added capability, the subordinate range from the ConfigMap, the socket on the emptyDir', async (t) => {
    await buildDindRootlessImage(d.engine, { env: process.env });
    const c = pod.init('dockerd');
    const sc = c.securityContext ?? assert.fail();
    assert.equal(sc.capabilities, undefined, 'no capability added');
    assert.equal(sc.privileged, false);
    const securityOpt = [
      ...(sc.seccompProfile?.type === 'Unconfined' ? ['seccomp=unconfined'] : []),
      ...(sc.appArmorProfile?.type === 'Unconfined' ? ['apparmor=unconfined'] : []),
    ];
    assert.equal(securityOpt.length, 2);
    assert.equal(sc.procMount, 'Unmasked');
    assert.ok(Object.keys(c.resources?.limits ?? {}).includes('squat.ai/tun'));
    // The device plugin hands over the node's /dev/net/tun as it is: 0666 on common distributions (udev's
    // default). This host's is 0600, so the test gives the container a 0666 node for the same device (10,200).
    const tun = join(pod.dir, 'tun');
    spawnSync('mknod', [tun, 'c', '10', '200']);
    chmodSync(tun, 0o666);
    id = await createContainer(d.engine, cleanup, `${prefix}-rootless-dockerd`, {
      Image: LocalImages.dindRootless,
      User: `${sc.runAsUser}:${sc.runAsGroup}`,
      Cmd: c.args,
      HostConfig: {
        Binds: pod.binds(c),
        SecurityOpt: securityOpt,
        // procMount Unmasked = the CLI's systempaths=unconfined = no masked or read-only paths in the API
        MaskedPaths: [],
        ReadonlyPaths: [],
        Devices: [{ PathOnHost: tun, PathInContainer: '/dev/net/tun', CgroupPermissions: 'rwm' }],
      },
    });
    await startContainer(d.engine, id);
    const probe = c.startupProbe ?? assert.fail();
    await waitFor('rootless dockerd startup probe', probe.failureThreshold * probe.periodSeconds * 1000, () => dockerCli(d.url, ['exec', id, ...probe.exec.command]), () => logs(d.url, id));
    assert.ok(existsSync(join(pod.vol.engine ?? '', 'docker.sock')), 'the socket is on the engine emptyDir, outside rootlesskit\'s copied-up /run');
    const info = await dockerCli(d.url, ['exec', id, 'docker', '--host=unix:///nestling/engine/docker.sock', 'info', '--format', '{{json .SecurityOptions}}']);
    assert.match(info, /name=rootless/);
    const map = await dockerCli(d.url, ['exec', id, 'sh', '-c', 'cat /proc/$(pgrep -x dockerd | head -1)/uid_map']);
    assert.match(map.replace(/\s+/g, ' ').trim(), /^0 1000 1 1 1001 64535$/, 'the ConfigMap\'s subordinate range is what newuidmap used');
    t.diagnostic(`uid_map of the rootless dockerd: ${map.trim().replace(/\n/g, ' | ')}`);
  });

  it('the job container reaches it through its env and mounts, and a child runs', async () => {
    await copyImageInto(d.url, LocalImages.busybox, id, ['-e', 'DOCKER_HOST=unix:///nestling/engine/docker.sock']);
    const out = await pod.runJob(`set -e\ndocker run --rm ${LocalImages.busybox} echo rootless-child-ok\ndocker info --format '{{json .SecurityOptions}}' | grep -q name=rootless && echo rootless`);
    assert.deepEqual(out, ['rootless-child-ok', 'rootless']);
  });
});
