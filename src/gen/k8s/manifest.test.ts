import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { findNestlingError } from '../../util/errors.js';
import { generateK8s, type K8sInput, type K8sOutput } from './index.js';
import type { Container, Job, K8sObject, Pod, PodSpec } from './types.js';
import { schemasFor, typeCheckObjects, validateWithOpenApi133, type TypeCheckCase } from './schema-check.testing.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const GOLDEN = join(ROOT, 'test/fixtures/gen/k8s');
const V = '0.1.0'; // fixed, so goldens do not move with the package version

/** Every mode x kind, plus the variants whose output differs in kind, not only in values. */
export const CASES: { name: string; input: K8sInput }[] = [];
for (const mode of ['dind', 'guarded', 'rootless', 'sysbox']) {
  for (const kind of ['job', 'pod']) CASES.push({ name: `${mode}-${kind}`, input: { mode, kind, nestlingVersion: V } });
}
CASES.push(
  { name: 'dind-tls-job', input: { mode: 'dind', kind: 'job', tls: true, nestlingVersion: V } },
  { name: 'dind-no-guard-tls-pod', input: { mode: 'dind', kind: 'pod', tls: true, guard: false, nestlingVersion: V } },
  { name: 'dind-no-guard-job', input: { mode: 'dind', guard: false, mtu: 1450, namespace: 'ci', name: 'build-42', nestlingVersion: V } },
  { name: 'rootless-k129-job', input: { mode: 'rootless', kubeVersion: '1.29', nestlingVersion: V } },
  { name: 'sysbox-guard-tls-job', input: { mode: 'sysbox', guard: true, tls: true, cpu: '2', memory: '4Gi', daemonCpu: '1', daemonMemory: '8Gi', nestlingVersion: V } },
  { name: 'guarded-custom-job', input: { mode: 'guarded', engineSocket: '/run/docker.sock', kubeletDir: '/data/kubelet', policy: 'version: 1\n', command: ['make', 'test'], kubeVersion: '1.33', workspace: '/src', nestlingVersion: V } },
);

const outputs = new Map<string, K8sOutput>();
for (const c of CASES) outputs.set(c.name, generateK8s(c.input));
const out = (name: string) => outputs.get(name) ?? assert.fail(`no case ${name}`);
const podSpecOf = (o: K8sOutput): PodSpec => {
  const w = o.objects.find((x) => x.kind !== 'ConfigMap') as Pod | Job;
  return w.kind === 'Pod' ? w.spec : w.spec.template.spec;
};
const init = (s: PodSpec, name: string): Container | undefined => s.initContainers?.find((c) => c.name === name);
const job = (s: PodSpec): Container => s.containers[0] ?? assert.fail('no job container');
const allContainers = (s: PodSpec): Container[] => [...(s.initContainers ?? []), ...s.containers];

describe('k8s manifests: golden files (UPDATE_GOLDEN=1 refreshes)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const file = join(GOLDEN, `${c.name}.yaml`);
      const yaml = out(c.name).yaml;
      if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
        if (process.env.UPDATE_GOLDEN !== '1') assert.fail(`missing golden ${file}: run with UPDATE_GOLDEN=1`);
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, yaml);
      }
      assert.equal(yaml, readFileSync(file, 'utf8'));
    });
  }
});

describe('k8s manifests: the YAML is what was built', () => {
  for (const c of CASES) {
    it(`${c.name} round-trips through a YAML 1.2 parser`, () => {
      const docs = parseAllDocuments(out(c.name).yaml);
      assert.ok(Array.isArray(docs));
      for (const d of docs) assert.deepEqual(d.errors, []);
      assert.deepEqual(
        docs.map((d) => d.toJS() as unknown),
        JSON.parse(JSON.stringify(out(c.name).objects)),
      );
    });
  }
});

