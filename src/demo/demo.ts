/**
 * `nestling demo`: the script every demo job runs, and how a mode's run is summarised. The CLI command
 * (cli/commands/demo.ts) makes sure an engine is reachable, builds the local images, and runs this job through
 * `nestling run --mode M` for every mode this host supports.
 */
import { LocalImages } from '../images/local.js';

export const DEMO_MODES = ['dood', 'guarded', 'dind', 'rootless', 'sysbox'] as const;
export type DemoMode = (typeof DEMO_MODES)[number];

/** What the job runs: docker version, a build from a local base image, and a run of what it built. */
export function demoScript(tag: string): string {
  return `set -e
echo '$ docker version'
docker version --format 'client {{.Client.Version}}, server {{.Server.Version}} (API {{.Server.APIVersion}})'
mkdir -p /tmp/ctx && cd /tmp/ctx
printf 'FROM ${LocalImages.busybox}\\nRUN echo "hello from an image built inside the job" > /msg\\nCMD ["cat", "/msg"]\\n' > Dockerfile
echo '$ docker build -t ${tag} .'
docker build -q -t ${tag} . >/dev/null && echo "built ${tag}"
echo '$ docker run --rm ${tag}'
docker run --rm ${tag}
docker rmi -f ${tag} >/dev/null
`;
}

/** The `nestling run` arguments for one mode's demo job (local images; the base image preloaded into inner daemons). */
export function demoRunArgs(mode: DemoMode, tag: string): string[] {
  const inner = mode === 'dind' || mode === 'rootless' || mode === 'sysbox';
  return ['run', '--mode', mode, '--images', 'local', ...(inner ? ['--preload', LocalImages.busybox] : []), '--', 'sh', '-c', demoScript(tag)];
}

export interface DemoModeResult {
  mode: DemoMode;
  status: 'ok' | 'failed' | 'not-applicable';
  exitCode: number;
  ms: number;
  /** the job's last lines, or why the mode does not apply here */
  detail: string;
}

/** Exit code 3 from `nestling run` means the mode does not apply on this host (e.g. no Sysbox runtime). */
export function classifyRun(mode: DemoMode, exitCode: number, ms: number, stdout: string, stderr: string): DemoModeResult {
  const lastLine = (s: string) => s.trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
  if (exitCode === 0) return { mode, status: 'ok', exitCode, ms, detail: lastLine(stdout) };
  if (exitCode === 3) {
    const why = stderr.split('\n').find((l) => l.startsWith('nestling: ')) ?? lastLine(stderr);
    return { mode, status: 'not-applicable', exitCode, ms, detail: why.replace(/^nestling: /, '') };
  }
  // The teardown line comes last on a failure: show what went wrong before it.
  const lines = stderr.split('\n').filter((l) => l.trim() && !l.startsWith('nestling: removed '));
  return { mode, status: 'failed', exitCode, ms, detail: lines.slice(-3).join(' | ') || lastLine(stdout) };
}
