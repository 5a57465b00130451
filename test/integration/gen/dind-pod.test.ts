/**
 * The dind pod of `nestling k8s --mode dind`, assembled on the test dockerd as the kubelet would assemble it: the
 * `dockerd` sidecar with its exact command, env and mounts (in nestling/dind:local, the local stand-in for
 * docker:dind with the same entrypoint contract; --privileged, or its explicit equivalent where this host cannot
 * grant it), its exec startup probe polled until it passes, the guard with its exact args, and the job container
 * with its exact env and mounts. The emptyDirs are host directories shared by bind mounts.
 * Shows: the daemon listens only on the emptyDir socket; the job reaches it only through the guard; a child
 * container runs; `--privileged` is refused; the job's /workspace is the daemon's /workspace; the child is not on
 * the outer engine; the guard reaps when the pod ends.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useDockerd, uniquePrefix, type TestDaemon } from '../../harness/dockerd.js';
import { Cleanup } from '../../harness/cleanup.js';
import { ensureTestImages } from '../../harness/images.js';
import { copyImageInto, createContainer, dockerCli, logs, missingBoundingCaps, removeContainer, startContainer, waitFor } from '../images/helpers.js';
import { generateK8s, type K8sOutput } from '../../../src/gen/k8s/index.js';
import { SOCKET_GID } from '../../../src/gen/defaults.js';
import type { Container, Job, PodSpec } from '../../../src/gen/k8s/types.js';
import { LocalImages } from '../../../src/images/local.js';
import { buildDindImage } from '../../../src/images/dind.js';
import { isCapsFailure, knownCapabilities, privilegedEquivalentHostConfig } from '../../../src/modes/privilege.js';
import { EngineError } from '../../../src/util/errors.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

let d: TestDaemon;
let cleanup: Cleanup;
let dir: string;
const prefix = uniquePrefix('gen-pod');

before(async () => {
  d = await useDockerd();
  await ensureTestImages(d.engine);
  await buildDindImage(d.engine, { env: process.env });
  cleanup = new Cleanup(d.engine);
  dir = mkdtempSync(join(tmpdir(), 'nst-gen-pod-'));
  chmodSync(dir, 0o755);
});
after(async () => {
  await cleanup.sweepPrefix(prefix);
  await cleanup.run();
  rmSync(dir, { recursive: true, force: true });
});

const expand = (s: string, env: Record<string, string>) => s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, n: string) => env[n] ?? m);

describe('the dind pod, assembled on Docker as the kubelet would', () => {
  let out: K8sOutput;
  let spec: PodSpec;
  let dindId = '';
  let guard: ChildProcess | undefined;
  let owner = '';
  const vol: Record<string, string> = {};
  after(() => {
    if (guard && guard.exitCode === null) guard.kill('SIGKILL');
  });

  it('the dockerd sidecar starts with its exact command and its exec startup probe passes', async (t) => {
    // docker 20.10 is what nestling/dind:local carries: the generator leaves out flags that version lacks
    out = generateK8s({ mode: 'dind', nestlingVersion: '0.0.0', dockerVersion: '20.10' });
    spec = ((out.objects.find((o) => o.kind === 'Job') as Job | undefined) ?? assert.fail()).spec.template.spec;
    for (const v of spec.volumes ?? []) {
      if (!v.emptyDir) continue;
      vol[v.name] = join(dir, v.name);
      mkdirSync(vol[v.name] ?? '');
      // the kubelet's emptyDir for a pod with fsGroup: 0777, group fsGroup, setgid
      chownSync(vol[v.name] ?? '', 0, spec.securityContext?.fsGroup ?? assert.fail('no fsGroup'));
      chmodSync(vol[v.name] ?? '', 0o2777);
    }
    const c: Container = spec.initContainers?.find((x) => x.name === 'dockerd') ?? assert.fail();
    assert.deepEqual(c.securityContext, { privileged: true });
    const binds = (c.volumeMounts ?? []).map((m) => `${vol[m.name] ?? assert.fail(`no emptyDir ${m.name}`)}:${m.mountPath}${m.readOnly ? ':ro' : ''}`);
    const body = {
      Image: LocalImages.dind,
      Entrypoint: c.command,
      Env: (c.env ?? []).map((e) => `${e.name}=${e.value ?? ''}`),
      HostConfig: { Binds: binds },
    };
    const name = `${prefix}-dockerd`;
    try {
      dindId = await createContainer(d.engine, cleanup, name, { ...body, HostConfig: { ...body.HostConfig, Privileged: true } });
      await startContainer(d.engine, dindId);
    } catch (e) {
      if (!(e instanceof EngineError) || !isCapsFailure(e.engineMessage ?? e.message)) throw e;
      if (dindId) await removeContainer(d.engine, dindId);
      const version = (await d.engine.json<{ Version: string }>({ method: 'GET', path: '/version' })).Version;
      const caps = knownCapabilities(version).filter((x) => !missingBoundingCaps().includes(x));
      dindId = await createContainer(d.engine, cleanup, `${name}-eq`, { ...body, HostConfig: { ...body.HostConfig, ...privilegedEquivalentHostConfig(caps) } });
      await startContainer(d.engine, dindId);
      t.diagnostic(`--privileged refused here (${e.engineMessage ?? e.message}); started with its explicit equivalent`);
    }
    const probe = c.startupProbe ?? assert.fail('no startup probe');
    // what the kubelet does: exec the probe every periodSeconds until it passes (failureThreshold x period)
    await waitFor('dockerd startup probe', probe.failureThreshold * probe.periodSeconds * 1000, () => dockerCli(d.url, ['exec', dindId, ...probe.exec.command]), () => logs(d.url, dindId));
    assert.ok(existsSync(join(vol.engine ?? '', 'docker.sock')), 'the socket is on the engine emptyDir');
    const listen = await dockerCli(d.url, ['exec', dindId, 'sh', '-c', 'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk \'$4 == "0A"\' | wc -l']);
    assert.equal(listen.trim(), '0', 'no TCP listener in the daemon container');
  });

  it('the guard sidecar starts with its exact args in front of that socket, and its probe passes', async () => {
    const g = spec.initContainers?.find((x) => x.name === 'guard') ?? assert.fail();
    const policy = join(dir, 'policy.yaml');
    const cm = out.objects.find((o) => o.kind === 'ConfigMap');
    writeFileSync(policy, cm?.kind === 'ConfigMap' ? (cm.data['policy.yaml'] ?? '') : assert.fail());
    owner = `${prefix}-uid`;
    const map = (a: string) =>
      expand(a, { NESTLING_OWNER: owner })
        .split('/nestling/engine').join(vol.engine ?? '')
        .split('/nestling/guard').join(vol.guard ?? '')
        .split('/etc/nestling/policy.yaml').join(policy);
    // `--allow-bind /workspace` stays as written: bind sources are paths as the inner daemon sees them
    guard = spawn(process.execPath, [MAIN, ...(g.args ?? []).map(map)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    guard.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in 20 s: ${err}`)), 20_000);
      guard?.stdout?.on('data', (b: Buffer) => b.toString().includes('listening') && (clearTimeout(timer), resolve()));
      guard?.once('exit', (code) => (clearTimeout(timer), reject(new Error(`guard exited ${code}: ${err}`))));
    });
    const probe = (g.startupProbe?.exec.command ?? []).map(map);
    await waitFor('guard startup probe', 10_000, async () => {
      const r = spawn(process.execPath, probe.slice(1), { stdio: 'ignore' });
      const code = await new Promise<number | null>((res) => r.once('exit', res));
      if (code !== 0) throw new Error(`probe exit ${code}`);
    });
  });

  it('the job, with its exact env and mounts, runs a child through the guard; --privileged is refused; /workspace is shared', async () => {
    await copyImageInto(d.url, LocalImages.busybox, dindId, ['-e', 'DOCKER_HOST=unix:///nestling/engine/docker.sock']);
    writeFileSync(join(vol.workspace ?? '', 'hello.txt'), 'from the job workspace\n');
    const j = spec.containers[0] ?? assert.fail();
    const script = [
      'set -e',
      `docker run --rm --name ${prefix}-child ${LocalImages.busybox} echo child-ok`,
      `docker run --rm -v "$PWD:/src" ${LocalImages.busybox} cat /src/hello.txt`,
      `if docker run --rm --privileged ${LocalImages.busybox} true 2>/tmp/err; then echo PRIVILEGED-WENT-THROUGH; else grep -i denied /tmp/err >/dev/null && echo privileged-denied; fi`,
      `docker create --name ${prefix}-left ${LocalImages.busybox} sleep 60 >/dev/null && echo left-one`,
    ].join('\n');
    const name = `${prefix}-job`;
    const id = await createContainer(d.engine, cleanup, name, {
      Image: LocalImages.cli,
      Entrypoint: ['sh', '-c', script],
      WorkingDir: j.workingDir,
      Env: (j.env ?? []).filter((e) => e.value !== undefined).map((e) => `${e.name}=${e.value ?? ''}`),
      HostConfig: { Binds: (j.volumeMounts ?? []).map((m) => `${vol[m.name] ?? assert.fail(m.name)}:${m.mountPath}`), GroupAdd: [String(SOCKET_GID)] },
    });
    await startContainer(d.engine, id);
    const code = await waitFor('job exit', 120_000, async () => {
      const s = await d.engine.json<{ State: { Running: boolean; ExitCode: number } }>({ method: 'GET', path: `/containers/${id}/json` });
      if (s.State.Running) throw new Error('running');
      return s.State.ExitCode;
    });
    const output = await logs(d.url, id);
    assert.equal(code, 0, output);
    assert.deepEqual(output.trim().split('\n'), ['child-ok', 'from the job workspace', 'privileged-denied', 'left-one']);
    const outer = await dockerCli(d.url, ['ps', '-a', '--filter', `name=${prefix}-left`, '--format', '{{.Names}}']);
    assert.equal(outer.trim(), '', "the job's child is not a container of the outer engine");
  });

  it('when the pod ends the guard reaps what the job left in the inner daemon', async () => {
    const inner = ['exec', '-e', 'DOCKER_HOST=unix:///nestling/engine/docker.sock', dindId, 'docker'];
    const before = await dockerCli(d.url, [...inner, 'ps', '-aq', '--filter', `label=io.nestling.owner=${owner}`]);
    assert.notEqual(before.trim(), '', 'the job left a container, with the owner label');
    const g = guard ?? assert.fail();
    const exited = new Promise<number | null>((res) => g.once('exit', res));
    g.kill('SIGTERM');
    assert.equal(await exited, 0);
    const after = await dockerCli(d.url, [...inner, 'ps', '-aq', '--filter', `label=io.nestling.owner=${owner}`]);
    assert.equal(after.trim(), '');
  });
});
