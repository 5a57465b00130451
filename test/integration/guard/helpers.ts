/** Shared helpers of the guard's integration tests: a guard on the harness dockerd, raw exchanges, CLI runs. */
import http from 'node:http';
import net from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startGuard, type GuardHandle, type GuardOptions } from '../../../src/guard/server.js';
import type { GuardDecisionRecord } from '../../../src/guard/audit-log.js';
import type { TestDaemon } from '../../harness/dockerd.js';
import { ownerPinDir } from '../../../src/guard/pins.js';

export interface TestGuard extends GuardHandle {
  records: GuardDecisionRecord[];
  dir: string;
}

export async function startTestGuard(d: TestDaemon, owner: string, extra: Partial<GuardOptions> = {}): Promise<TestGuard> {
  const dir = mkdtempSync(join(tmpdir(), 'nst-guard-'));
  const records: GuardDecisionRecord[] = [];
  const g = await startGuard({
    upstream: d.url,
    listen: `unix://${join(dir, 'docker.sock')}`,
    owner,
    onDecision: (r) => records.push(r),
    ...extra,
  });
  return Object.assign(g, { records, dir });
}

/** Writes raw bytes (in parts, with pauses) and collects everything until the server closes or timeoutMs passes. */
export function rawExchange(socketPath: string, parts: (string | Buffer)[], opts: { timeoutMs?: number; pauseMs?: number; end?: boolean } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const c = net.connect({ path: socketPath, allowHalfOpen: true });
    const got: Buffer[] = [];
    let closed = false;
    const finish = () => resolve({ text: Buffer.concat(got).toString('latin1'), closed });
    const timer = setTimeout(() => {
      c.destroy();
      finish();
    }, opts.timeoutMs ?? 5000);
    c.on('data', (d: Buffer) => got.push(d));
    // the server ended its side: the exchange is over (allowHalfOpen keeps ours open, so 'close' may never come)
    c.on('end', () => {
      closed = true;
      c.destroy();
    });
    c.on('error', () => {});
    c.on('close', () => {
      closed = true;
      clearTimeout(timer);
      finish();
    });
    void (async () => {
      for (const p of parts) {
        if (c.destroyed) return;
        c.write(p);
        if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
      }
      if (opts.end) c.end();
    })();
  });
}

/** The JSON bodies of error answers in a raw exchange. */
export function messages(text: string): string[] {
  return [...text.matchAll(/\r\n\r\n(\{"message":.*\})\n/g)].map((m) => (JSON.parse(m[1]!) as { message: string }).message);
}

/** Status codes of every response in a raw exchange, in order. */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program (the docker CLI ...) with env additions, optional stdin; kills it after timeoutMs. */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string | Buffer; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    p.stdin.on('error', () => {});
    if (opts.input !== undefined) p.stdin.end(opts.input);
    else p.stdin.end();
  });
}

export const DOCKER_28 = '/usr/local/bin/docker';
export const DOCKER_20 = '/usr/bin/docker';

export interface ApiResponse {
  status: number;
  text: string;
}

/** One request on a socket (the guard's or the daemon's), with an optional body; the status and the body text. */
export function apiRequest(socketPath: string, method: string, path: string, body?: Buffer | string, contentType = 'application/json'): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const req = http.request(
      { socketPath, method, path, headers: { Host: 'docker', ...(b ? { 'Content-Length': String(b.length), 'Content-Type': contentType } : {}) }, timeout: 120_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(b);
  });
}

/** A job's allowed dir next to a host directory it must never reach (`token`: HOST-SECRET), and a pin dir. */
export function pinFixture(tmpPrefix: string): { root: string; allowed: string; secret: string; pinBase: string } {
  const root = mkdtempSync(join(tmpdir(), tmpPrefix));
  const f = { root, allowed: join(root, 'allowed'), secret: join(root, 'host-secret'), pinBase: join(root, 'pins') };
  mkdirSync(f.allowed);
  mkdirSync(f.secret);
  writeFileSync(join(f.secret, 'token'), 'HOST-SECRET\n');
  return f;
}

/** The mount table entries (space-separated fields of /proc/self/mountinfo) of an owner's bind pins. */
export function pinMounts(pinBase: string, owner: string): string[][] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[4]?.startsWith(`${ownerPinDir(pinBase, owner)}/`));
}