describe('k8s manifests: valid against the Kubernetes schemas (offline)', () => {
  it('every object validates against the v1.33.0 OpenAPI schema (kubernetes-models, ajv)', () => {
    for (const c of CASES) assert.deepEqual(validateWithOpenApi133(out(c.name).objects), [], c.name);
  });

  let diags: Map<string, string[]>;
  const tcCases: TypeCheckCase[] = [];
  before(() => {
    for (const c of CASES) {
      const o = out(c.name);
      for (const v of schemasFor(o.spec.kubeVersion)) tcCases.push({ name: `${c.name}@${v}`, version: v, objects: o.objects });
    }
    // Negative controls: the checks must be able to fail.
    const typo = structuredClone(out('dind-job').objects) as unknown as Record<string, unknown>[];
    ((typo[1] as unknown as Job).spec.template.spec as unknown as Record<string, unknown>).hostUser = false;
    tcCases.push({ name: 'control-typo@1.30', version: '1.30', objects: typo });
    const newer = structuredClone(out('rootless-job').objects);
    tcCases.push({ name: 'control-apparmor-field@1.29', version: '1.29', objects: newer });
    diags = typeCheckObjects(tcCases);
  });

  it('every object is an exact object literal of its API type in each supported version (1.29, 1.30, 1.33)', () => {
    for (const t of tcCases) if (!t.name.startsWith('control-')) assert.deepEqual(diags.get(t.name), [], t.name);
    assert.ok(tcCases.filter((t) => t.version === '1.29').length >= 1);
  });

  it('the type check catches an unknown field and a field newer than the target version', () => {
    assert.match((diags.get('control-typo@1.30') ?? []).join('\n'), /hostUser/);
    assert.match((diags.get('control-apparmor-field@1.29') ?? []).join('\n'), /appArmorProfile/);
  });

  it('the OpenAPI check catches a bad quantity and a bad enum', () => {
    const bad = structuredClone(out('dind-pod').objects) as K8sObject[];
    const pod = bad[1] as Pod;
    job(pod.spec).resources = { limits: { memory: 'lots' } };
    assert.match(validateWithOpenApi133(bad).join('\n'), /memory/);
    const bad2 = structuredClone(out('rootless-pod').objects) as K8sObject[];
    const d = init((bad2[1] as Pod).spec, 'dockerd') ?? assert.fail();
    (d.securityContext as Record<string, unknown>).procMount = 'Sometimes';
    assert.match(validateWithOpenApi133(bad2).join('\n'), /procMount/);
  });
});

