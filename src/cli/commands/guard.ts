import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { configError, usageError } from '../../util/errors.js';

interface GuardFlags {
  upstream?: string;
  listen?: string;
  owner?: string;
  allowBind: string[];
  map: string[];
  policy?: string;
  jobContainer?: string;
  jobNetwork?: string;
  reapOnExit?: boolean;
  reapImages?: boolean;
  logFormat: string;
  dryRun?: boolean;
  learn?: string;
  printPolicy?: boolean;
  listenAny?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  stopOnStdinEof?: boolean;
  quiet?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command, ctx: CliContext): void {
  program
    .command('guard')
    .description('Run the fail-closed Docker API proxy for one job (owner): foreground, prints one "listening" line on stdout')
    .option('--upstream <url>', 'the real engine: unix:///var/run/docker.sock or tcp://HOST:PORT (default: -H / DOCKER_HOST / context)')
    .option('--listen <url>', 'where the job connects: unix:///run/nestling/JOB.sock or tcp://127.0.0.1:PORT')
    .option('--owner <id>', 'the job id every object created through the guard is labelled with')
    .option('--allow-bind <dir>', 'host directory bind mounts may come from (repeatable)', collect, [])
    .option('--map <job=host>', 'translate bind sources: JOB_PATH=HOST_PATH (repeatable)', collect, [])
    .option('--policy <file>', 'policy file (YAML) relaxing the baseline')
    .option('--job-container <id>', 'discover path mappings from this container\'s mounts')
    .option('--job-network <name>', 'the per-job network containers join by default')
    .option('--reap-on-exit', 'remove everything the owner owns when the guard stops')
    .option('--reap-images', 'with --reap-on-exit: remove the owner\'s images too')
    .option('--log-format <format>', 'audit log format on stderr: text or json', 'text')
    .option('--dry-run', 'DANGEROUS: log what would be refused and forward it anyway (policy development only)')
    .option('--learn <file>', 'record what the job needed and write a least-privilege policy file on exit')
    .option('--print-policy', 'print the effective policy and exit')
    .option('--listen-any', 'allow a non-loopback tcp --listen address (use TLS with client certificates)')
    .option('--tls-cert <file>', 'serve TLS with this certificate (tcp only)')
    .option('--tls-key <file>', 'key of --tls-cert')
    .option('--tls-ca <file>', 'CA that client certificates must chain to (required with --tls-cert)')
    .option('--stop-on-stdin-eof', 'stop (and reap, with --reap-on-exit) when stdin reaches EOF')
    .option('-q, --quiet', 'log refusals and errors only')
    .action(async (flags: GuardFlags, cmd: Command) => {
      const { startGuard } = await import('../../guard/server.js');
      const { parseMapping } = await import('../../guard/path-discovery.js');
      const { formatRecord } = await import('../../guard/audit-log.js');
      if (flags.logFormat !== 'text' && flags.logFormat !== 'json') {
        throw usageError('E_GUARD_LOG_FORMAT', `--log-format ${flags.logFormat}: expected text or json`, { hint: 'use --log-format text or --log-format json' });
      }
      const format = flags.logFormat;
      const policy = await loadEffectivePolicy(flags.policy, flags.allowBind);
      if (flags.printPolicy) {
        ctx.out(await printPolicyText(policy));
        return;
      }
      if (!flags.listen) throw usageError('E_GUARD_LISTEN', 'missing --listen', { hint: 'e.g. --listen unix:///run/nestling/job.sock' });
      if (!flags.owner) throw usageError('E_GUARD_OWNER', 'missing --owner', { hint: 'give the job id: --owner JOB_ID' });
      const mappings = flags.map.map(parseMapping);
      const upstreamUrl = flags.upstream ?? ctx.resolveEngine(globalOpts(cmd)).endpoint.url;
      let tls;
      if (flags.tlsCert || flags.tlsKey || flags.tlsCa) {
        if (!flags.tlsCert || !flags.tlsKey || !flags.tlsCa) {
          throw usageError('E_GUARD_TLS', '--tls-cert, --tls-key and --tls-ca go together', { hint: 'client certificates are always required with TLS' });
        }
        const read = (f: string) => {
          try {
            return readFileSync(f);
          } catch (e) {
            throw configError('E_GUARD_TLS_FILE', `cannot read ${f}`, { hint: 'check the path and permissions', cause: e });
          }
        };
        tls = { cert: read(flags.tlsCert), key: read(flags.tlsKey), ca: read(flags.tlsCa) };
      }
      let upstreamTls;
      if (!flags.upstream) {
        const ep = ctx.resolveEngine(globalOpts(cmd)).endpoint;
        upstreamTls = ep.tls;
      }
      const learner = flags.learn ? new (await import('../../guard/learn.js')).Learner(flags.owner) : undefined;
      if (flags.dryRun) ctx.err('nestling guard: --dry-run: requests the policy refuses are FORWARDED; this job is not protected');
      const handle = await startGuard({
        upstream: upstreamUrl,
        upstreamTls,
        listen: flags.listen,
        owner: flags.owner,
        policy,
        mappings,
        jobContainer: flags.jobContainer,
        jobNetwork: flags.jobNetwork,
        dryRun: flags.dryRun,
        reapOnExit: flags.reapOnExit,
        reapImages: flags.reapImages,
        allowNonLoopback: flags.listenAny,
        tls,
        onDecision: (r) => {
          learner?.observe(r);
          if (flags.quiet && r.decision === 'forward') return;
          ctx.err(formatRecord(r, format));
        },
        log: { log: (level, msg) => ctx.err(format === 'json' ? JSON.stringify({ ts: new Date().toISOString(), level, msg }) : `${new Date().toISOString()} ${level} ${msg}`) },
      });
      ctx.out(`nestling guard: listening on ${handle.url} (owner ${flags.owner}, upstream ${upstreamUrl})`);
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        if (flags.stopOnStdinEof) {
          ctx.stdin.on('end', () => resolve());
          ctx.stdin.on('data', () => {});
          ctx.stdin.resume();
        }
      });
      ctx.err('nestling guard: stopping: no new connections, draining');
      await handle.close();
      const report = await handle.closed;
      if (report) {
        ctx.err(
          `nestling guard: reaped owner ${report.owner}: ${report.containers.length} containers, ${report.networks.length} networks, ${report.volumes.length} volumes, ${report.images.length} images${report.errors.length ? `, ${report.errors.length} errors` : ''}`,
        );
      }
      if (learner && flags.learn) {
        learner.write(flags.learn);
        ctx.err(`nestling guard: wrote the learned policy to ${flags.learn}`);
      }
      if (flags.stopOnStdinEof) ctx.stdin.pause();
    });
}

