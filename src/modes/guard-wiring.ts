/**
 * Starting the guard for a run (guarded mode, or dind --guard): in this process, on a unix socket in a per-run
 * directory that is bind-mounted into the job, with the run's owner, the per-job network, and the workspace as the
 * only bindable host directory. The run's teardown reaps the owner's objects, so reapOnExit stays off here.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine/client.js';
import type { GuardHandle } from './apply.js';
import type { Plan } from './types.js';

export async function startRunGuard(plan: Plan, upstream: Engine): Promise<GuardHandle> {
  const g = plan.guard;
  if (!g) throw new Error('the plan has no guard');
  const { startGuard } = await import('../guard/server.js');
  const { defaultPolicy } = await import('../guard/policy.js');
  // 0711: the job (any uid) can reach the socket by its path; nobody can list the directory
  mkdirSync(g.socketDir, { recursive: true, mode: 0o711 });
  const ep = upstream.endpoint;
  const policy = { ...defaultPolicy(), allowBind: [...g.allowBind] };
  const handle = await startGuard({
    upstream: ep.url,
    upstreamTls: ep.tls,
    listen: `unix://${join(g.socketDir, 'docker.sock')}`,
    owner: g.owner,
    policy,
    jobNetwork: g.jobNetwork,
    mappings: g.mappings,
    socketMode: 0o666,
  });
  return {
    url: handle.url,
    close: async () => {
      await handle.close();
      rmSync(g.socketDir, { recursive: true, force: true });
    },
  };
}
