import { findNestlingError } from '../../util/errors.js';
import { Facts, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** Endpoint resolution, with every candidate and why it did or did not apply. */
export const endpointProbe: Probe = {
  id: 'endpoint',
  group: Groups.access,
  title: 'engine endpoint',
  provides: [Facts.endpoint.name],
  async run(ctx) {
    try {
      const r = ctx.resolve();
      setFact(ctx.facts, Facts.endpoint, r.endpoint);
      const chain = r.candidates.map((c) => `${c.source}: ${c.applied ? 'used' : 'skipped'} (${c.reason})`).join('; ');
      return {
        status: 'ok',
        found: `${r.endpoint.url} from ${r.endpoint.source}. ${chain}`,
        details: { endpoint: r.endpoint.url, source: r.endpoint.source, tls: r.endpoint.tls !== undefined, candidates: r.candidates },
      };
    } catch (e) {
      const ne = findNestlingError(e);
      return {
        status: 'fail',
        found: `the endpoint cannot be resolved: ${ne?.message ?? String(e)}`,
        why: 'every Docker client (and nestling) resolves the endpoint the same way: nothing can reach the engine',
        fix: ne?.hint ?? 'fix DOCKER_HOST / DOCKER_CONTEXT',
        details: { code: ne?.code },
      };
    }
  },
};
