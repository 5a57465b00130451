/** `nestling k8s` and `nestling ci` end to end: the built binary, its stdout, stderr and exit codes. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { VERSION } from '../version.js';
import { generateK8s } from '../../gen/k8s/index.js';
import { generateCi } from '../../gen/ci/index.js';

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));
function nestling(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nst-gen-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('nestling k8s', () => {
  it('prints the library\'s manifest for this version on stdout, exit 0', () => {
    const r = nestling('k8s', '--mode', 'dind');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, generateK8s({ mode: 'dind', nestlingVersion: VERSION, kubeVersion: '1.30' }).yaml);
    const docs = parseAllDocuments(r.stdout);
    assert.ok(Array.isArray(docs));
    assert.deepEqual(docs.map((d) => (d.toJS() as { kind: string }).kind), ['ConfigMap', 'Job']);
    assert.equal(r.stderr, '');
  });

  it('flags reach the manifest: --kind pod --name --namespace --tls --mtu --cpu --memory and the command after --', () => {
    const r = nestling('k8s', '--mode', 'dind', '--kind', 'pod', '--name', 'build-7', '--namespace', 'ci', '--tls', '--mtu', '1400', '--cpu', '2', '--memory', '4Gi', '--', 'make', 'test');
    assert.equal(r.code, 0, r.stderr);
    const pod = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, unknown>)[1] as {
      metadata: { name: string; namespace: string };
      spec: { containers: { command: string[]; resources: unknown }[]; initContainers: { name: string; env?: { name: string; value: string }[] }[] };
    };
    assert.deepEqual([pod.metadata.name, pod.metadata.namespace], ['build-7', 'ci']);
    assert.deepEqual(pod.spec.containers[0]?.command, ['make', 'test']);
    assert.deepEqual(pod.spec.containers[0]?.resources, { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } });
    assert.equal(pod.spec.initContainers[0]?.name, 'certs');
    assert.equal(pod.spec.initContainers.find((c) => c.name === 'dockerd')?.env?.find((e) => e.name === 'NESTLING_MTU')?.value, '1400');
  });

  it('--policy embeds the file in the ConfigMap; --json prints the objects', () => {
    const f = join(dir, 'policy.yaml');
    writeFileSync(f, 'version: 1\n# mine\n');
    const r = nestling('k8s', '--mode', 'guarded', '--policy', f, '--json');
    assert.equal(r.code, 0, r.stderr);
    const objs = JSON.parse(r.stdout) as { kind: string; data?: Record<string, string> }[];
    assert.equal(objs[0]?.data?.['policy.yaml'], 'version: 1\n# mine\n');
  });

  it('--no-guard on dind warns on stderr (and still prints the manifest)', () => {
    const r = nestling('k8s', '--mode', 'dind', '--no-guard');
    assert.equal(r.code, 0);
    assert.match(r.stderr, /^nestling: WARNING dind --no-guard: .*own the node/m);
    assert.ok(r.stdout.length > 0);
  });

  const bad: [string, string[], RegExp][] = [
    ['missing --mode', ['k8s'], /--mode/],
    ['unknown mode', ['k8s', '--mode', 'dood'], /unknown mode "dood"/],
    ['invalid name', ['k8s', '--mode', 'dind', '--name', 'My_Job'], /DNS-1123/],
    ['sysbox --no-guard', ['k8s', '--mode', 'sysbox', '--no-guard'], /makes no sense/],
    ['missing policy file', ['k8s', '--mode', 'dind', '--policy', '/nonexistent/policy.yaml'], /cannot read --policy/],
    ['command twice', ['k8s', '--mode', 'dind', '--command', 'make', '--', 'make'], /either as --command or after --/],
    ['guarded --kubelet-dir relative', ['k8s', '--mode', 'guarded', '--kubelet-dir', 'kubelet'], /absolute/],
    ['dind --engine-socket', ['k8s', '--mode', 'dind', '--engine-socket', '/var/run/docker.sock'], /--mode guarded/],
  ];
  for (const [what, args, msg] of bad) {
    it(`${what}: exit 2, a message and a hint, nothing on stdout`, () => {
      const r = nestling(...args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, msg);
      assert.match(r.stderr, /hint: /);
      assert.equal(r.stdout, '');
    });
  }
});

describe('nestling ci', () => {
  it('gitlab: the library\'s output, parseable, exit 0', () => {
    const r = nestling('ci', 'gitlab', '--mode', 'dind', '--', 'make', 'it works');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, generateCi({ platform: 'gitlab', mode: 'dind', script: "make 'it works'", nestlingVersion: VERSION }).text);
    assert.deepEqual((parse(r.stdout) as { 'nestling-job': { script: string[] } })['nestling-job'].script, ["make 'it works'"]);
    assert.match(r.stderr, /WARNING/);
  });

  it('github --arc and jenkins print', () => {
    assert.equal(nestling('ci', 'github', '--mode', 'dind', '--arc').code, 0);
    const j = nestling('ci', 'jenkins', '--mode', 'rootless', '--command', 'make test');
    assert.equal(j.code, 0, j.stderr);
    assert.match(j.stdout, /sh 'make test'/);
  });

  const bad: [string, string[], RegExp][] = [
    ['unknown platform', ['ci', 'circleci', '--mode', 'dind'], /unknown CI platform/],
    ['missing platform', ['ci', '--mode', 'dind'], /platform/],
    ['unknown mode', ['ci', 'gitlab', '--mode', 'vm'], /unknown mode/],
    ['--arc on jenkins', ['ci', 'jenkins', '--mode', 'dind', '--arc'], /--arc/],
    ['gitlab dind --guard', ['ci', 'gitlab', '--mode', 'dind', '--guard'], /go around the guard/],
  ];
  for (const [what, args, msg] of bad) {
    it(`${what}: exit 2 with a hint`, () => {
      const r = nestling(...args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, msg);
      assert.match(r.stderr, /hint: /);
      assert.equal(r.stdout, '');
    });
  }
});
