import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { findNestlingError } from '../../util/errors.js';
import { generateCi, shellJoin, type CiInput } from './index.js';
import { groovyTripleQuoted } from './jenkins.js';
import { typeCheckObjects, validateWithOpenApi133 } from '../k8s/schema-check.testing.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const GOLDEN = join(ROOT, 'test/fixtures/gen/ci');
const V = '0.1.0';

const CASES: { name: string; ext: string; input: CiInput }[] = [];
for (const mode of ['dind', 'guarded', 'rootless', 'sysbox']) {
  CASES.push({ name: `gitlab-${mode}`, ext: 'yml', input: { platform: 'gitlab', mode, nestlingVersion: V } });
  CASES.push({ name: `github-${mode}`, ext: 'yml', input: { platform: 'github', mode, nestlingVersion: V } });
  CASES.push({ name: `github-arc-${mode}`, ext: 'yaml', input: { platform: 'github', mode, arc: true, nestlingVersion: V } });
  CASES.push({ name: `jenkins-${mode}`, ext: 'Jenkinsfile', input: { platform: 'jenkins', mode, nestlingVersion: V } });
}
CASES.push(
  { name: 'github-arc-dind-no-guard', ext: 'yaml', input: { platform: 'github', mode: 'dind', arc: true, guard: false, nestlingVersion: V } },
  { name: 'jenkins-guarded-docker-agent', ext: 'Jenkinsfile', input: { platform: 'jenkins', mode: 'guarded', agent: 'docker', nestlingVersion: V } },
  { name: 'gitlab-dind-script', ext: 'yml', input: { platform: 'gitlab', mode: 'dind', script: shellJoin(['sh', '-c', "echo 'it''s' && make test"]), nestlingVersion: V } },
);

const text = new Map(CASES.map((c) => [c.name, generateCi(c.input).text]));
const get = (name: string) => text.get(name) ?? assert.fail(name);
const yamlOf = (name: string) => {
  const docs = parseAllDocuments(get(name));
  assert.ok(Array.isArray(docs));
  assert.equal(docs.length, 1, name);
  assert.deepEqual(docs[0]?.errors, [], name);
  return docs[0]?.toJS() as Record<string, unknown>;
};
/** The pod YAML inside a Jenkinsfile's `yaml '''...'''`. */
function jenkinsPod(name: string): Record<string, unknown> {
  const m = /yaml '''\n([\s\S]*?)'''/.exec(get(name));
  assert.ok(m?.[1], `${name}: no pod yaml`);
  return parse(m[1]) as Record<string, unknown>;
}

describe('ci: golden files (UPDATE_GOLDEN=1 refreshes)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const file = join(GOLDEN, `${c.name}.${c.ext}`);
      if (process.env.UPDATE_GOLDEN === '1') {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, get(c.name));
      }
      assert.ok(existsSync(file), `missing golden ${file}: run with UPDATE_GOLDEN=1`);
      assert.equal(get(c.name), readFileSync(file, 'utf8'));
    });
  }
});

