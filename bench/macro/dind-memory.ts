/**
 * Idle memory of each inner daemon (dind, rootless): the daemon container's memory after it answered /_ping and
 * sat idle for IDLE_S seconds, from the engine's stats (usage minus page cache, as `docker stats` shows it).
 *   node dind-memory.js
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { deps, engine, lib, report, type Any } from './dind-common.js';

const IDLE_S = Number(process.env.IDLE_S ?? 10);

interface Stats {
  memory_stats: { usage?: number; stats?: Record<string, number> };
}

function workingSet(s: Stats): number {
  const st = s.memory_stats.stats ?? {};
  const cache = st.total_inactive_file ?? st.inactive_file ?? st.cache ?? 0;
  return Math.max(0, (s.memory_stats.usage ?? 0) - cache);
}

async function measure(e: Any, mode: 'dind' | 'rootless'): Promise<Record<string, unknown>> {
  const { run, apply } = await lib();
  const d = await deps();
  const { plan } = await run.prepareRun(e, { mode, images: 'local', preload: [], env: [], cmd: ['true'], tty: false, interactive: false, runId: run.newRunId() }, d);
  plan.containers = plan.containers.filter((c: { role: string }) => c.role !== 'job');
  let dep: Any;
  try {
    dep = await apply.deploy(e, plan, { ...d, signal: undefined });
    await sleep(IDLE_S * 1000);
    const id = dep.ids.get('daemon');
    const s = (await e.json({ method: 'GET', path: `/containers/${id}/stats`, query: { stream: false } })) as Stats;
    return { mode, image: plan.containers[0].body.Image, idleSeconds: IDLE_S, workingSetMiB: Math.round((workingSet(s) / 1048576) * 10) / 10, usageMiB: Math.round(((s.memory_stats.usage ?? 0) / 1048576) * 10) / 10 };
  } finally {
    await apply.teardown(e, dep ?? { plan });
  }
}

async function main() {
  const e = await engine();
  const results = [];
  for (const mode of ['dind', 'rootless'] as const) {
    try {
      results.push(await measure(e, mode));
    } catch (err) {
      results.push({ mode, error: String(err) });
    }
  }
  report('dind-memory', { daemons: results });
}

main().catch((e: unknown) => {
  process.stderr.write(`dind-memory: ${String(e)}\n`);
  process.exitCode = 1;
});
