import type { Command } from 'commander';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { findNestlingError } from '../../util/errors.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('Run a containerized job that uses Docker (version, build, run) and report what happened')
    .option('--no-start-daemon', 'fail instead of starting a private dockerd when no engine is reachable')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { startDaemon: boolean; json?: boolean }, cmd: Command) => {
      const { runDooDDemo } = await import('../../demo/demo.js');
      const g = globalOpts(cmd);
      const say = (s: string) => (opts.json ? undefined : ctx.err(s));
      let engine = ctx.engine(g);
      let socketPath = engine.endpoint.socketPath;
      let stopDaemon: (() => Promise<void>) | undefined;
      try {
        await engine.ping(ctx.signal, 5000);
        say(`engine: ${engine.endpoint.url} (${engine.endpoint.source})`);
      } catch (e) {
        const explicit = g.host || ctx.env.DOCKER_HOST || g.context || ctx.env.DOCKER_CONTEXT;
        if (explicit || !opts.startDaemon) throw e;
        say(`engine: none reachable at ${engine.endpoint.url} (${findNestlingError(e)?.message ?? String(e)})`);
        say('engine: starting a private dockerd for the demo');
        const { startPrivateDockerd } = await import('../../engine/local-daemon.js');
        const d = await startPrivateDockerd({ dir: join(tmpdir(), `nestling-demo-${process.pid}`) });
        stopDaemon = d.stop;
        engine = d.engine;
        socketPath = d.socketPath;
        say(`engine: private dockerd pid ${d.pid} at ${d.url}`);
      }
      try {
        if (engine.endpoint.kind !== 'unix' || !socketPath) {
          throw new Error('the demo mounts the engine socket into the job: it needs a unix:// endpoint');
        }
        const r = await runDooDDemo(engine, socketPath, {
          signal: ctx.signal,
          progress: (p) => say(`-- ${p.message}`),
          onOutput: (c) => {
            if (!opts.json) ctx.stdout.write(c);
          },
        });
        if (opts.json) ctx.out(JSON.stringify({ engine: engine.endpoint.url, ...r }));
        else {
          ctx.out('');
          ctx.out(`demo (${r.mode}) finished with exit code ${r.exitCode}:`);
          for (const s of r.steps) ctx.out(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.step} (${s.ms} ms)${s.detail ? `: ${s.detail}` : ''}`);
        }
        if (r.exitCode !== 0) process.exitCode = r.exitCode > 0 && r.exitCode < 256 ? r.exitCode : 1;
      } finally {
        if (stopDaemon) {
          say('engine: stopping the private dockerd');
          await stopDaemon();
        }
      }
    });
}
