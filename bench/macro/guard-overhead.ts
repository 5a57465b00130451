/**
 * Guard overhead as ratios to the raw socket, measured in the same run on the same daemon:
 *   - GET /_ping and GET /containers/json: p50/p99 latency (sequential, one keep-alive connection) and req/s
 *     (8 concurrent connections, fixed duration);
 *   - `docker run --rm IMAGE true` wall time (docker CLI);
 *   - exec stream throughput (`docker exec -i C cat` with BENCH_STREAM_MB of data in and out);
 *   - legacy build-context upload (BENCH_CONTEXT_MB);
 *   - BENCH_GUARDS guards side by side, each with a job running containers: errors and each guard's RSS.
 * The guard runs as its own process (the built CLI), so the load generator does not share its core.
 * Medians of BENCH_RUNS runs, raw and guard interleaved (this machine is noisy).
 *
 *   DOCKER_HOST=unix:///tmp/nd/docker.sock node bench/run.mjs guard
 */
import http from 'node:http';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(process.env.NESTLING_ROOT ?? process.cwd());
const CLI = join(ROOT, 'dist/src/cli/main.js');
const DOCKER = process.env.BENCH_DOCKER ?? '/usr/local/bin/docker';
const UPSTREAM = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
const IMAGE = process.env.BENCH_IMAGE ?? 'nestling/busybox:local';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STREAM_MB = Number(process.env.BENCH_STREAM_MB ?? 256);
const CONTEXT_MB = Number(process.env.BENCH_CONTEXT_MB ?? 128);
const GUARDS = Number(process.env.BENCH_GUARDS ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'nestling-bench-guard-'));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function startGuardProc(name: string, owner: string): Promise<{ p: ChildProcess; socket: string }> {
  const socket = join(dir, `${name}.sock`);
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [CLI, 'guard', '--upstream', UPSTREAM, '--listen', `unix://${socket}`, '--owner', owner, '--quiet', '--reap-on-exit'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    p.stdout!.once('data', () => res({ p, socket }));
    p.once('exit', (c) => rej(new Error(`guard exited ${c}`)));
  });
}
const stopGuard = (g: { p: ChildProcess }) =>
  new Promise<void>((res) => {
    g.p.once('exit', () => res());
    g.p.kill('SIGTERM');
  });

function request(agent: http.Agent, socketPath: string, path: string): Promise<void> {
  return new Promise((res, rej) => {
    const req = http.request({ socketPath, path, agent, headers: { host: 'docker' } }, (r) => {
      r.resume();
      r.on('end', () => (r.statusCode === 200 ? res() : rej(new Error(`status ${r.statusCode}`))));
    });
    req.on('error', rej);
    req.end();
  });
}

async function latency(socketPath: string, path: string, n: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 50; i++) await request(agent, socketPath, path);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await request(agent, socketPath, path);
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  agent.destroy();
  return { p50: pct(ms, 50), p99: pct(ms, 99) };
}

async function throughput(socketPath: string, path: string, seconds: number, conc = 8) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
  let n = 0;
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (Date.now() < end) {
        try {
          await request(agent, socketPath, path);
          n++;
        } catch {
          errors++;
        }
      }
    }),
  );
  agent.destroy();
  return { rps: n / seconds, errors };
}

