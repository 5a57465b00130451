/** Runs a helper program with a hard timeout and bounded output; never throws (a probe reports what happened). */
import { execFile } from 'node:child_process';
import type { Env } from '../util/env.js';

export interface ExecResult {
  /** exit code, or undefined when the program did not run to completion */
  code: number | undefined;
  stdout: string;
  stderr: string;
  /** ENOENT (not found), ETIMEDOUT, EACCES, a signal name, ... */
  error: string | undefined;
}

export interface ExecOptions {
  env: Env;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export type ExecFn = (file: string, args: string[], opts: ExecOptions) => Promise<ExecResult>;

export const execCommand: ExecFn = (file, args, opts) =>
  new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: opts.env as NodeJS.ProcessEnv,
        timeout: opts.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 1024 * 1024,
        encoding: 'utf8',
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr, error: undefined });
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string };
        if (typeof e.code === 'number') return resolve({ code: e.code, stdout, stderr, error: undefined });
        const error = e.killed ? `ETIMEDOUT: no exit within ${opts.timeoutMs} ms` : (e.code ?? e.signal ?? e.message);
        resolve({ code: undefined, stdout, stderr, error: String(error) });
      },
    );
  });

/** Finds a program on PATH under the host root (no shell). */
export async function which(name: string, env: Env, isExecutable: (p: string) => Promise<boolean>): Promise<string | undefined> {
  if (name.includes('/')) return (await isExecutable(name)) ? name : undefined;
  for (const dir of (env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (!dir) continue;
    const p = `${dir.replace(/\/$/, '')}/${name}`;
    if (await isExecutable(p)) return p;
  }
  return undefined;
}
