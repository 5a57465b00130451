/**
 * Shared pieces of the DinD macro benchmarks. Standalone (no bench package needed): they import the built
 * library from dist/ at run time. Build and run (see docs/run.md, "Benchmarks of the modes"):
 *   npm run build
 *   npx tsc --outDir /tmp/nestling-bench --module nodenext --moduleResolution nodenext --target es2022 \
 *     --types node --skipLibCheck bench/macro/dind-*.ts
 *   DOCKER_HOST=unix:///var/run/docker.sock node /tmp/nestling-bench/dind-ready.js
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Any = any;

export const ROOT = resolve(process.env.NESTLING_ROOT ?? process.cwd());
export const dist = (p: string) => join(ROOT, 'dist', 'src', p);

export async function lib(): Promise<{ Engine: Any; parseHostUrl: Any; run: Any; apply: Any; reaper: Any; tls: Any; facts: Any; privilege: Any }> {
  const [client, resolveMod, run, apply, reaper, tls, facts, privilege] = await Promise.all([
    import(dist('engine/client.js')),
    import(dist('engine/resolve.js')),
    import(dist('modes/run.js')),
    import(dist('modes/apply.js')),
    import(dist('modes/reaper.js')),
    import(dist('modes/tls.js')),
    import(dist('modes/facts.js')),
    import(dist('modes/privilege.js')),
  ]);
  return { Engine: client.Engine, parseHostUrl: resolveMod.parseHostUrl, run, apply, reaper, tls, facts, privilege };
}

export async function engine(): Promise<Any> {
  const { Engine, parseHostUrl } = await lib();
  const url = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  return new Engine(parseHostUrl(url, 'DOCKER_HOST'));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
}

export async function deps(lines: string[] = []) {
  const { reaper, tls, facts } = await lib();
  const stateDir = join(tmpdir(), `nestling-bench-${process.pid}`);
  return {
    hostname: hostname(),
    pidLabel: reaper.pidLabelFor(hostname(), process.pid),
    stateDir,
    issueCerts: tls.issueDindCerts,
    probeCache: facts.fileProbeCache(stateDir),
    warmUp: () => tls.warmUpTls(),
    progress: (p: { task: string; message: string }) => lines.push(`${p.task}: ${p.message}`),
  };
}

/** Runs a job through the library and returns its output and summary. */
export async function runJob(e: Any, opts: Record<string, unknown>, d?: Any): Promise<{ summary: Any; stdout: string; ms: number }> {
  const { run } = await lib();
  const out = new PassThrough();
  let stdout = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  const t0 = performance.now();
  const summary = await run.runWithMode(
    e,
    { images: 'local', preload: [], env: [], tty: false, interactive: false, runId: run.newRunId(), ...opts },
    { stdout: out, stderr: process.stderr },
    d ?? (await deps()),
  );
  return { summary, stdout, ms: Math.round(performance.now() - t0) };
}

export function commit(): string {
  try {
    return execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function report(name: string, result: Record<string, unknown>): void {
  const full = { bench: name, node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, commit: commit(), at: new Date().toISOString(), ...result };
  const dir = join(ROOT, 'bench', 'results');
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(full, null, 2)}\n`);
  } catch {
    /* results are printed anyway */
  }
  process.stdout.write(`${JSON.stringify(full, null, 2)}\n`);
}
