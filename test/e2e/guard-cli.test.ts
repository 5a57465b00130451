/**
 * The built binary's guard features end to end, with the real docker CLI and the harness dockerd:
 *   - `--policy FILE` relaxes what the default refuses (a bind dir, a capability); a malformed file exits 2 naming
 *     file:line:col; `--print-policy` shows the file merged with the flags;
 *   - a TLS listener (`--tls-cert/--tls-key/--tls-ca`, certificates from nestling's own src/tls) serves the docker CLI
 *     with `--tlsverify`, and refuses clients without a certificate or with one from another CA before any request;
 *   - `--dry-run --learn FILE`: would-deny lines, and a learned policy file that lets the same job pass without
 *     --dry-run while still refusing what the job did not do;
 *   - `guard check`: exit 0 allowed, 5 denied, 2 bad input, text and --json.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, runCli, show } from './cli-helpers.js';
import { uniquePrefix, type TestDaemon } from '../harness/dockerd.js';
import { closeEngine, openEngine } from '../harness/suite.js';
import type { Cleanup } from '../harness/cleanup.js';
import { run, DOCKER_28 } from '../integration/guard/helpers.js';
import { generateDindCerts } from '../../src/tls/generate.js';
import { writeDindLayout, type DindLayout } from '../../src/tls/layout.js';
import { parsePolicy } from '../../src/guard/policy-file.js';

const IMG = 'nestling/busybox:local';

interface CliGuard {
  p: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

/** Starts `nestling guard ...args` and waits for its listening line. */
function startGuardCli(args: string[]): Promise<CliGuard> {
  const p = spawn(process.execPath, [MAIN, 'guard', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent-home' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stderr.on('data', (x: Buffer) => (stderr += x.toString()));
  const exited = new Promise<number | null>((res) => p.on('exit', (c) => res(c)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`no listening line in 30 s\n${stderr}`));
    }, 30_000);
    p.stdout.on('data', (x: Buffer) => {
      stdout += x.toString();
      const m = /listening on (\S+) /.exec(stdout);
      if (m) {
        clearTimeout(t);
        resolve({
          p,
          url: m[1]!,
          stderr: () => stderr,
          stop: async () => {
            p.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    void exited.then((c) => {
      clearTimeout(t);
      reject(new Error(`guard exited ${c} before listening\n${stderr}`));
    });
  });
}

describe('e2e: nestling guard --policy, TLS, --learn, guard check', () => {
  let d: TestDaemon;
  let cleanup: Cleanup;
  const prefix = uniquePrefix('gcli');
  const tmp = mkdtempSync(join(tmpdir(), 'nst-gcli-'));
  const data = join(tmp, 'data');
  const running: CliGuard[] = [];

  before(async () => {
    ({ d, cleanup } = await openEngine());
    mkdirSync(data);
    writeFileSync(join(data, 'hello'), 'hello from the bind\n');
  });
  after(async () => {
    for (const g of running) if (g.p.exitCode === null) await g.stop();
    await closeEngine(cleanup, prefix, [tmp]);
  });

  const guard = async (owner: string, extra: string[]) => {
    const g = await startGuardCli(['--upstream', d.url, '--listen', `unix://${join(tmp, `${owner}.sock`)}`, '--owner', `${prefix}-${owner}`, ...extra]);
    running.push(g);
    return g;
  };
  const docker = (url: string, args: string[], tls: string[] = []) =>
    run(DOCKER_28, [...tls, ...args], { env: { DOCKER_HOST: url, HOME: tmp, DOCKER_CONFIG: join(tmp, 'docker-config') }, timeoutMs: 90_000 });
  /** the job: a bind from `data` and an extra capability */
  const job = (url: string, name: string, tls: string[] = []) =>
    docker(url, ['run', '--rm', '--name', `${prefix}-${name}`, '-v', `${data}:/data:ro`, '--cap-add', 'NET_ADMIN', IMG, 'cat', '/data/hello'], tls);

  describe('--policy FILE', () => {
    it('relaxes what the default refuses (a bind dir and a capability from the file)', async () => {
      const base = await guard('base', []);
      const refused = await job(base.url, 'j0');
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /denied by rule cap-add: HostConfig\.CapAdd=(CAP_)?NET_ADMIN/);
      const noCap = await docker(base.url, ['run', '--rm', '-v', `${data}:/data:ro`, IMG, 'true']);
      assert.match(noCap.stderr, /denied by rule bind-outside-allowlist: HostConfig\.Binds\[0\]=/);
      const file = join(tmp, 'relax.yaml');
      writeFileSync(file, `version: 1\nallowBind: [${data}]\nallowCaps: [NET_ADMIN]\n`);
      const g = await guard('pol', ['--policy', file]);
      const ok = await job(g.url, 'j1');
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, 'hello from the bind\n');
      // what the file does not relax stays refused
      const sys = await docker(g.url, ['run', '--rm', '--cap-add', 'SYS_ADMIN', IMG, 'true']);
      assert.match(sys.stderr, /denied by rule cap-add: HostConfig\.CapAdd=(CAP_)?SYS_ADMIN/);
      assert.equal(await g.stop(), 0, g.stderr());
    });

    it('a malformed policy file exits 2 naming file:line:col', async () => {
      const bad = join(tmp, 'bad.yaml');
      writeFileSync(bad, 'version: 1\nallowBind:\n  - /srv/ok\n  - relative/dir\n');
      const r = await runCli(['guard', '--policy', bad, '--upstream', d.url, '--listen', `unix://${join(tmp, 'never.sock')}`, '--owner', 'x']);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:4:5: allowBind\\.1: must be an absolute host path`));
      assert.match(r.stderr, /^hint: /m);
      const dup = join(tmp, 'dup.yaml');
      writeFileSync(dup, 'version: 1\nallowCaps: [NET_ADMIN]\nallowCaps: [SYS_ADMIN]\n');
      const r2 = await runCli(['guard', '--policy', dup, '--print-policy']);
      assert.equal(r2.code, 2, show(r2));
      assert.match(r2.stderr, /dup\.yaml:3:1: .*[Mm]ap keys must be unique/);
      const unknown = join(tmp, 'unknown.yaml');
      writeFileSync(unknown, 'version: 1\nquotas:\n  memoryBytes: 1000000\n  swap: 1\n');
      const r3 = await runCli(['guard', '--policy', unknown, '--print-policy']);
      assert.equal(r3.code, 2, show(r3));
      assert.match(r3.stderr, /unknown\.yaml:4:3: quotas: .*\(swap\)/);
    });

    it('--print-policy with --policy shows the file merged with --allow-bind', async () => {
      const file = join(tmp, 'print.yaml');
      writeFileSync(file, 'version: 1\nallowBind: [/srv/from-file]\nallowCaps: [net_admin]\nquotas: { pidsLimit: 99 }\n');
      const r = await runCli(['guard', '--policy', file, '--allow-bind', '/srv/from-flag/', '--print-policy']);
      assert.equal(r.code, 0, show(r));
      const p = parsePolicy(r.stdout, 'stdout');
      assert.deepEqual(p.allowBind, ['/srv/from-file', '/srv/from-flag']);
      assert.deepEqual(p.allowCaps, ['NET_ADMIN']);
      assert.equal(p.quotas.pidsLimit, 99);
    });
  });

  describe('TLS listener', () => {
    let good: DindLayout;
    let other: DindLayout;
    let g: CliGuard;
    before(async () => {
      good = writeDindLayout(join(tmp, 'tls-good'), await generateDindCerts({ sans: ['localhost', '127.0.0.1'] }));
      other = writeDindLayout(join(tmp, 'tls-other'), await generateDindCerts({ sans: ['localhost', '127.0.0.1'] }));
      const s = good.serverDir;
      g = await startGuardCli([
        '--upstream', d.url, '--listen', 'tcp://127.0.0.1:0', '--owner', `${prefix}-tls`,
        '--tls-cert', join(s, 'cert.pem'), '--tls-key', join(s, 'key.pem'), '--tls-ca', join(s, 'ca.pem'),
      ]);
      running.push(g);
    });
    const tlsArgs = (ca: string, dir: string | undefined) => ['--tlsverify', '--tlscacert', ca, ...(dir ? ['--tlscert', join(dir, 'cert.pem'), '--tlskey', join(dir, 'key.pem')] : [])];

    it('serves the docker CLI with --tlsverify and a client certificate of its CA', async () => {
      assert.match(g.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
      const tls = tlsArgs(join(good.clientDir, 'ca.pem'), good.clientDir);
      const v = await docker(g.url, ['version', '--format', '{{.Server.APIVersion}}'], tls);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout.trim(), /^1\.\d+$/);
      const r = await docker(g.url, ['run', '--rm', '--name', `${prefix}-tlsrun`, IMG, 'echo', 'over-tls'], tls);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'over-tls\n');
      // still the guard: the policy applies
      const priv = await docker(g.url, ['run', '--rm', '--privileged', IMG, 'true'], tls);
      assert.match(priv.stderr, /denied by rule no-privileged/);
    });

    it('refuses a client without a certificate, and one with a certificate of another CA, before any request', async () => {
      // records of the previous test's requests may still be on their way from the child: wait until its log is quiet
      const deadline = Date.now() + 15_000;
      let last = g.stderr().length;
      for (;;) {
        await new Promise((r) => setTimeout(r, 1000));
        if (g.stderr().length === last || Date.now() > deadline) break;
        last = g.stderr().length;
      }
      const mark = g.stderr().length;
      const none = await docker(g.url, ['version', '--format', '{{.Server.APIVersion}}'], tlsArgs(join(good.clientDir, 'ca.pem'), undefined));
      assert.notEqual(none.code, 0);
      assert.match(none.stderr, /certificate|tls/i);
      assert.equal(none.stdout.trim(), '');
      const foreign = await docker(g.url, ['version', '--format', '{{.Server.APIVersion}}'], tlsArgs(join(good.clientDir, 'ca.pem'), other.clientDir));
      assert.notEqual(foreign.code, 0);
      assert.match(foreign.stderr, /certificate|tls/i);
      assert.equal(foreign.stdout.trim(), '');
      // plain HTTP on the TLS port gets nothing either
      const plain = await docker(g.url, ['version', '--format', '{{.Server.APIVersion}}']);
      assert.notEqual(plain.code, 0);
      const after = g.stderr().slice(mark);
      assert.doesNotMatch(after, / req#\d+ /, `no request reached the decider:\n${after}`);
    });

    it('TLS options without all three, or on a unix listener, exit 2', async () => {
      const s = good.serverDir;
      const r = await runCli(['guard', '--upstream', d.url, '--listen', 'tcp://127.0.0.1:0', '--owner', 'x', '--tls-cert', join(s, 'cert.pem'), '--tls-key', join(s, 'key.pem')]);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, /go together/);
      const u = await runCli(['guard', '--upstream', d.url, '--listen', `unix://${join(tmp, 'tls-unix.sock')}`, '--owner', 'x', '--tls-cert', join(s, 'cert.pem'), '--tls-key', join(s, 'key.pem'), '--tls-ca', join(s, 'ca.pem')]);
      assert.equal(u.code, 2, show(u));
      assert.match(u.stderr, /tcp:\/\/ listeners only/);
    });
  });

  describe('--dry-run --learn FILE', () => {
    it('logs would-deny, writes a policy file that lets the same job pass, and still refuses the rest', async () => {
      const learned = join(tmp, 'learned.yaml');
      const g = await guard('learn', ['--dry-run', '--learn', learned]);
      const r = await job(g.url, 'l1');
      assert.equal(r.code, 0, `the job runs under --dry-run: ${r.stderr}`);
      assert.equal(r.stdout, 'hello from the bind\n');
      assert.equal(await g.stop(), 0, g.stderr());
      assert.match(g.stderr(), /--dry-run: requests the policy refuses are FORWARDED/);
      assert.match(g.stderr(), /POST \/containers\/create route=container-create owner=\S+ decision=would-deny rule=cap-add status=201/);
      assert.match(g.stderr(), /wrote the learned policy to /);
      const text = readFileSync(learned, 'utf8');
      const p = parsePolicy(text, learned);
      // both relaxations of the one create request were learned (the rules stop at the first: cap-add)
      assert.deepEqual(p.allowCaps, ['NET_ADMIN']);
      assert.deepEqual(p.allowBind, [data]);
      assert.deepEqual(p.allowRuntimes, []);

      const strict = await guard('learned', ['--policy', learned]);
      const again = await job(strict.url, 'l2');
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, 'hello from the bind\n');
      assert.doesNotMatch(strict.stderr(), /decision=deny/);
      const priv = await docker(strict.url, ['run', '--rm', '--privileged', IMG, 'true']);
      assert.match(priv.stderr, /denied by rule no-privileged: HostConfig\.Privileged=true/);
      const otherDir = await docker(strict.url, ['run', '--rm', '-v', `${tmp}:/t`, IMG, 'true']);
      assert.match(otherDir.stderr, /denied by rule bind-outside-allowlist/);
      assert.equal(await strict.stop(), 0);
    });

    it('what --dry-run forwards is what the relaxed policy would forward: labelled as the owner, reaped on exit', async () => {
      const g = await guard('dryl', ['--dry-run', '--reap-on-exit', '--quiet']);
      const name = `${prefix}-dryl`;
      const r = await docker(g.url, ['run', '-d', '--name', name, '-v', `${data}:/data:ro`, '--cap-add', 'NET_ADMIN', IMG, 'sleep', '300']);
      assert.equal(r.code, 0, r.stderr);
      cleanup.add('container', name);
      const info = await d.engine.json<{ Config: { Labels: Record<string, string> }; HostConfig: { CapAdd: string[] } }>({ method: 'GET', path: `/containers/${name}/json` });
      assert.equal(info.Config.Labels['io.nestling.owner'], `${prefix}-dryl`, 'the owner label was added as without --dry-run');
      assert.deepEqual(info.HostConfig.CapAdd.map((c) => c.replace(/^CAP_/, '')), ['NET_ADMIN']);
      // the job's later requests on it are its own, not "not found"
      const ps = await docker(g.url, ['ps', '-q', '--filter', `name=${name}`]);
      assert.notEqual(ps.stdout.trim(), '');
      assert.equal(await g.stop(), 0, g.stderr());
      assert.match(g.stderr(), /decision=would-deny rule=cap-add/);
      assert.doesNotMatch(g.stderr(), /rule=not-found/);
      const gone = await d.engine.request({ method: 'GET', path: `/containers/${name}/json`, acceptStatus: () => true });
      gone.resume();
      assert.equal(gone.statusCode, 404, '--reap-on-exit removed it');
    });

    it('refusals no policy can relax are comments in the learned file, not permissions', async () => {
      const learned = join(tmp, 'learned-priv.yaml');
      const g = await guard('learnpriv', ['--dry-run', '--learn', learned, '--quiet']);
      // --privileged cannot be granted on this host; the request only has to reach the guard and be logged
      await docker(g.url, ['create', '--name', `${prefix}-lp`, '--privileged', '--cap-add', 'SYS_PTRACE', IMG, 'true']);
      cleanup.add('container', `${prefix}-lp`);
      assert.equal(await g.stop(), 0, g.stderr());
      assert.match(g.stderr(), /decision=would-deny rule=no-privileged/);
      const text = readFileSync(learned, 'utf8');
      assert.match(text, /^# {3}no-privileged: HostConfig\.Privileged=true$/m);
      assert.deepEqual(parsePolicy(text).allowCaps, [], 'nothing behind an unrelaxable refusal is granted');
    });
  });

  describe('guard check', () => {
    const body = (o: unknown) => {
      const f = join(tmp, `body-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(f, JSON.stringify(o));
      return f;
    };
    const check = (args: string[]) => runCli(['guard', 'check', '--upstream', d.url, '--owner', `${prefix}-chk`, ...args]);

    it('exit 0 when allowed: the forwarded target and canonical body', async () => {
      const r = await check(['--allow-bind', data, 'POST', '/v1.41/containers/create?name=x', '--body', body({ Image: IMG, hostconfig: { binds: [`${data}:/d`] } })]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /^allow POST \/v1\.41\/containers\/create\?name=x route=container-create$/m);
      assert.match(r.stdout, /^ {2}forward: POST \/v1\.41\/containers\/create\?name=x$/m);
      const j = await check(['--json', '--allow-bind', data, 'POST', '/v1.41/containers/create', '--body', body({ Image: IMG, hostconfig: { binds: [`${data}:/d`] } })]);
      assert.equal(j.code, 0, show(j));
      const out = JSON.parse(j.stdout) as { decision: string; route: string; forward: { body: { HostConfig: { Binds: string[] }; Labels: Record<string, string> } } };
      assert.equal(out.decision, 'allow');
      assert.deepEqual(out.forward.body.HostConfig.Binds, [`${data}:/d`], 'keys as the daemon reads them');
      assert.equal(out.forward.body.Labels['io.nestling.owner'], `${prefix}-chk`);
    });

    it('exit 5 when denied, naming rule and field (text and --json, policy file, raw request)', async () => {
      const r = await check(['POST', '/containers/create', '--body', body({ Image: IMG, HostConfig: { Privileged: true } })]);
      assert.equal(r.code, 5, show(r));
      assert.match(r.stdout, /^deny 403 POST \/containers\/create route=container-create rule=no-privileged field=HostConfig\.Privileged$/m);
      const j = await check(['--json', 'POST', '/containers/create', '--body', body({ Image: IMG, HostConfig: { CapAdd: ['NET_ADMIN'] } })]);
      assert.equal(j.code, 5, show(j));
      assert.deepEqual(
        (({ decision, status, rule, field, value }) => ({ decision, status, rule, field, value }))(JSON.parse(j.stdout) as Record<string, unknown>),
        { decision: 'deny', status: 403, rule: 'cap-add', field: 'HostConfig.CapAdd', value: 'NET_ADMIN' },
      );
      // the same request passes with a policy file that allows the capability
      const pf = join(tmp, 'check-policy.yaml');
      writeFileSync(pf, 'version: 1\nallowCaps: [NET_ADMIN]\n');
      const ok = await check(['--policy', pf, 'POST', '/containers/create', '--body', body({ Image: IMG, HostConfig: { CapAdd: ['NET_ADMIN'] } })]);
      assert.equal(ok.code, 0, show(ok));
      // a container of no owner: the daemon's 404 wording, found through a read-only lookup
      const c = await d.engine.json<{ Id: string }>({ method: 'POST', path: '/containers/create', query: { name: `${prefix}-foreign` }, body: { Image: IMG, Cmd: ['true'] } });
      cleanup.add('container', c.Id);
      const nf = await check(['--json', 'DELETE', `/containers/${prefix}-foreign?force=1`]);
      assert.equal(nf.code, 5, show(nf));
      assert.equal((JSON.parse(nf.stdout) as { message: string }).message, `No such container: ${prefix}-foreign`);
      const still = await d.engine.json<{ Id: string }>({ method: 'GET', path: `/containers/${c.Id}/json` });
      assert.equal(still.Id, c.Id, 'nothing was forwarded');
      // a raw request file, as captured (CRLF)
      const raw = join(tmp, 'req.http');
      const b = JSON.stringify({ Image: IMG, HostConfig: { Binds: ['/etc:/host-etc'] } });
      writeFileSync(raw, `POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`);
      const rr = await check(['--request', raw]);
      assert.equal(rr.code, 5, show(rr));
      assert.match(rr.stdout, /rule=bind-outside-allowlist field=HostConfig\.Binds\[0\]/);
    });

    it('exit 2 on bad input, 4 when a lookup cannot reach the engine', async () => {
      const cases: [string[], RegExp][] = [
        [['GET'], /give METHOD and TARGET, or --request FILE/],
        [['get', '/containers/json'], /METHOD "get"/],
        [['GET', 'containers/json'], /must start with \//],
        [['POST', '/containers/create', '--body', join(tmp, 'no-such-body.json')], /cannot read the body/],
        [['--request', join(tmp, 'req.http'), 'GET', '/x'], /--request carries the whole request/],
        [['GET', '/x', '--header', 'no-colon'], /is not "Name: value"/],
      ];
      for (const [args, re] of cases) {
        const r = await check(args);
        assert.equal(r.code, 2, `${args.join(' ')}\n${show(r)}`);
        assert.match(r.stderr, re);
        assert.match(r.stderr, /^hint: /m);
      }
      const noOwner = await runCli(['guard', 'check', 'GET', '/containers/json']);
      assert.equal(noOwner.code, 2, show(noOwner));
      assert.match(noOwner.stderr, /missing --owner/);
      const short = join(tmp, 'short.http');
      writeFileSync(short, 'POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Length: 50\r\n\r\n{}');
      const s = await check(['--request', short]);
      assert.equal(s.code, 2, show(s));
      assert.match(s.stderr, /shorter than its Content-Length/);
      // an engine the lookups cannot reach: 4 (a request that names no object needs none, and still answers)
      const down = await runCli(['guard', 'check', '--upstream', `unix://${join(tmp, 'no-engine.sock')}`, '--owner', 'x', 'GET', '/containers/some-name/json']);
      assert.equal(down.code, 4, show(down));
      const noLookup = await runCli(['guard', 'check', '--upstream', `unix://${join(tmp, 'no-engine.sock')}`, '--owner', 'x', 'POST', '/containers/create', '--body', body({ Image: IMG, HostConfig: { Privileged: true } })]);
      assert.equal(noLookup.code, 5, show(noLookup));
      const badPolicy = join(tmp, 'check-bad.yaml');
      writeFileSync(badPolicy, 'version: 2\n');
      const bp = await check(['--policy', badPolicy, 'GET', '/_ping']);
      assert.equal(bp.code, 2, show(bp));
      assert.match(bp.stderr, /check-bad\.yaml:1:10: version/);
    });
  });
});
