import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { usageError } from '../../util/errors.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('Diagnose this host: where am I, Docker access, can a daemon run here, the Docker CLI, and the mode to use (exit 3 when a probe fails)')
    .option('--json', 'print the report as JSON (schema nestling.doctor/v1)')
    .option('--timeout <ms>', 'timeout of each probe in milliseconds', '10000')
    .option('--no-probe-containers', 'do not start short probe containers to test --privileged and user namespaces')
    .option('--images <kind>', 'daemon images the recommendation looks for: official or local (NESTLING_IMAGES)')
    .action(async (opts: { json?: boolean; timeout: string; probeContainers: boolean; images?: string }, cmd: Command) => {
      const { runDoctor, doctorExitCode, renderDoctorReport } = await import('../../doctor/doctor.js');
      const { defaultDoctorEnvironment } = await import('../../doctor/context.js');
      const timeoutMs = Number(opts.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw usageError('E_USAGE', `--timeout ${opts.timeout} is not a positive number of milliseconds`, { hint: 'e.g. --timeout 5000' });
      const images = opts.images ?? (ctx.env.NESTLING_IMAGES || 'official');
      if (images !== 'official' && images !== 'local') throw usageError('E_USAGE', `--images ${images}: expected official or local`);
      const g = globalOpts(cmd);
      const env = defaultDoctorEnvironment({ env: ctx.env, home: ctx.home, resolve: () => ctx.resolveEngine(g) });
      env.probeContainers = opts.probeContainers;
      env.images = images;
      env.engineTimeoutMs = Math.min(5000, timeoutMs);
      const report = await runDoctor(env, { timeoutMs, signal: ctx.signal });
      if (opts.json) ctx.out(JSON.stringify(report, null, 2));
      else for (const l of renderDoctorReport(report, ctx.color && Boolean(ctx.stdout.isTTY))) ctx.out(l);
      process.exitCode = doctorExitCode(report);
    });
}
