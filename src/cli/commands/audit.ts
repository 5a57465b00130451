import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { usageError } from '../../util/errors.js';
import { isSeverity, SEVERITIES } from '../../checks/model.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description('Scan an engine for risky Docker exposure (socket mounts, privileged, host namespaces, capabilities, TCP without TLS, socket proxies, AuthZ bypasses); exit 5 at or above --fail-on')
    .option('--json', 'print the report as JSON (schema nestling.audit/v1)')
    .option('--fail-on <severity>', `exit 5 when findings at or above this severity exist (${SEVERITIES.join('|')})`, 'high')
    .option('--name-prefix <prefix>', 'scan only containers whose name starts with this')
    .option('--filter <label=value>', 'scan only containers with this label (repeatable), as `docker ps --filter label=`', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--no-host', "do not scan this machine's processes, daemon.json and TCP listeners")
    .action(async (opts: { json?: boolean; failOn: string; namePrefix?: string; filter: string[]; host: boolean }, cmd: Command) => {
      if (!isSeverity(opts.failOn)) throw usageError('E_USAGE', `--fail-on ${opts.failOn}: expected one of ${SEVERITIES.join(', ')}`, { hint: 'e.g. --fail-on high' });
      const labels = opts.filter.map((f) => {
        const l = f.replace(/^label=/, '');
        if (!l || l.startsWith('=')) throw usageError('E_USAGE', `--filter ${f}: expected label=KEY or label=KEY=VALUE`);
        return l;
      });
      const { runAudit, auditExitCode, renderAuditReport } = await import('../../audit/audit.js');
      const engine = ctx.engine(globalOpts(cmd));
      await engine.negotiate(ctx.signal);
      const report = await runAudit(
        { engine, scope: { namePrefix: opts.namePrefix, labels }, scanHost: opts.host, host: { root: '/' } },
        { signal: ctx.signal },
      );
      if (opts.json) ctx.out(JSON.stringify(report, null, 2));
      else for (const l of renderAuditReport(report, ctx.color && Boolean(ctx.stdout.isTTY))) ctx.out(l);
      process.exitCode = auditExitCode(report, opts.failOn);
    });
}
