import { Facts, getFact, setFact, type EngineKind } from '../facts.js';
import { Groups, type Probe } from '../probe.js';

/** Which engine: Docker, rootless Docker, Podman (rootless or not), Docker Desktop. */
export const engineKindProbe: Probe = {
  id: 'engine-kind',
  group: Groups.where,
  title: 'engine kind',
  provides: [Facts.engineKind.name],
  async run(ctx) {
    const eng = await getFact(ctx.facts, Facts.engine);
    const container = await getFact(ctx.facts, Facts.container);
    if (!eng?.reachable) {
      if (container?.runtime === 'podman') return { status: 'unknown', found: 'no engine answers; /run/.containerenv says this container was made by Podman' };
      return { status: 'unknown', found: 'no engine answers (see the daemon probe)' };
    }
    const sec = eng.securityOptions ?? [];
    const rootless = sec.some((s) => /name=rootless/.test(s));
    const podman = (eng.components ?? []).some((c) => /podman/i.test(c));
    let k: EngineKind;
    if (podman) k = { kind: rootless ? 'rootless-podman' : 'podman', reason: `/version lists components ${(eng.components ?? []).join(', ')}` };
    else if (/docker desktop/i.test(eng.operatingSystem ?? '')) k = { kind: 'docker-desktop', reason: `OperatingSystem is "${eng.operatingSystem}"` };
    else if (rootless) k = { kind: 'rootless-docker', reason: 'SecurityOptions include name=rootless' };
    else k = { kind: 'docker', reason: `Docker ${eng.serverVersion ?? '?'} on ${eng.operatingSystem ?? '?'}, SecurityOptions ${sec.join(', ') || 'none'}` };
    setFact(ctx.facts, Facts.engineKind, k);
    const notes: Record<EngineKind['kind'], string> = {
      docker: 'a rootful Docker engine',
      'rootless-docker': 'a rootless Docker engine: no --privileged, bind mounts are owned by the remapped user, no DinD with real privileges',
      podman: 'Podman with the Docker API compatibility socket',
      'rootless-podman': 'rootless Podman: containers run in a user namespace',
      'docker-desktop': 'Docker Desktop: the engine runs in a VM; bind paths are translated by Desktop',
      unknown: '',
    };
    return { status: 'ok', found: `${notes[k.kind]} (${k.reason})`, details: { ...k } };
  },
};
