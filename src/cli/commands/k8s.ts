import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CliContext } from '../context.js';
import { VERSION } from '../version.js';
import { usageError } from '../../util/errors.js';

interface K8sFlags {
  mode: string;
  name?: string;
  namespace?: string;
  kind?: string;
  image?: string;
  daemonImage?: string;
  guardImage?: string;
  command?: string;
  tls?: boolean;
  mtu?: string;
  guard?: boolean;
  cpu?: string;
  memory?: string;
  daemonCpu?: string;
  daemonMemory?: string;
  kubeVersion?: string;
  dockerVersion?: string;
  activeDeadline?: string;
  ttl?: string;
  engineSocket?: string;
  kubeletDir?: string;
  policy?: string;
  tunResource?: string;
  workspace?: string;
  json?: boolean;
}

/** Reads a policy file for embedding in a ConfigMap; a missing or unreadable file is a usage error. */
export function readPolicyFile(ctx: CliContext, file: string): string {
  try {
    return readFileSync(resolve(ctx.cwd, file), 'utf8');
  } catch (e) {
    throw usageError('E_GEN_POLICY_READ', `cannot read --policy ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      hint: 'pass the path of a guard policy file (YAML, version: 1)',
      cause: e,
    });
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('k8s')
    .description('Print a Kubernetes manifest (Job or Pod, plus its ConfigMap) that gives a job a Docker engine')
    .requiredOption('--mode <mode>', 'dind | guarded | rootless | sysbox')
    .option('--kind <kind>', 'job | pod', 'job')
    .option('--name <name>', 'object name (DNS-1123 label)', 'nestling-job')
    .option('--namespace <ns>', 'namespace (default: kubectl\'s)')
    .option('--image <image>', 'the job\'s image (default: docker:<v>-cli)')
    .option('--daemon-image <image>', 'the daemon sidecar\'s image (default: docker:<v>-dind or -dind-rootless)')
    .option('--guard-image <image>', 'the image that runs `nestling guard` (default: the nestling image of this version)')
    .option('--command <shell>', 'shell command line the job runs (or give argv after --)')
    .option('--tls', 'dind/sysbox: the daemon on TLS at 127.0.0.1:2376 instead of a unix socket')
    .option('--mtu <n>', 'dind/sysbox: inner MTU (default: the pod\'s eth0 MTU, read at start)')
    .option('--guard', 'put the guard in front of the daemon (default for dind)')
    .option('--no-guard', 'dind only: give the job the privileged daemon directly (it can then own the node)')
    .option('--cpu <q>', 'job CPU (request = limit), e.g. 2')
    .option('--memory <q>', 'job memory (request = limit), e.g. 4Gi')
    .option('--daemon-cpu <q>', 'daemon CPU (request = limit)')
    .option('--daemon-memory <q>', 'daemon memory (request = limit); bounds every container the job starts')
    .option('--kube-version <v>', 'target Kubernetes minor, 1.29 to 1.33', '1.30')
    .option('--docker-version <v>', 'Docker release line of the official images')
    .option('--active-deadline <s>', 'seconds before the job is stopped', '3600')
    .option('--ttl <s>', 'Job: seconds after it finishes before it is deleted', '600')
    .option('--engine-socket <path>', 'guarded: the node engine\'s socket', '/var/run/docker.sock')
    .option('--kubelet-dir <path>', 'guarded: the kubelet root dir (to map the workspace emptyDir)', '/var/lib/kubelet')
    .option('--policy <file>', 'the guard policy file to put in the ConfigMap')
    .option('--tun-resource <name>', "rootless: extended resource that provides /dev/net/tun ('' if the runtime gives it)")
    .option('--workspace <path>', 'where the workspace emptyDir is mounted, in the job and the daemon alike', '/workspace')
    .option('--json', 'print the objects as JSON (one array) instead of YAML')
    .argument('[cmd...]', 'the job\'s command (exec form), after --')
    .action(async (cmd: string[], flags: K8sFlags, command: Command) => {
      const { generateK8s } = await import('../../gen/k8s/index.js');
      if (flags.command !== undefined && cmd.length) {
        throw usageError('E_USAGE', 'give the command either as --command or after --, not both', { hint: 'nestling k8s --mode dind -- make test' });
      }
      const src = (name: string) => command.getOptionValueSource(name) === 'cli';
      const out = generateK8s({
        mode: flags.mode,
        name: flags.name,
        namespace: flags.namespace,
        kind: flags.kind,
        image: flags.image,
        daemonImage: flags.daemonImage,
        guardImage: flags.guardImage,
        command: flags.command !== undefined ? ['sh', '-c', flags.command] : cmd.length ? cmd : undefined,
        tls: flags.tls,
        mtu: flags.mtu,
        guard: flags.guard,
        cpu: flags.cpu,
        memory: flags.memory,
        daemonCpu: flags.daemonCpu,
        daemonMemory: flags.daemonMemory,
        kubeVersion: flags.kubeVersion,
        dockerVersion: flags.dockerVersion,
        nestlingVersion: VERSION,
        activeDeadlineSeconds: flags.activeDeadline,
        ttlSecondsAfterFinished: flags.ttl,
        // defaults shown in --help are only passed on when the user set them, so mode checks see what was asked
        engineSocket: src('engineSocket') ? flags.engineSocket : undefined,
        kubeletDir: src('kubeletDir') ? flags.kubeletDir : undefined,
        policy: flags.policy !== undefined ? readPolicyFile(ctx, flags.policy) : undefined,
        policySource: flags.policy,
        tunResource: flags.tunResource,
        workspace: flags.workspace,
      });
      if (flags.json) ctx.out(JSON.stringify(out.objects, null, 2));
      else ctx.stdout.write(out.yaml);
      for (const n of out.notes) if (n.startsWith('WARNING')) ctx.err(`nestling: ${n}`);
    });
}
