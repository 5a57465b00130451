/**
 * `nestling doctor` as the job of a real DinD and a real rootless-DinD run (src/modes runWithMode, local images):
 * the doctor sees the inner daemon the job was given (TLS over TCP for DinD, name=rootless for rootless), exactly
 * as a user's job would. The job image has no node: a hard-linked workspace carries node, its libraries (run
 * through the dynamic loader) and the built package.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Writable } from 'node:stream';
import { useDockerd, type TestDaemon } from '../../harness/dockerd.js';
import { runWithMode, type RunDeps } from '../../../src/modes/run.js';
import { pidLabelFor } from '../../../src/modes/reaper.js';
import { issueDindCerts } from '../../../src/modes/tls.js';
import { startRunGuard } from '../../../src/modes/guard-wiring.js';
import { imageExists } from '../../../src/modes/engine-ops.js';
import { LocalImages } from '../../../src/images/local.js';
import type { DoctorReport } from '../../../src/doctor/doctor.js';
import { REPO } from './in-container.js';

let d: TestDaemon;
let ws: string;
let loader: string;

function buildWorkspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nst-doctor-ws-'));
  mkdirSync(join(dir, 'lib'));
  const node = realpathSync(process.execPath);
  linkSync(node, join(dir, 'node'));
  for (const line of execFileSync('ldd', [node], { encoding: 'utf8' }).split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (!m?.[1]) continue;
    linkSync(realpathSync(m[1]), join(dir, 'lib', basename(m[1])));
    if (/ld-linux/.test(m[1])) loader = join(dir, 'lib', basename(m[1]));
  }
  mkdirSync(join(dir, 'repo'));
  execFileSync('cp', ['-al', join(REPO, 'dist'), join(REPO, 'node_modules'), join(REPO, 'package.json'), join(dir, 'repo')]);
  return dir;
}

function deps(): RunDeps {
  return {
    progress: () => {},
    hostname: hostname(),
    pidLabel: pidLabelFor(hostname(), process.pid),
    stateDir: join(tmpdir(), `nestling-doctor-test-${process.pid}`),
    issueCerts: issueDindCerts,
    startGuard: startRunGuard,
  };
}

/**
 * Whether a job of this mode reaches its inner daemon on this test engine at all. A private harness daemon that had
 * to make its own bridge runs with --iptables=false, and there the job cannot reach the inner daemon's port: the
 * doctor test is then skipped with that reason (the modes' own tests cover the mode).
 */
async function innerDaemonReachable(mode: 'dind' | 'rootless'): Promise<string | undefined> {
  let out = '';
  const sink = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
  const s = await runWithMode(d.engine, { mode, images: 'local', preload: [], env: [], cmd: ['docker', 'version', '--format', '{{.Server.Version}}'], tty: false, interactive: false }, { stdout: sink, stderr: sink }, deps());
  return s.exitCode === 0 ? undefined : `a ${mode} job cannot reach its inner daemon on this test engine (exit ${s.exitCode}: ${out.trim().slice(-200)})`;
}

async function doctorAsJob(mode: 'dind' | 'rootless'): Promise<{ report: DoctorReport; exitCode: number; out: string }> {
  let out = '';
  let err = '';
  const stdout = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
  const stderr = new Writable({ write: (c: Buffer, _e, cb) => ((err += c.toString()), cb()) });
  const cmd = [loader, '--library-path', join(ws, 'lib'), join(ws, 'node'), join(ws, 'repo/dist/src/cli/main.js'), 'doctor', '--json', '--no-probe-containers', '--images', 'local'];
  const s = await runWithMode(d.engine, { mode, images: 'local', preload: [], env: [], cmd, tty: false, interactive: false, workspace: ws }, { stdout, stderr }, deps());
  try {
    return { report: JSON.parse(out) as DoctorReport, exitCode: s.exitCode, out };
  } catch {
    throw new Error(`doctor printed no JSON in the ${mode} job (exit ${s.exitCode}):\n${out}\n${err}`);
  }
}

const finding = (r: DoctorReport, id: string) => {
  const f = r.findings.find((x) => x.id === id);
  assert.ok(f, id);
  return f;
};

describe('doctor inside the job of real DinD and rootless runs', { timeout: 300_000 }, () => {
  before(async () => {
    d = await useDockerd();
    for (const img of [LocalImages.cli, LocalImages.dind, LocalImages.dindRootless]) assert.ok(await imageExists(d.engine, img), `${img} must be built (nestling images build)`);
    ws = buildWorkspace();
  });
  after(() => {
    if (ws) rmSync(ws, { recursive: true, force: true });
  });

  it('dind: the inner daemon over TLS, the server certificate names the host dialled and was issued by the CA', async (t) => {
    const unreachable = await innerDaemonReachable('dind');
    if (unreachable) return t.skip(unreachable);
    const { report, exitCode } = await doctorAsJob('dind');
    const ep = finding(report, 'endpoint');
    assert.match(ep.found, /^tcp:\/\/.*:2376 from DOCKER_HOST/);
    const tls = finding(report, 'tls');
    assert.equal(tls.status, 'ok', JSON.stringify(tls));
    assert.match(tls.found, /server certificate for \S+ valid until/);
    const daemon = finding(report, 'daemon');
    assert.equal(daemon.status, 'ok', daemon.found);
    const host = await d.engine.json<{ ID: string }>({ method: 'GET', path: '/info' });
    assert.ok(daemon.details && typeof daemon.details.serverVersion === 'string');
    assert.equal(finding(report, 'engine-kind').details?.kind, 'docker');
    assert.equal(finding(report, 'cli').status, 'ok');
    assert.equal(finding(report, 'container').details?.inContainer, true);
    assert.equal(exitCode, report.findings.some((f) => f.status === 'fail') ? 3 : 0);
    assert.ok(host.ID);
  });

  it('rootless: the engine is identified as rootless Docker', async (t) => {
    const unreachable = await innerDaemonReachable('rootless');
    if (unreachable) return t.skip(unreachable);
    const { report } = await doctorAsJob('rootless');
    const daemon = finding(report, 'daemon');
    assert.equal(daemon.status, 'ok', daemon.found);
    const kind = finding(report, 'engine-kind');
    assert.equal(kind.details?.kind, 'rootless-docker', kind.found);
    assert.match(kind.found, /name=rootless/);
  });
});