/**
 * The effective policy: the decider's baseline, relaxed by --policy FILE (through the decider's policy-file module)
 * and by --allow-bind.
 */
async function loadEffectivePolicy(file: string | undefined, allowBind: string[]): Promise<import('../../guard/types.js').EffectivePolicy> {
  const { defaultPolicy } = await import('../../guard/policy.js');
  let policy = defaultPolicy();
  if (file) {
    const spec = '../../guard/policy-file.js';
    let mod: Record<string, unknown>;
    try {
      mod = (await import(spec)) as Record<string, unknown>;
    } catch (e) {
      throw configError('E_GUARD_POLICY_UNSUPPORTED', 'policy files are not supported by this build', { hint: 'use --allow-bind instead', cause: e });
    }
    const load = (mod.loadPolicyFile ?? mod.readPolicyFile) as ((p: string) => unknown) | undefined;
    if (typeof load !== 'function') throw configError('E_GUARD_POLICY_UNSUPPORTED', 'policy files are not supported by this build', { hint: 'use --allow-bind instead' });
    policy = (await Promise.resolve(load(file))) as typeof policy;
  }
  for (const d of allowBind) {
    if (!d.startsWith('/')) throw usageError('E_GUARD_ALLOW_BIND', `--allow-bind ${d}: must be an absolute host path`, { hint: 'e.g. --allow-bind /srv/ci/work' });
    if (!policy.allowBind.includes(d)) policy = { ...policy, allowBind: [...policy.allowBind, d] };
  }
  return policy;
}

async function printPolicyText(policy: import('../../guard/types.js').EffectivePolicy): Promise<string> {
  const spec = '../../guard/policy-file.js';
  try {
    const mod = (await import(spec)) as Record<string, unknown>;
    const print = (mod.printPolicy ?? mod.policyToYaml ?? mod.stringifyPolicy) as ((p: unknown) => string) | undefined;
    if (typeof print === 'function') return print(policy);
  } catch {
    /* no printer: YAML from the yaml package below */
  }
  const { stringify } = await import('yaml');
  return stringify(policy).trimEnd();
}
