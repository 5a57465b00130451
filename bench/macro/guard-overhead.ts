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
const STREAM_MB = Number(process.env.BENCH_STREAM_MB ?? 1024);
const CONTEXT_MB = Number(process.env.BENCH_CONTEXT_MB ?? 500);
const GUARDS = Number(process.env.BENCH_GUARDS ?? 50);
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

function startGuardProc(name: string, owner: string, cpu?: number): Promise<{ p: ChildProcess; socket: string }> {
  const socket = join(dir, `${name}.sock`);
  // --stop-on-stdin-eof: if this benchmark dies, its guards stop (and reap) instead of running on as orphans
  const argv = [process.execPath, CLI, 'guard', '--upstream', UPSTREAM, '--listen', `unix://${socket}`, '--owner', owner, '--quiet', '--reap-on-exit', '--stop-on-stdin-eof'];
  const [cmd, args] = cpu === undefined ? [argv[0]!, argv.slice(1)] : pinCmd(cpu, argv);
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'inherit'],
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

/**
 * The load generator: raw keep-alive connections, requests written as prepared bytes, responses framed by
 * Content-Length or chunked (like wrk, which cannot speak to a unix socket). A lean client leaves the CPU to what is
 * measured: node's http client alone costs more per request than the daemon's /_ping.
 */
const LOADGEN = `
import net from 'node:net';
const [sockPath, path, secs, conc, mode] = process.argv.slice(2);
const req = Buffer.from('GET ' + path + ' HTTP/1.1\\r\\nHost: docker\\r\\nUser-Agent: nestling-bench\\r\\n\\r\\n');
let n = 0, errors = 0;
const lat = [];
const end = Date.now() + Number(secs) * 1000;
function conn() {
  return new Promise((resolve) => {
    const s = net.connect(sockPath);
    let buf = Buffer.alloc(0), need = -1, t0 = 0n;
    const send = () => {
      if (Date.now() >= end) { s.end(); resolve(); return; }
      buf = Buffer.alloc(0); need = -1; t0 = process.hrtime.bigint(); s.write(req);
    };
    s.on('connect', send);
    s.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (need < 0) {
        const i = buf.indexOf('\\r\\n\\r\\n');
        if (i < 0) return;
        const head = buf.subarray(0, i).toString('latin1');
        if (!head.startsWith('HTTP/1.1 200')) errors++;
        const m = /\\r\\ncontent-length: *(\\d+)/i.exec(head);
        if (m) need = i + 4 + Number(m[1]);
        else if (/\\r\\ntransfer-encoding: *chunked/i.test(head)) {
          const j = buf.indexOf('\\r\\n0\\r\\n\\r\\n', i);
          if (j < 0) return;
          need = j + 7;
        } else { errors++; s.destroy(); return; }
      }
      if (buf.length < need) return;
      n++;
      if (mode === 'latency') lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      send();
    });
    s.on('error', () => { errors++; resolve(); });
    s.on('close', () => resolve());
  });
}
const t = Date.now();
await Promise.all(Array.from({ length: Number(conc) }, conn));
const el = (Date.now() - t) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
console.log(JSON.stringify({ n, errors, rps: n / el, p50: lat.length ? q(0.5) : 0, p99: lat.length ? q(0.99) : 0 }));
`;
const loadgenFile = join(dir, 'loadgen.mjs');
writeFileSync(loadgenFile, LOADGEN);
/** Pinning: the endpoint under test on CPU 1, the load generator on CPU 0 (the daemon floats), when there are two. */
const PIN = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0 && process.env.BENCH_PIN !== '0';
const pinCmd = (cpu: number, argv: string[]): [string, string[]] => (PIN ? ['taskset', ['-c', String(cpu), ...argv]] : [argv[0]!, argv.slice(1)]);

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime, in clock ticks (100/s)
}