const docker = (host: string, args: string[], input?: Buffer) => {
  const t = Date.now();
  const r = spawnSync(DOCKER, args, { env: { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' }, input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr?.toString()}`);
  return Date.now() - t;
};

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

const guard = await startGuardProc('main', `bench-${process.pid}`);
const raw = UPSTREAM.replace(/^unix:\/\//, '');
const hosts = { raw: UPSTREAM, guard: `unix://${guard.socket}` };
const sockets = { raw, guard: guard.socket };
const result: Record<string, unknown> = {};
try {
  // 1. small calls: latency and req/s
  for (const path of ['/_ping', '/v1.41/containers/json']) {
    const lat: Record<'raw' | 'guard', { p50: number[]; p99: number[] }> = { raw: { p50: [], p99: [] }, guard: { p50: [], p99: [] } };
    const rps: Record<'raw' | 'guard', number[]> = { raw: [], guard: [] };
    let errors = 0;
    for (let i = 0; i < RUNS; i++) {
      for (const k of ['raw', 'guard'] as const) {
        const l = await latency(sockets[k], path, 1000);
        lat[k].p50.push(l.p50);
        lat[k].p99.push(l.p99);
        const t = await throughput(sockets[k], path, 2);
        rps[k].push(t.rps);
        errors += t.errors;
      }
    }
    const m = (k: 'raw' | 'guard') => ({ p50Ms: r3(median(lat[k].p50)), p99Ms: r3(median(lat[k].p99)), reqPerSec: Math.round(median(rps[k])) });
    const rr = m('raw');
    const gg = m('guard');
    result[path] = {
      raw: rr,
      guard: gg,
      ratio: { p50: r3(gg.p50Ms / rr.p50Ms), p99: r3(gg.p99Ms / rr.p99Ms), reqPerSec: r3(gg.reqPerSec / rr.reqPerSec) },
      p50TargetMs: r3(rr.p50Ms * 1.1 + 0.3),
      meetsP50Target: gg.p50Ms <= rr.p50Ms * 1.1 + 0.3,
      errors,
    };
    console.error(`bench: ${path}: ${JSON.stringify(result[path])}`);
  }

  // 2. docker run --rm IMAGE true
  const runMs: Record<'raw' | 'guard', number[]> = { raw: [], guard: [] };
  for (let i = 0; i < RUNS + 2; i++) for (const k of ['raw', 'guard'] as const) runMs[k].push(docker(hosts[k], ['run', '--rm', IMAGE, 'true']));
  result.dockerRunTrue = { rawMs: median(runMs.raw), guardMs: median(runMs.guard), ratio: r3(median(runMs.guard) / median(runMs.raw)) };
  console.error(`bench: docker run: ${JSON.stringify(result.dockerRunTrue)}`);

  // 3. exec stream throughput: STREAM_MB in through stdin, out through stdout
  const cname = `nestling-bench-${process.pid}`;
  docker(hosts.guard, ['run', '-d', '--name', cname, IMAGE, 'sleep', '3600']);
  const data = Buffer.alloc(STREAM_MB * 1024 * 1024, 0x61);
  const ex: Record<'raw' | 'guard', number[]> = { raw: [], guard: [] };
  for (let i = 0; i < RUNS; i++) for (const k of ['raw', 'guard'] as const) ex[k].push(docker(hosts[k], ['exec', '-i', cname, 'sh', '-c', 'cat | wc -c'], data));
  const mbps = (ms: number) => r3((STREAM_MB * 2) / (ms / 1000));
  result.execStream = { mb: STREAM_MB, rawMBps: mbps(median(ex.raw)), guardMBps: mbps(median(ex.guard)), ratio: r3(median(ex.raw) / median(ex.guard)) };
  console.error(`bench: exec stream: ${JSON.stringify(result.execStream)}`);
  docker(hosts.guard, ['rm', '-f', cname]);

  // 4. build context upload (legacy builder)
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'blob'), Buffer.alloc(CONTEXT_MB * 1024 * 1024, 0x62));
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${IMAGE}\n`);
  const bd: Record<'raw' | 'guard', number[]> = { raw: [], guard: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const k of ['raw', 'guard'] as const) {
      bd[k].push(docker(hosts[k], ['build', '-q', '-t', `nestling-bench-ctx-${process.pid}-${k}:${i}`, ctx]));
    }
  }
  result.buildContext = { mb: CONTEXT_MB, rawMs: median(bd.raw), guardMs: median(bd.guard), ratio: r3(median(bd.raw) / median(bd.guard)) };
  console.error(`bench: build context: ${JSON.stringify(result.buildContext)}`);
  for (let i = 0; i < RUNS; i++) for (const k of ['raw', 'guard'] as const) spawnSync(DOCKER, ['rmi', '-f', `nestling-bench-ctx-${process.pid}-${k}:${i}`], { env: { ...process.env, DOCKER_HOST: UPSTREAM } });

  // 5. many guards side by side, each with a job running containers
  const many = await Promise.all(Array.from({ length: GUARDS }, (_, i) => startGuardProc(`g${i}`, `bench-${process.pid}-${i}`)));
  let errors = 0;
  await Promise.all(
    many.map(
      (g, i) =>
        new Promise<void>((res) => {
          const p = spawn('sh', ['-c', `${DOCKER} run -d --name nestling-bench-${process.pid}-m${i} ${IMAGE} sleep 60 && ${DOCKER} ps -q && ${DOCKER} run --rm ${IMAGE} echo ok`], {
            env: { ...process.env, DOCKER_HOST: `unix://${g.socket}` },
            stdio: 'ignore',
          });
          p.on('exit', (c) => {
            if (c !== 0) errors++;
            res();
          });
        }),
    ),
  );
  const rss = many.map((g) => Math.round(rssKb(g.p.pid!) / 1024));
  await Promise.all(many.map(stopGuard)); // --reap-on-exit removes each job's containers
  result.manyGuards = { guards: GUARDS, errors, rssMiB: { median: median(rss), max: Math.max(...rss), all: rss } };
  console.error(`bench: many guards: ${JSON.stringify(result.manyGuards)}`);
  result.haproxy = 'not measured in this run (see docs/benchmarks.md)';
} finally {
  await stopGuard(guard);
}

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
} catch {
  /* not a checkout */
}
const doc = {
  bench: 'guard-overhead',
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cpus: cpus().length,
  commit,
  at: new Date().toISOString(),
  upstream: UPSTREAM,
  runs: RUNS,
  ...result,
};
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/guard-overhead.json'), `${JSON.stringify(doc, null, 2)}\n`);
console.log(JSON.stringify(doc, null, 2));
