/**
 * Warm build inside DinD with --cache vs the same warm build on the host engine (through a DooD job, so the same
 * docker CLI and context are used). "Warm": every layer is in the cache (the build ran once before).
 * Reports the build time inside the job (median of N) and the whole run (daemon start included) for DinD.
 *   N=5 node dind-warm-build.js
 */
import { deps, engine, median, report, runJob, type Any } from './dind-common.js';

const N = Number(process.env.N ?? 5);
const KEY = `bench-warm-${process.pid}`;
const TAG = `nestling-bench-warm:${process.pid}`;

// a context with a few layers; the job times the build itself (busybox date has no %N: /proc/uptime, 10 ms steps)
const SCRIPT = `set -e
mkdir -p /tmp/ctx && cd /tmp/ctx
i=0; while [ $i -lt 200 ]; do echo "line $i" >> data.txt; i=$((i+1)); done
printf 'FROM nestling/busybox:local\\nCOPY data.txt /data.txt\\nRUN wc -l /data.txt > /count\\nRUN echo one > /1\\nRUN echo two > /2\\nRUN echo three > /3\\nCMD ["cat", "/count"]\\n' > Dockerfile
s=$(cut -d' ' -f1 /proc/uptime); docker build -q -t ${TAG} . >/dev/null; e=$(cut -d' ' -f1 /proc/uptime)
echo "BUILD_MS=$(awk "BEGIN{print int(($e-$s)*1000)}")"
`;

const buildMs = (stdout: string) => Number(/BUILD_MS=(\d+)/.exec(stdout)?.[1] ?? NaN);

async function main() {
  const e: Any = await engine();
  const d = await deps();
  // host engine: one cold build, then N warm ones
  await runJob(e, { mode: 'dood', cmd: ['sh', '-c', SCRIPT] }, d);
  const host: number[] = [];
  for (let i = 0; i < N; i++) host.push(buildMs((await runJob(e, { mode: 'dood', cmd: ['sh', '-c', SCRIPT] }, d)).stdout));
  await e.call({ method: 'DELETE', path: `/images/${encodeURIComponent(TAG)}`, query: { force: true } }).catch(() => {});
  // DinD with --cache: the first run fills the cache (preload + build), the next N are warm
  const inner: number[] = [];
  const whole: number[] = [];
  const { cacheVolumeName } = await import(`${process.cwd()}/dist/src/modes/daemon-plan.js`);
  try {
    await runJob(e, { mode: 'dind', cache: KEY, preload: ['nestling/busybox:local'], cmd: ['sh', '-c', SCRIPT] }, d);
    for (let i = 0; i < N; i++) {
      const r = await runJob(e, { mode: 'dind', cache: KEY, cmd: ['sh', '-c', SCRIPT] }, d);
      inner.push(buildMs(r.stdout));
      whole.push(r.ms);
      process.stderr.write(`run ${i + 1}/${N}: host build ${host[i]} ms, dind build ${inner.at(-1)} ms (whole run ${r.ms} ms)\n`);
    }
  } finally {
    // the benchmark's cache is not worth keeping
    await e.call({ method: 'DELETE', path: `/volumes/${cacheVolumeName('dind', KEY)}`, query: { force: true } }).catch(() => {});
  }
  const ratio = Math.round((median(inner) / median(host)) * 100) / 100;
  report('dind-warm-build', {
    runs: N,
    hostWarmBuild: { medianMs: median(host), samplesMs: host },
    dindWarmBuildWithCache: { medianMs: median(inner), samplesMs: inner },
    dindWholeRunWithCache: { medianMs: median(whole), samplesMs: whole, note: 'daemon start, job, teardown included' },
    ratio,
    target: 1.3,
    met: ratio <= 1.3,
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`dind-warm-build: ${String(e)}\n`);
  process.exitCode = 1;
});
