import { exists } from '../../host/fs.js';
import { Facts, getFact, setFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** The Sysbox runtime: registered with the engine (docker info Runtimes), or installed here. */
export const sysboxProbe: Probe = {
  id: 'sysbox',
  group: Groups.daemon,
  title: 'Sysbox runtime',
  provides: [Facts.sysbox.name],
  async run(ctx) {
    const eng = await getFact(ctx.facts, Facts.engine);
    const local = (await exists(ctx.host, '/usr/bin/sysbox-runc')) || (await exists(ctx.host, '/usr/local/bin/sysbox-runc'));
    if (!eng?.reachable || !eng.runtimes) {
      setFact(ctx.facts, Facts.sysbox, false);
      return { status: 'unknown', found: `the engine's runtimes are unknown (no engine answer)${local ? '; sysbox-runc is installed here' : ''}` };
    }
    const has = eng.runtimes.includes('sysbox-runc');
    setFact(ctx.facts, Facts.sysbox, has);
    if (has) return { status: 'ok', found: `the engine offers sysbox-runc (runtimes: ${eng.runtimes.join(', ')})` };
    return {
      status: 'ok',
      found: `the engine has no sysbox-runc runtime (runtimes: ${eng.runtimes.join(', ')})${local ? '; sysbox-runc is installed here but not registered with the engine' : ''}`,
      why: 'Sysbox runs system containers (a full dockerd inside) without --privileged',
      fix: 'install Sysbox on the engine host (sysbox-ce package) and restart dockerd, if you want --mode sysbox',
    };
  },
};