describe('k8s manifests: what each mode promises', () => {
  it('dind: a privileged native sidecar with a docker info startup probe, the guard in front, the job never sees the daemon socket', () => {
    const s = podSpecOf(out('dind-job'));
    const d = init(s, 'dockerd') ?? assert.fail('no dockerd');
    assert.equal(d.restartPolicy, 'Always');
    assert.equal(d.securityContext?.privileged, true);
    assert.deepEqual(d.startupProbe?.exec.command, ['docker', '--host=unix:///nestling/engine/docker.sock', 'info']);
    const g = init(s, 'guard') ?? assert.fail('no guard');
    assert.equal(g.restartPolicy, 'Always');
    assert.ok(s.initContainers && s.initContainers.indexOf(d) < s.initContainers.indexOf(g), 'the guard starts after the daemon is up');
    assert.deepEqual(g.args?.slice(0, 6), ['guard', '--upstream', 'unix:///nestling/engine/docker.sock', '--listen', 'unix:///nestling/guard/docker.sock', '--owner']);
    assert.ok(g.args?.includes('--reap-on-exit'));
    assert.equal(g.securityContext?.privileged, undefined);
    assert.deepEqual(g.securityContext?.capabilities, { drop: ['ALL'] });
    const j = job(s);
    assert.equal(j.env?.find((e) => e.name === 'DOCKER_HOST')?.value, 'unix:///var/run/nestling/docker.sock');
    assert.deepEqual(j.volumeMounts?.map((m) => m.name).sort(), ['guard', 'workspace']);
    assert.equal(j.securityContext, undefined);
    assert.ok(s.volumes?.some((v) => v.name === 'docker-data' && v.emptyDir));
    // dockerd's own default listeners (tcp 2375 without TLS) are never enabled
    assert.match(d.command?.[2] ?? '', /exec dockerd-entrypoint\.sh dockerd --host=unix:\/\/\/nestling\/engine\/docker\.sock /);
    assert.doesNotMatch(d.command?.[2] ?? '', /tcp:/);
    assert.doesNotMatch(d.command?.[2] ?? '', /\$\(/, 'no $(...) in commands: Kubernetes would expand it');
  });

  it('dind --no-guard: the job gets the daemon socket and a WARNING note', () => {
    const o = out('dind-no-guard-job');
    const s = podSpecOf(o);
    assert.equal(init(s, 'guard'), undefined);
    assert.ok(job(s).volumeMounts?.some((m) => m.name === 'engine'));
    assert.ok(o.notes.some((n) => n.startsWith('WARNING')));
    assert.equal(init(s, 'dockerd')?.env?.find((e) => e.name === 'NESTLING_MTU')?.value, '1450');
    assert.equal(o.objects.some((x) => x.kind === 'ConfigMap'), false, 'no guard, no policy ConfigMap');
  });

  it('--tls: certificates from an init container, the daemon on 127.0.0.1:2376 only, the job gets client certs only without a guard', () => {
    const s = podSpecOf(out('dind-no-guard-tls-pod'));
    assert.equal(s.initContainers?.[0]?.name, 'certs');
    const d = init(s, 'dockerd') ?? assert.fail();
    assert.match(d.command?.[2] ?? '', /--host=tcp:\/\/127\.0\.0\.1:2376 --tlsverify/);
    const j = job(s);
    assert.deepEqual(j.volumeMounts?.find((m) => m.name === 'certs'), { name: 'certs', mountPath: '/certs/client', subPath: 'client', readOnly: true });
    const g = podSpecOf(out('dind-tls-job'));
    assert.equal(job(g).volumeMounts?.some((m) => m.name === 'certs'), false, 'behind the guard the job gets no certificate');
  });

  it('guarded: only the guard mounts the node socket; the workspace maps to its path on the node', () => {
    const s = podSpecOf(out('guarded-custom-job'));
    assert.deepEqual(s.volumes?.find((v) => v.name === 'host-engine'), { name: 'host-engine', hostPath: { path: '/run/docker.sock', type: 'Socket' } });
    for (const hp of ['host-engine', 'kubelet-pods']) {
      const users = allContainers(s).filter((c) => c.volumeMounts?.some((m) => m.name === hp));
      assert.deepEqual(users.map((c) => c.name), ['guard'], hp);
    }
    assert.deepEqual(init(s, 'guard')?.volumeMounts?.find((m) => m.name === 'kubelet-pods'), { name: 'kubelet-pods', mountPath: '/data/kubelet/pods', readOnly: true });
    const g = init(s, 'guard') ?? assert.fail();
    assert.ok(g.args?.includes('/src=/data/kubelet/pods/$(NESTLING_OWNER)/volumes/kubernetes.io~empty-dir/workspace'));
    assert.equal(job(s).workingDir, '/src');
    assert.deepEqual(job(s).command, ['make', 'test']);
    assert.equal(init(s, 'dockerd'), undefined);
  });

  it('rootless: no privilege, exactly the stated relaxations, hostUsers false and a subordinate range inside the pod', () => {
    const o = out('rootless-job');
    const s = podSpecOf(o);
    assert.equal(s.hostUsers, false);
    const d = init(s, 'dockerd') ?? assert.fail();
    assert.deepEqual(d.securityContext, {
      runAsUser: 1000,
      runAsGroup: 1000,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: true,
      seccompProfile: { type: 'Unconfined' },
      appArmorProfile: { type: 'Unconfined' },
      procMount: 'Unmasked',
    });
    assert.equal(d.resources?.limits?.['squat.ai/tun'], '1');
    const cm = o.objects.find((x) => x.kind === 'ConfigMap');
    assert.equal(cm?.kind === 'ConfigMap' && cm.data.subuid, 'rootless:1001:64535\n');
    // 1.29: the AppArmor annotation instead of the field
    const o129 = out('rootless-k129-job');
    const j129 = o129.objects.find((x) => x.kind === 'Job') as Job;
    assert.equal(j129.spec.template.metadata.annotations?.['container.apparmor.security.beta.kubernetes.io/dockerd'], 'unconfined');
    assert.equal(init(j129.spec.template.spec, 'dockerd')?.securityContext?.appArmorProfile, undefined);
  });

  it('sysbox: sysbox-runc, hostUsers false, nothing privileged', () => {
    for (const name of ['sysbox-job', 'sysbox-pod', 'sysbox-guard-tls-job']) {
      const s = podSpecOf(out(name));
      assert.equal(s.runtimeClassName, 'sysbox-runc');
      assert.equal(s.hostUsers, false);
      for (const c of allContainers(s)) assert.notEqual(c.securityContext?.privileged, true, `${name}/${c.name}`);
    }
    assert.equal(init(podSpecOf(out('sysbox-job')), 'guard'), undefined, 'guard off by default');
    assert.ok(init(podSpecOf(out('sysbox-guard-tls-job')), 'guard'));
    assert.deepEqual(job(podSpecOf(out('sysbox-guard-tls-job'))).resources, { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } });
  });

  it('labels, bounded lifetime and cleanup on every object', () => {
    for (const c of CASES) {
      const o = out(c.name);
      for (const x of o.objects) {
        assert.equal(x.metadata.labels?.['app.kubernetes.io/managed-by'], 'nestling');
        assert.equal(x.metadata.labels?.['io.nestling.mode'], o.spec.mode);
      }
      const s = podSpecOf(o);
      assert.equal(s.automountServiceAccountToken, false);
      assert.equal(s.restartPolicy, 'Never');
      for (const v of s.volumes ?? []) assert.ok(v.emptyDir || v.configMap || (o.spec.mode === 'guarded' && v.hostPath), `${c.name}: ${v.name}`);
      const w = o.objects.find((x) => x.kind !== 'ConfigMap') as Pod | Job;
      if (w.kind === 'Job') {
        assert.equal(w.spec.backoffLimit, 0);
        assert.equal(w.spec.ttlSecondsAfterFinished, 600);
        assert.equal(w.spec.activeDeadlineSeconds, 3600);
      } else assert.equal(w.spec.activeDeadlineSeconds, 3600);
    }
  });
});

