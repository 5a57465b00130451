/**
 * Helpers for the modes' integration tests: run a job through the library against the harness daemon, capture
 * its output, and list what a run left on the engine.
 */
import { PassThrough } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../../../src/engine/client.js';
import { Labels } from '../../../src/util/labels.js';
import { runWithMode, newRunId, type RunDeps, type RunSummary } from '../../../src/modes/run.js';
import { pidLabelFor, ownerFor } from '../../../src/modes/reaper.js';
import { issueDindCerts } from '../../../src/modes/tls.js';
import { startRunGuard } from '../../../src/modes/guard-wiring.js';
import type { RunOptions } from '../../../src/modes/types.js';

export interface JobRun {
  summary: RunSummary;
  stdout: string;
  stderr: string;
  progress: string[];
}

export function testDeps(over: Partial<RunDeps> = {}): RunDeps & { lines: string[] } {
  const lines: string[] = [];
  return {
    hostname: hostname(),
    pidLabel: pidLabelFor(hostname(), process.pid),
    stateDir: mkdtempSync(join(tmpdir(), 'nst-m-')),
    issueCerts: issueDindCerts,
    startGuard: startRunGuard,
    progress: (p) => lines.push(`${p.task}: ${p.message}`),
    lines,
    ...over,
  };
}

export async function runJobForTest(engine: Engine, o: Partial<RunOptions> & { cmd: string[]; mode: RunOptions['mode'] }, deps = testDeps()): Promise<JobRun> {
  const opts: RunOptions = { images: 'local', preload: [], env: [], tty: false, interactive: false, runId: newRunId(), ...o };
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    const summary = await runWithMode(engine, opts, { stdout: out, stderr: err }, deps);
    return { summary, stdout, stderr, progress: deps.lines };
  } catch (e) {
    (e as Error).message += `\n--- progress ---\n${deps.lines.join('\n')}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
    throw e;
  }
}

export interface Leftovers {
  containers: string[];
  networks: string[];
  volumes: string[];
  images: string[];
}

/**
 * Everything on the engine that belongs to a run: labelled with its run id or its owner, or named after it.
 * Filtering by the run (not a global before/after diff) keeps the comparison exact while other suites share the
 * daemon.
 */
export async function leftovers(engine: Engine, runId: string): Promise<Leftovers> {
  const owner = ownerFor(runId);
  const mine = (labels: Record<string, string> | null | undefined, name: string) =>
    labels?.[Labels.run] === runId || labels?.[Labels.owner] === owner || name.includes(runId);
  const cs = await engine.json<{ Id: string; Names: string[]; Labels: Record<string, string> | null }[]>({ method: 'GET', path: '/containers/json', query: { all: true } });
  const ns = await engine.json<{ Name: string; Labels: Record<string, string> | null }[]>({ method: 'GET', path: '/networks' });
  const vs = await engine.json<{ Volumes: { Name: string; Labels: Record<string, string> | null }[] | null }>({ method: 'GET', path: '/volumes' });
  const is = await engine.json<{ Id: string; RepoTags: string[] | null; Labels: Record<string, string> | null }[]>({ method: 'GET', path: '/images/json' });
  return {
    containers: cs.filter((c) => mine(c.Labels, c.Names.join(','))).map((c) => c.Names[0] ?? c.Id),
    networks: ns.filter((n) => mine(n.Labels, n.Name)).map((n) => n.Name),
    volumes: (vs.Volumes ?? []).filter((v) => mine(v.Labels, v.Name) && v.Labels?.[Labels.role] !== 'cache').map((v) => v.Name),
    images: is.filter((i) => mine(i.Labels, (i.RepoTags ?? []).join(','))).map((i) => (i.RepoTags ?? [i.Id]).join(',')),
  };
}

export const NOTHING: Leftovers = { containers: [], networks: [], volumes: [], images: [] };

/** All container ids, network names and volume names on the engine: for before/after comparisons. */
export async function snapshot(engine: Engine): Promise<{ containers: Set<string>; networks: Set<string>; volumes: Set<string> }> {
  const cs = await engine.json<{ Id: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true } });
  const ns = await engine.json<{ Name: string }[]>({ method: 'GET', path: '/networks' });
  const vs = await engine.json<{ Volumes: { Name: string }[] | null }>({ method: 'GET', path: '/volumes' });
  return { containers: new Set(cs.map((c) => c.Id)), networks: new Set(ns.map((n) => n.Name)), volumes: new Set((vs.Volumes ?? []).map((v) => v.Name)) };
}

/** A script that builds an image FROM the busybox image and runs a container from it, printing its id. */
export function buildAndRunScript(tag: string, childName: string): string {
  return [
    'set -e',
    'mkdir -p /tmp/ctx && cd /tmp/ctx',
    `printf 'FROM nestling/busybox:local\\nRUN echo built-inside > /msg\\n' > Dockerfile`,
    `docker build -q -t ${tag} . >/dev/null`,
    `docker run --name ${childName} ${tag} cat /msg`,
    `echo "CHILD_ID=$(docker inspect -f '{{.Id}}' ${childName})"`,
  ].join('\n');
}