describe('ci: GitLab', () => {
  it('dind, rootless, sysbox: the docker:dind service with GitLab\'s TLS variables', () => {
    for (const mode of ['dind', 'rootless', 'sysbox']) {
      const job = yamlOf(`gitlab-${mode}`)['nestling-job'] as Record<string, unknown>;
      assert.equal(job.image, 'docker:28-cli');
      assert.deepEqual(job.services, [{ name: mode === 'rootless' ? 'docker:28-dind-rootless' : 'docker:28-dind', alias: 'docker' }]);
      assert.deepEqual(job.variables, {
        DOCKER_HOST: 'tcp://docker:2376',
        DOCKER_TLS_CERTDIR: '/certs',
        DOCKER_TLS_VERIFY: '1',
        DOCKER_CERT_PATH: '$DOCKER_TLS_CERTDIR/client',
      });
      assert.ok(Array.isArray(job.script) && job.script.length === 1);
      // only keys GitLab knows for a job
      for (const k of Object.keys(job)) assert.ok(['image', 'services', 'variables', 'before_script', 'script', 'after_script'].includes(k), k);
    }
  });

  it('guarded: no service, DOCKER_HOST is the guard socket, after_script cleans the job\'s own objects', () => {
    const job = yamlOf('gitlab-guarded')['nestling-job'] as Record<string, unknown>;
    assert.equal(job.services, undefined);
    assert.equal((job.variables as Record<string, string>).DOCKER_HOST, 'unix:///var/run/nestling/docker.sock');
    assert.ok(Array.isArray(job.after_script));
    assert.doesNotMatch(get('gitlab-guarded'), /volumes = \["\/var\/run\/docker\.sock/);
  });

  it('the dind config says what it costs', () => {
    assert.match(get('gitlab-dind'), /# WARNING: .*own the runner host/);
  });

  it('a command with quotes survives as one script line', () => {
    const job = yamlOf('gitlab-dind-script')['nestling-job'] as { script: string[] };
    assert.deepEqual(job.script, [`sh -c 'echo '\\''it'\\'''\\''s'\\'' && make test'`]);
  });
});

describe('ci: GitHub Actions', () => {
  it('dind: jobs.<id>.container and a privileged docker:dind service sharing the certificates', () => {
    const wf = yamlOf('github-dind');
    assert.deepEqual(Object.keys(wf), ['name', 'on', 'jobs']);
    const job = (wf.jobs as Record<string, Record<string, unknown>>)['nestling-job'] ?? assert.fail();
    assert.deepEqual(job.container, { image: 'docker:28-cli', volumes: ['dind-certs:/certs'] });
    const svc = (job.services as Record<string, Record<string, unknown>>).docker ?? assert.fail();
    assert.equal(svc.image, 'docker:28-dind');
    assert.match(String(svc.options), /--privileged/);
    assert.deepEqual(job.env, { DOCKER_HOST: 'tcp://docker:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs/client' });
    assert.ok(Array.isArray(job.steps));
  });

  it('guarded, rootless, sysbox: `nestling run --mode` on the runner', () => {
    for (const mode of ['guarded', 'rootless', 'sysbox']) {
      const job = ((yamlOf(`github-${mode}`).jobs as Record<string, unknown>)['nestling-job'] ?? assert.fail()) as { steps: { run?: string }[]; 'runs-on': unknown };
      assert.equal(
        job.steps[2]?.run,
        `npx --yes nestling@${V} run --mode ${mode} --image docker:28-cli --workspace "$GITHUB_WORKSPACE" -- sh -c 'docker version && docker info'`,
      );
      if (mode === 'sysbox') assert.deepEqual(job['runs-on'], ['self-hosted', 'linux', 'sysbox']);
    }
  });

  it('ARC: containerMode dind only with --no-guard; otherwise a runner pod with the guard, valid against the Pod schema', () => {
    assert.deepEqual(yamlOf('github-arc-dind-no-guard').containerMode, { type: 'dind' });
    for (const mode of ['dind', 'guarded', 'rootless', 'sysbox']) {
      const v = yamlOf(`github-arc-${mode}`);
      assert.equal(v.containerMode, undefined);
      const spec = (v.template as { spec: { containers: { name: string; image: string }[]; initContainers: { name: string }[] } }).spec;
      assert.equal(spec.containers[0]?.name, 'runner');
      if (mode === 'dind' || mode === 'guarded') assert.ok(spec.initContainers.some((c) => c.name === 'guard'), mode);
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'arc-runner' }, spec: { ...spec, restartPolicy: 'Never' } };
      assert.deepEqual(validateWithOpenApi133([pod]), [], mode);
      const d = typeCheckObjects([{ name: mode, version: '1.30', objects: [pod] }]);
      assert.deepEqual(d.get(mode), [], mode);
    }
  });
});

describe('ci: Jenkins', () => {
  it('kubernetes agent: a pod template that validates against the Pod schema (1.30 types, 1.33 OpenAPI)', () => {
    const cases = ['dind', 'guarded', 'rootless', 'sysbox'].map((m) => {
      const pod = jenkinsPod(`jenkins-${m}`);
      (pod.metadata as Record<string, unknown>).name = 'jenkins-agent'; // the plugin names the pod
      return { name: m, version: '1.30' as const, objects: [pod] };
    });
    for (const c of cases) assert.deepEqual(validateWithOpenApi133(c.objects), [], c.name);
    const d = typeCheckObjects(cases);
    for (const c of cases) assert.deepEqual(d.get(c.name), [], c.name);
    const t = get('jenkins-dind');
    assert.match(t, /^pipeline \{$/m);
    assert.match(t, /^ {4}kubernetes \{$/m);
    assert.match(t, /defaultContainer 'job'/);
    const job = ((jenkinsPod('jenkins-dind').spec as { containers: Record<string, unknown>[] }).containers[0]) ?? assert.fail();
    assert.deepEqual([job.command, job.tty], [['cat'], true]);
  });

  it('docker agent (guarded): the host guard socket, never docker.sock', () => {
    const t = get('jenkins-guarded-docker-agent');
    assert.match(t, /docker \{\n {6}image 'docker:28-cli'\n {6}args '-v \/run\/nestling\/nestling-job:\/var\/run\/nestling /);
    assert.doesNotMatch(t, /-v \/var\/run\/docker\.sock/);
  });

  it("groovy ''' strings escape backslashes and the delimiter", () => {
    assert.equal(groovyTripleQuoted("a\\b'''c"), "'''\na\\\\b\\'\\'\\'c'''");
  });
});

describe('ci input: bad input is a usage error with a hint', () => {
  const bad: [string, Partial<CiInput>, string][] = [
    ['unknown platform', { platform: 'circleci' }, 'E_GEN_UNKNOWN_PLATFORM'],
    ['unknown mode', { mode: 'dood' }, 'E_GEN_UNKNOWN_MODE'],
    ['--arc on gitlab', { platform: 'gitlab', arc: true }, 'E_GEN_FLAG_CONFLICT'],
    ['--agent on github', { platform: 'github', agent: 'docker' }, 'E_GEN_FLAG_CONFLICT'],
    ['unknown agent', { platform: 'jenkins', agent: 'ssh' }, 'E_GEN_FLAG_CONFLICT'],
    ['jenkins docker agent with dind', { platform: 'jenkins', agent: 'docker', mode: 'dind' }, 'E_GEN_FLAG_CONFLICT'],
    ['gitlab dind --guard', { platform: 'gitlab', mode: 'dind', guard: true }, 'E_GEN_FLAG_CONFLICT'],
    ['github dind --guard without --arc', { platform: 'github', mode: 'dind', guard: true }, 'E_GEN_FLAG_CONFLICT'],
    ['guarded --no-guard', { mode: 'guarded', guard: false }, 'E_GEN_FLAG_CONFLICT'],
    ['sysbox --no-guard', { mode: 'sysbox', guard: false }, 'E_GEN_FLAG_CONFLICT'],
    ['guarded --daemon-image', { mode: 'guarded', daemonImage: 'docker:28-dind' }, 'E_GEN_FLAG_CONFLICT'],
    ['bad name', { name: 'Nestling Job' }, 'E_GEN_INVALID_NAME'],
    ['bad image', { image: 'docker 28' }, 'E_GEN_INVALID_IMAGE'],
    ['empty script', { script: '  ' }, 'E_GEN_INVALID_COMMAND'],
    ['docker version', { dockerVersion: 'latest' }, 'E_GEN_DOCKER_VERSION'],
  ];
  for (const [what, input, code] of bad) {
    it(what, () => {
      assert.throws(
        () => generateCi({ platform: 'gitlab', mode: 'dind', nestlingVersion: V, ...input }),
        (e: unknown) => {
          const ne = findNestlingError(e);
          assert.ok(ne, String(e));
          assert.equal(ne.code, code);
          assert.equal(ne.exitCode, 2);
          assert.ok(ne.hint);
          return true;
        },
      );
    });
  }
});