describe('k8s input: bad input is a usage error with a hint', () => {
  const bad: [string, Partial<K8sInput>, string][] = [
    ['unknown mode', { mode: 'dood' }, 'E_GEN_UNKNOWN_MODE'],
    ['unknown kind', { mode: 'dind', kind: 'deployment' }, 'E_GEN_UNKNOWN_KIND'],
    ['uppercase name', { mode: 'dind', name: 'Build' }, 'E_GEN_INVALID_NAME'],
    ['name with dot', { mode: 'dind', name: 'a.b' }, 'E_GEN_INVALID_NAME'],
    ['name ending in -', { mode: 'dind', name: 'job-' }, 'E_GEN_INVALID_NAME'],
    ['name too long', { mode: 'dind', name: 'a'.repeat(57) }, 'E_GEN_INVALID_NAME'],
    ['empty namespace', { mode: 'dind', namespace: '' }, 'E_GEN_INVALID_NAME'],
    ['sysbox --no-guard', { mode: 'sysbox', guard: false }, 'E_GEN_FLAG_CONFLICT'],
    ['rootless --no-guard', { mode: 'rootless', guard: false }, 'E_GEN_FLAG_CONFLICT'],
    ['guarded --no-guard', { mode: 'guarded', guard: false }, 'E_GEN_FLAG_CONFLICT'],
    ['guarded --tls', { mode: 'guarded', tls: true }, 'E_GEN_FLAG_CONFLICT'],
    ['rootless --tls', { mode: 'rootless', tls: true }, 'E_GEN_FLAG_CONFLICT'],
    ['guarded --mtu', { mode: 'guarded', mtu: 1400 }, 'E_GEN_FLAG_CONFLICT'],
    ['rootless --mtu', { mode: 'rootless', mtu: 1400 }, 'E_GEN_FLAG_CONFLICT'],
    ['guarded --daemon-image', { mode: 'guarded', daemonImage: 'docker:28-dind' }, 'E_GEN_FLAG_CONFLICT'],
    ['dind --engine-socket', { mode: 'dind', engineSocket: '/var/run/docker.sock' }, 'E_GEN_FLAG_CONFLICT'],
    ['dind --tun-resource', { mode: 'dind', tunResource: 'squat.ai/tun' }, 'E_GEN_FLAG_CONFLICT'],
    ['policy without guard', { mode: 'sysbox', policy: 'version: 1' }, 'E_GEN_FLAG_CONFLICT'],
    ['mtu not a number', { mode: 'dind', mtu: '15OO' }, 'E_GEN_INVALID_NUMBER'],
    ['mtu too small', { mode: 'dind', mtu: 100 }, 'E_GEN_INVALID_NUMBER'],
    ['bad memory', { mode: 'dind', memory: '4 GB' }, 'E_GEN_INVALID_QUANTITY'],
    ['zero cpu', { mode: 'dind', cpu: '0' }, 'E_GEN_INVALID_QUANTITY'],
    ['bad image', { mode: 'dind', image: 'Docker CLI' }, 'E_GEN_INVALID_IMAGE'],
    ['kube version', { mode: 'dind', kubeVersion: '1.28' }, 'E_GEN_KUBE_VERSION'],
    ['relative socket', { mode: 'guarded', engineSocket: 'docker.sock' }, 'E_GEN_INVALID_PATH'],
    ['socket with ..', { mode: 'guarded', engineSocket: '/var/../etc/shadow' }, 'E_GEN_INVALID_PATH'],
    ['policy not yaml', { mode: 'dind', policy: 'version: [1' }, 'E_GEN_INVALID_POLICY'],
    ['policy without version', { mode: 'dind', policy: 'allowBind: [/x]' }, 'E_GEN_INVALID_POLICY'],
    ['policy duplicate key', { mode: 'dind', policy: 'version: 1\nversion: 1\n' }, 'E_GEN_INVALID_POLICY'],
    ['tun resource', { mode: 'rootless', tunResource: 'tun' }, 'E_GEN_INVALID_RESOURCE'],
    ['deadline', { mode: 'dind', activeDeadlineSeconds: '-1' }, 'E_GEN_INVALID_NUMBER'],
    ['workspace relative', { mode: 'dind', workspace: 'src' }, 'E_GEN_INVALID_PATH'],
    ['workspace over the sockets', { mode: 'dind', workspace: '/var/run/nestling' }, 'E_GEN_INVALID_PATH'],
    ['workspace over the data root', { mode: 'rootless', workspace: '/home' }, 'E_GEN_INVALID_PATH'],
    ['workspace /', { mode: 'dind', workspace: '/' }, 'E_GEN_INVALID_PATH'],
  ];
  for (const [what, input, code] of bad) {
    it(what, () => {
      assert.throws(
        () => generateK8s({ nestlingVersion: V, mode: 'dind', ...input }),
        (e: unknown) => {
          const ne = findNestlingError(e);
          assert.ok(ne, String(e));
          assert.equal(ne.code, code);
          assert.equal(ne.exitCode, 2);
          assert.ok(ne.hint && ne.hint.length > 0);
          return true;
        },
      );
    });
  }
});
