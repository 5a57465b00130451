import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { VERSION } from '../version.js';
import { usageError } from '../../util/errors.js';

interface CiFlags {
  mode: string;
  name?: string;
  image?: string;
  daemonImage?: string;
  guardImage?: string;
  dockerVersion?: string;
  command?: string;
  guard?: boolean;
  arc?: boolean;
  agent?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('ci')
    .description('Print CI configuration (GitLab CI, GitHub Actions, Jenkins) that gives jobs a Docker engine')
    .argument('<platform>', 'gitlab | github | jenkins')
    .argument('[cmd...]', 'the job\'s command, after -- (joined for the shell)')
    .requiredOption('--mode <mode>', 'dind | guarded | rootless | sysbox')
    .option('--name <name>', 'job name (DNS-1123 label)', 'nestling-job')
    .option('--image <image>', 'the job\'s image (default: docker:<v>-cli)')
    .option('--daemon-image <image>', 'the daemon\'s image (default: docker:<v>-dind or -dind-rootless)')
    .option('--guard-image <image>', 'the image that runs `nestling guard`')
    .option('--docker-version <v>', 'Docker release line of the official images')
    .option('--command <shell>', 'shell command line the job runs')
    .option('--guard', 'put the guard in front of the daemon (pod-based agents: Jenkins kubernetes, GitHub --arc)')
    .option('--no-guard', 'no guard in front of a dind daemon (pod-based agents)')
    .option('--arc', 'github: values.yaml for the Actions Runner Controller scale set instead of a workflow')
    .option('--agent <agent>', 'jenkins: kubernetes (pod template, default) | docker (guarded only)')
    .action(async (platform: string, cmd: string[], flags: CiFlags) => {
      const { generateCi, shellJoin } = await import('../../gen/ci/index.js');
      if (flags.command !== undefined && cmd.length) {
        throw usageError('E_USAGE', 'give the command either as --command or after --, not both', { hint: "nestling ci gitlab --mode dind --command 'make test'" });
      }
      const out = generateCi({
        platform,
        mode: flags.mode,
        name: flags.name,
        image: flags.image,
        daemonImage: flags.daemonImage,
        guardImage: flags.guardImage,
        dockerVersion: flags.dockerVersion,
        script: flags.command ?? (cmd.length ? shellJoin(cmd) : undefined),
        guard: flags.guard,
        arc: flags.arc,
        agent: flags.agent,
        nestlingVersion: VERSION,
      });
      ctx.stdout.write(out.text);
      for (const n of out.notes) if (n.startsWith('WARNING')) ctx.err(`nestling: ${n}`);
    });
}
