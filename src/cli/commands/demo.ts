import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { findNestlingError, usageError } from '../../util/errors.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('Run a containerized job that uses Docker (version, build, run) in every mode this host supports, and report')
    .option('--mode <mode...>', 'only these modes (dood, guarded, dind, rootless, sysbox)')
    .option('--no-start-daemon', 'fail instead of starting a private dockerd when no engine is reachable')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { mode?: string[]; startDaemon: boolean; json?: boolean }, cmd: Command) => {
      const { DEMO_MODES, demoRunArgs, classifyRun } = await import('../../demo/demo.js');
      const { IMAGE_BUILDERS } = await import('../../images/index.js');
      const modes = (opts.mode ?? [...DEMO_MODES]) as (typeof DEMO_MODES)[number][];
      const bad = modes.filter((m) => !(DEMO_MODES as readonly string[]).includes(m));
      if (bad.length) throw usageError('E_USAGE_MODE', `unknown mode ${bad.join(', ')}`, { hint: `choose from ${DEMO_MODES.join(', ')}` });
      const g = globalOpts(cmd);
      const say = (s: string) => (opts.json ? undefined : ctx.err(s));

      // 1. An engine: the configured one, or a private dockerd when none answers and none was asked for.
      let engine = ctx.engine(g);
      let stopDaemon: (() => Promise<void>) | undefined;
      let startedDaemon = false;
      try {
        await engine.ping(ctx.signal, 5000);
        say(`engine: ${engine.endpoint.url} (${engine.endpoint.source})`);
      } catch (e) {
        const explicit = g.host || ctx.env.DOCKER_HOST || g.context || ctx.env.DOCKER_CONTEXT;
        if (explicit || !opts.startDaemon) throw e;
        say(`engine: none reachable at ${engine.endpoint.url} (${findNestlingError(e)?.message ?? String(e)})`);
        say('engine: starting a private dockerd for the demo (Debian docker.io)');
        const { startPrivateDockerd } = await import('../../engine/local-daemon.js');
        const d = await startPrivateDockerd({ dir: join(tmpdir(), `nestling-demo-${process.pid}`) });
        stopDaemon = d.stop;
        startedDaemon = true;
        engine = d.engine;
        say(`engine: private dockerd pid ${d.pid} at ${d.url}`);
      }
      const results = [];
      try {
        // 2. The local images (no registry): cached by content key, minutes only on a cold cache.
        const needed = new Set(['busybox', 'cli', ...(modes.some((m) => m === 'dind' || m === 'sysbox') ? ['dind'] : []), ...(modes.includes('rootless') ? ['dindRootless'] : [])]);
        for (const b of IMAGE_BUILDERS.filter((x) => needed.has(x.name))) {
          const t0 = Date.now();
          const r = await b.build(engine, { signal: ctx.signal, progress: (p) => say(`images: ${p.task}: ${p.message}`) });
          say(`images: ${b.ref} ${r} (${Date.now() - t0} ms)`);
        }
        // 3. The job, once per mode, through `nestling run` (this same binary).
        const self = process.argv[1] ?? '';
        const env = { ...ctx.env, DOCKER_HOST: engine.endpoint.url } as NodeJS.ProcessEnv;
        for (const mode of modes) {
          if (ctx.signal.aborted) break;
          const tag = `nestling-demo-${mode}-${randomBytes(3).toString('hex')}:latest`;
          say('');
          say(`== mode ${mode}: nestling ${['run', '--mode', mode, '--images', 'local', '...'].join(' ')}`);
          const t0 = Date.now();
          const { code, stdout, stderr } = await runChild(process.execPath, [self, ...demoRunArgs(mode, tag)], env, ctx, !opts.json);
          results.push(classifyRun(mode, code, Date.now() - t0, stdout, stderr));
        }
      } finally {
        if (stopDaemon) {
          say('engine: stopping the private dockerd');
          await stopDaemon();
        }
      }
      if (opts.json) {
        ctx.out(JSON.stringify({ engine: engine.endpoint.url, privateDaemon: startedDaemon, modes: results }));
      } else {
        ctx.out('');
        ctx.out(`demo on ${startedDaemon ? 'a private dockerd' : engine.endpoint.url}:`);
        for (const r of results) {
          const status = r.status === 'ok' ? 'ok  ' : r.status === 'not-applicable' ? 'n/a ' : 'FAIL';
          ctx.out(`  ${status} ${r.mode.padEnd(9)} ${(r.ms / 1000).toFixed(1).padStart(5)}s  ${r.detail}`);
        }
      }
      if (results.some((r) => r.status === 'failed')) process.exitCode = 1;
    });
}

/** Runs a child, echoing its output live (when asked) and keeping it for the summary. */
function runChild(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ctx: CliContext,
  echo: boolean,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (echo) ctx.stdout.write(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (echo) ctx.stderr.write(c);
    });
    const onAbort = () => child.kill('SIGTERM');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', reject);
    child.on('close', (code) => {
      ctx.signal.removeEventListener('abort', onAbort);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}