function loadgen(socketPath: string, path: string, seconds: number, conc: number, mode: 'latency' | 'throughput') {
  const [cmd, args] = pinCmd(0, [process.execPath, loadgenFile, socketPath, path, String(seconds), String(conc), mode]);
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`load generator failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { n: number; errors: number; rps: number; p50: number; p99: number };
}

/** p50/p99 of sequential requests on one keep-alive connection. */
function latency(socketPath: string, path: string) {
  loadgen(socketPath, path, 0.3, 1, 'latency');
  const r = loadgen(socketPath, path, 2, 1, 'latency');
  return { p50: r.p50, p99: r.p99, errors: r.errors };
}

/** req/s over 8 keep-alive connections; with the pid of the endpoint, its CPU time per request. */
function throughput(socketPath: string, path: string, seconds: number, pid?: number, conc = 8) {
  loadgen(socketPath, path, 0.5, conc, 'throughput');
  const t0 = pid ? cpuTicks(pid) : 0;
  const r = loadgen(socketPath, path, seconds, conc, 'throughput');
  const cpuUsPerReq = pid ? ((cpuTicks(pid) - t0) * 10_000) / Math.max(1, r.n) : undefined;
  return { rps: r.rps, errors: r.errors, cpuUsPerReq };
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

const guard = await startGuardProc('main', `bench-${process.pid}`, 1);
const raw = UPSTREAM.replace(/^unix:\/\//, '');

/** An HAProxy endpoint filter in the Tecnativa docker-socket-proxy style (CONTAINERS=1 POST=1 IMAGES=1 EXEC=1 ...). */
function startHaproxy(): { p: ChildProcess; socket: string } | undefined {
  const bin = '/usr/sbin/haproxy';
  try {
    execFileSync(bin, ['-v'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const socket = join(dir, 'haproxy.sock');
  const allowed = ['_ping', 'version', 'info', 'events', 'containers', 'images', 'exec', 'networks', 'volumes', 'build', 'session'];
  const cfg = [
    'global',
    '  maxconn 4000',
    'defaults',
    '  mode http',
    '  timeout connect 10s',
    '  timeout client 10m',
    '  timeout server 10m',
    '  timeout tunnel 1h',
    'frontend dockerfrontend',
    `  bind unix@${socket} mode 660`,
    `  http-request deny unless { path,url_dec -m reg -i "^(/v[0-9.]+)?/(${allowed.join('|')})" }`,
    '  default_backend dockerbackend',
    'backend dockerbackend',
    `  server dockersocket unix@${raw}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'haproxy.cfg'), cfg);
  const [cmd, args] = pinCmd(1, [bin, '-db', '-f', join(dir, 'haproxy.cfg')]);
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  return { p, socket };
}
/**
 * A byte relay: node, one upstream connection per client connection, every byte passed on, nothing parsed or checked.
 * The floor of any user-space hop in node on this machine: what the guard costs beyond it is its own work.
 */
