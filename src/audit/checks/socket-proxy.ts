import type { Outcome } from '../../checks/model.js';
import { containerLabel, type AuditCheck } from '../context.js';

const PROXY_IMAGE = /(tecnativa\/docker-socket-proxy|linuxserver\/socket-proxy|docker-socket-proxy|socket-proxy)/i;

function envMap(env: string[] | null | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}
const on = (v: string | undefined) => v !== undefined && v !== '0' && v !== '' && v.toLowerCase() !== 'false';

/**
 * Docker socket proxies (Tecnativa / linuxserver docker-socket-proxy) configured with CONTAINERS=1 and POST=1: any
 * client of the proxy can create containers, privileged ones included.
 */
export const socketProxyCheck: AuditCheck = {
  id: 'socket-proxy',
  group: 'containers',
  title: 'socket proxy allows container creation',
  async run(ctx) {
    const out: Outcome[] = [];
    for (const c of await ctx.read.containers()) {
      const env = envMap(c.Config?.Env);
      const byImage = PROXY_IMAGE.test(c.Config?.Image ?? '');
      const looksLikeProxy = byImage || (env.has('CONTAINERS') && (env.has('POST') || env.has('EXEC') || env.has('ALLOW_START')));
      if (!looksLikeProxy) continue;
      const post = on(env.get('POST'));
      const containers = on(env.get('CONTAINERS'));
      const subject = c.Name.replace(/^\//, '');
      if (post && containers) {
        out.push({
          status: 'fail',
          severity: 'high',
          subject,
          found: `${containerLabel(c)} is a socket proxy with CONTAINERS=1 and POST=1`,
          why: 'the proxy filters by API section and method only: a client may POST /containers/create with Privileged=true and the host root mounted',
          fix: 'set POST=0, or replace it with a body-inspecting proxy (nestling guard) that refuses privileged containers and host mounts',
          details: { id: c.Id, image: c.Config?.Image, env: { CONTAINERS: env.get('CONTAINERS'), POST: env.get('POST') } },
        });
      } else if (post && on(env.get('EXEC'))) {
        out.push({ status: 'fail', severity: 'medium', subject, found: `${containerLabel(c)} is a socket proxy with EXEC=1 and POST=1`, why: 'clients can exec into every container', fix: 'set EXEC=0', details: { id: c.Id } });
      } else {
        out.push({ status: 'ok', severity: 'info', subject, found: `${containerLabel(c)} is a socket proxy without container creation (CONTAINERS=${env.get('CONTAINERS') ?? 'unset'}, POST=${env.get('POST') ?? 'unset'})` });
      }
    }
    return out;
  },
};