const RELAY = `
import net from 'node:net';
const [listen, upstream] = process.argv.slice(2);
net.createServer({ allowHalfOpen: true }, (c) => {
  const u = net.connect({ path: upstream, allowHalfOpen: true });
  c.pipe(u);
  u.pipe(c);
  const kill = () => { c.destroy(); u.destroy(); };
  c.on('error', kill);
  u.on('error', kill);
}).listen(listen, () => console.log('listening'));
`;
function startRelay(): Promise<{ p: ChildProcess; socket: string }> {
  const file = join(dir, 'relay.mjs');
  writeFileSync(file, RELAY);
  const socket = join(dir, 'relay.sock');
  const [cmd, args] = pinCmd(1, [process.execPath, file, socket, raw]);
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout!.once('data', () => res({ p, socket }));
    p.once('exit', (c) => rej(new Error(`relay exited ${c}`)));
  });
}
const relay = await startRelay();
const hap = startHaproxy();
if (hap) await new Promise((r) => setTimeout(r, 500));
const hosts: Record<string, string> = { raw: UPSTREAM, guard: `unix://${guard.socket}`, ...(hap ? { haproxy: `unix://${hap.socket}` } : {}), relay: `unix://${relay.socket}` };
const sockets: Record<string, string> = { raw, guard: guard.socket, ...(hap ? { haproxy: hap.socket } : {}), relay: relay.socket };
const KINDS = Object.keys(sockets);
const result: Record<string, unknown> = {};
try {
  // 1. small calls: latency (one connection, sequential) and req/s (8 connections), interleaved raw/guard/haproxy
  const pids: Record<string, number | undefined> = { raw: undefined, guard: guard.p.pid, haproxy: hap?.p.pid, relay: relay.p.pid };
  for (const path of ['/_ping', '/v1.41/containers/json']) {
    const lat: Record<string, { p50: number[]; p99: number[] }> = {};
    const rps: Record<string, number[]> = {};
    const cpu: Record<string, number[]> = {};
    for (const k of KINDS) {
      lat[k] = { p50: [], p99: [] };
      rps[k] = [];
      cpu[k] = [];
    }
    let errors = 0;
    for (let i = 0; i < RUNS; i++) {
      for (const k of KINDS) {
        const l = latency(sockets[k]!, path);
        lat[k]!.p50.push(l.p50);
        lat[k]!.p99.push(l.p99);
        const t = throughput(sockets[k]!, path, 3, pids[k]);
        rps[k]!.push(t.rps);
        if (t.cpuUsPerReq !== undefined) cpu[k]!.push(t.cpuUsPerReq);
        errors += t.errors + l.errors;
      }
    }
    const m = (k: string) => ({
      p50Ms: r3(median(lat[k]!.p50)),
      p99Ms: r3(median(lat[k]!.p99)),
      reqPerSec: Math.round(median(rps[k]!)),
      ...(cpu[k]!.length ? { cpuUsPerReq: Math.round(median(cpu[k]!)), reqPerCpuSecond: Math.round(1e6 / median(cpu[k]!)) } : {}),
    });
    const rr = m('raw');
    const entry: Record<string, unknown> = { raw: rr, p50TargetMs: r3(rr.p50Ms * 1.1 + 0.3), errors };
    for (const k of KINDS.filter((x) => x !== 'raw')) {
      const gg = m(k);
      entry[k] = { ...gg, ratio: { p50: r3(gg.p50Ms / rr.p50Ms), p99: r3(gg.p99Ms / rr.p99Ms), reqPerSec: r3(gg.reqPerSec / rr.reqPerSec) } };
    }
    entry.guardMeetsP50Target = m('guard').p50Ms <= rr.p50Ms * 1.1 + 0.3;
    entry.guardMeets5000 = m('guard').reqPerSec >= 5000;
    result[path] = entry;
    console.error(`bench: ${path}: ${JSON.stringify(entry)}`);
  }

  // 2. docker run --rm IMAGE true
  const runMs: Record<string, number[]> = Object.fromEntries(KINDS.map((k) => [k, [] as number[]]));
  for (let i = 0; i < RUNS + 2; i++) for (const k of KINDS) runMs[k]!.push(docker(hosts[k]!, ['run', '--rm', IMAGE, 'true']));
  result.dockerRunTrue = Object.fromEntries([
    ...KINDS.map((k) => [`${k}Ms`, median(runMs[k]!)]),
    ...KINDS.filter((k) => k !== 'raw').map((k) => [`${k}Ratio`, r3(median(runMs[k]!) / median(runMs.raw!))]),
  ]);
  console.error(`bench: docker run: ${JSON.stringify(result.dockerRunTrue)}`);

  // 3. exec stream throughput: STREAM_MB in through stdin, out through stdout
  const cname = `nestling-bench-${process.pid}`;
  docker(hosts.guard!, ['run', '-d', '--name', cname, IMAGE, 'sleep', '3600']);
  const data = Buffer.alloc(STREAM_MB * 1024 * 1024, 0x61);
  const ex: Record<string, number[]> = Object.fromEntries(KINDS.map((k) => [k, [] as number[]]));
  const failures: Record<string, string> = {};
  /** haproxy is measured where it works; its failures are recorded, not fatal (the guard's are) */
  const attempt = (k: string, f: () => number): number[] => {
    try {
      return [f()];
    } catch (e) {
      if (k !== 'haproxy') throw e;
      failures[k] = String((e as Error).message).split('\n').slice(-2).join(' ').trim();
      return [];
    }
  };
  for (let i = 0; i < RUNS; i++) for (const k of KINDS) ex[k]!.push(...attempt(k, () => docker(hosts[k]!, ['exec', '-i', cname, 'sh', '-c', 'cat | wc -c'], data)));
  const mbps = (ms: number) => r3(STREAM_MB / (ms / 1000));
  result.execStream = Object.fromEntries([
    ['mb', STREAM_MB],
    ...KINDS.filter((k) => ex[k]!.length).map((k) => [`${k}MBps`, mbps(median(ex[k]!))]),
    ...KINDS.filter((k) => k !== 'raw' && ex[k]!.length).map((k) => [`${k}Ratio`, r3(median(ex.raw!) / median(ex[k]!))]),
    ...Object.entries(failures).map(([k, v]) => [`${k}Error`, v]),
    ...(/unable to upgrade to tcp, received 200/.test(failures.haproxy ?? '')
      ? [['haproxyNote', 'HAProxy >= 2.4 does not forward Upgrade: tcp on a request with a body (haproxy/haproxy#2684, Tecnativa/docker-socket-proxy#132): docker exec and attach fail through it']]
      : []),
  ]);
  for (const k of Object.keys(failures)) delete failures[k];
  console.error(`bench: exec stream: ${JSON.stringify(result.execStream)}`);
  docker(hosts.guard!, ['rm', '-f', cname]);

  // 4. build context upload (legacy builder)
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx, { recursive: true });
  writeFileSync(join(ctx, 'blob'), Buffer.alloc(CONTEXT_MB * 1024 * 1024, 0x62));
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${IMAGE}\n`);
  const bd: Record<string, number[]> = Object.fromEntries(KINDS.map((k) => [k, [] as number[]]));
  for (let i = 0; i < RUNS; i++) {
    for (const k of KINDS) {
      bd[k]!.push(...attempt(k, () => docker(hosts[k]!, ['build', '-q', '-t', `nestling-bench-ctx-${process.pid}-${k}:${i}`, ctx])));
    }
  }
  result.buildContext = Object.fromEntries([
    ['mb', CONTEXT_MB],
    ...KINDS.filter((k) => bd[k]!.length).map((k) => [`${k}Ms`, median(bd[k]!)]),
    ...KINDS.filter((k) => k !== 'raw' && bd[k]!.length).map((k) => [`${k}Ratio`, r3(median(bd.raw!) / median(bd[k]!))]),
    ...Object.entries(failures).map(([k, v]) => [`${k}Error`, v]),
  ]);
  console.error(`bench: build context: ${JSON.stringify(result.buildContext)}`);
  for (let i = 0; i < RUNS; i++) for (const k of KINDS) spawnSync(DOCKER, ['rmi', '-f', `nestling-bench-ctx-${process.pid}-${k}:${i}`], { env: { ...process.env, DOCKER_HOST: UPSTREAM } });

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
  result.haproxy = hap ? 'measured alongside (haproxy keys above): a URL filter, no body checks, no ownership' : 'haproxy not installed';
  result.relay = 'measured alongside (relay keys above): a node byte relay that parses and checks nothing, the floor of a user-space hop';
} finally {
  await stopGuard(guard);
  hap?.p.kill('SIGTERM');
  relay.p.kill('SIGTERM');
}

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
} catch {
  /* not a checkout */
}
const doc = {
  bench: 'guard-overhead',
  pinned: PIN ? 'guard, haproxy and relay on CPU 1, load generator on CPU 0, dockerd unpinned' : 'no',
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
// every run is kept: the docs show the spread between runs on a shared machine, not one lucky run
mkdirSync(join(ROOT, 'bench/results/history'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/history', `guard-overhead-${doc.at.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(doc, null, 2)}\n`);
console.log(JSON.stringify(doc, null, 2));
