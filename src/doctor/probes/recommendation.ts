import { Engine } from '../../engine/client.js';
import { findNestlingError } from '../../util/errors.js';
import { Facts, getFact } from '../facts.js';
import { Groups, type Probe } from '../probe.js';
import type { DoctorContext } from '../context.js';
import type { Outcome } from '../../checks/model.js';

export interface RecommendationDetails {
  mode: string | undefined;
  guard: boolean;
  reasons: string[];
  /** 'chooseMode' when src/modes decided (the same code `run --mode auto` runs), 'doctor' for the fallback */
  source: 'chooseMode' | 'doctor';
  considered?: { mode: string; applicable: boolean; reasons: string[] }[] | undefined;
}

const TRADE_OFFS: Record<string, string> = {
  sysbox: 'security: no --privileged, the inner daemon runs in a user namespace; isolation: VM-like; relationship: child; speed: inner daemon start, cold image cache unless --cache',
  rootless: 'security: no added capability (seccomp, systempaths relaxed); isolation: user namespace; relationship: child; speed: slower start and fuse-overlayfs/vfs storage, cold cache unless --cache',
  dind: 'security: a privileged(-equivalent) inner daemon, the guard in front blocks escalation through it; isolation: own daemon; relationship: child; speed: ~1-2 s start, cold cache unless --cache',
  guarded: "security: the guard refuses privileged, host mounts and foreign objects; isolation: shared host engine; relationship: sibling; speed: instant, shares the host's image cache",
  dood: "security: the job is root on the host; isolation: none; relationship: sibling; speed: instant, shares the host's image cache",
};

/** The doctor's own reasoning, used when src/modes cannot decide (no engine facts, or the modes are not registered). */
async function fallback(ctx: DoctorContext, why: string): Promise<RecommendationDetails> {
  const eng = await getFact(ctx.facts, Facts.engine);
  const ep = await getFact(ctx.facts, Facts.endpoint);
  const userns = await getFact(ctx.facts, Facts.userns);
  const devices = await getFact(ctx.facts, Facts.devices);
  const caps = await getFact(ctx.facts, Facts.capabilities);
  const sysbox = await getFact(ctx.facts, Facts.sysbox);
  const considered: RecommendationDetails['considered'] = [];
  const add = (mode: string, applicable: boolean, reasons: string[]) => considered.push({ mode, applicable, reasons });
  add('sysbox', sysbox === true, [sysbox ? 'the engine offers sysbox-runc' : 'the engine has no sysbox-runc runtime']);
  const usernsOk = userns?.maxUserNamespaces.ok ? userns.maxUserNamespaces.value > 0 : false;
  const cloneOk = !(userns?.unprivilegedUsernsClone.ok && userns.unprivilegedUsernsClone.value === 0);
  const aaOk = !(userns?.apparmorRestrictUnprivilegedUserns.ok && userns.apparmorRestrictUnprivilegedUserns.value === 1);
  const tunOk = devices?.tun.present === true;
  add('rootless', Boolean(eng?.reachable) && usernsOk && cloneOk && aaOk && tunOk, [
    usernsOk && cloneOk && aaOk ? 'user namespaces can be created' : 'user namespaces are restricted',
    tunOk ? '/dev/net/tun exists' : '/dev/net/tun is missing',
  ]);
  const sysAdmin = caps?.bounding.includes('SYS_ADMIN') === true;
  add('dind', Boolean(eng?.reachable) && sysAdmin, [
    sysAdmin ? `CAP_SYS_ADMIN is in the bounding set${caps && caps.missingFromBounding.length ? ` (--privileged impossible: explicit equivalent without ${caps.missingFromBounding.join(', ')})` : ''}` : 'CAP_SYS_ADMIN is outside the bounding set',
  ]);
  add('guarded', Boolean(eng?.reachable) && ep?.kind === 'unix', [ep?.kind === 'unix' ? `the engine socket ${ep.socketPath} can be put behind the guard` : 'no local engine socket']);
  const pick = considered.find((c) => c.applicable);
  return {
    mode: pick?.mode,
    guard: pick?.mode === 'dind',
    reasons: [pick ? `${pick.mode}: the most isolated mode the host facts allow` : 'no mode is applicable', ...(pick?.reasons ?? []), `(doctor's own reasoning: ${why})`],
    source: 'doctor',
    considered,
  };
}

async function fromModes(ctx: DoctorContext): Promise<RecommendationDetails> {
  const ep = await getFact(ctx.facts, Facts.endpoint);
  if (!ep) throw new Error('no endpoint');
  const { gatherFacts, probePrivilege, probeUserns } = await import('../../modes/facts.js');
  const { chooseMode } = await import('../../modes/resolve.js');
  const { defaultImages } = await import('../../modes/job-spec.js');
  const { imageExists } = await import('../../modes/engine-ops.js');
  const { runLabels } = await import('../../modes/reaper.js');
  const engine = new Engine(ep, { signal: ctx.signal });
  const facts = await gatherFacts(engine, ctx.signal);
  const images = defaultImages(ctx.images, ctx.dockerVersion);
  const labels = runLabels('doctor', 'probe', 'none');
  const available: Partial<Record<'sysbox' | 'rootless' | 'dind' | 'guarded', boolean>> = {};
  for (const [name, image] of [['dind', images.dind], ['rootless', images.rootless]] as const) {
    available[name] = await imageExists(engine, image, ctx.signal);
    if (!available[name] || !ctx.probeContainers) continue;
    if (name === 'dind') facts.privilege = await probePrivilege(engine, facts, { image, labels, signal: ctx.signal });
    else facts.userns = await probeUserns(engine, { image, labels, signal: ctx.signal });
  }
  const rec = chooseMode(facts, available);
  return {
    mode: rec.mode,
    guard: rec.guard,
    reasons: rec.reasons,
    source: 'chooseMode',
    considered: rec.considered.map((c) => ({ mode: c.mode, applicable: c.applicable, reasons: c.reasons })),
  };
}

/** The mode this host should use, and why: the choice `nestling run --mode auto` makes. */
export const recommendationProbe: Probe = {
  id: 'recommendation',
  group: Groups.recommendation,
  title: 'recommended mode',
  timeoutMs: 60_000,
  async run(ctx): Promise<Outcome> {
    const eng = await getFact(ctx.facts, Facts.engine);
    // wait for the facts the fallback reads, so both paths see the same host
    await Promise.all([getFact(ctx.facts, Facts.userns), getFact(ctx.facts, Facts.devices), getFact(ctx.facts, Facts.sysbox), getFact(ctx.facts, Facts.capabilities)]);
    if (!eng?.reachable) {
      return {
        status: 'fail',
        found: `no mode can run: no engine answers (${eng?.reason ?? 'see the daemon probe'})`,
        why: 'every mode needs an outer engine to start the job (and the inner daemon) on',
        fix: 'make an engine reachable: mount its socket, set DOCKER_HOST, or start dockerd',
      };
    }
    let r: RecommendationDetails;
    try {
      r = await fromModes(ctx);
    } catch (e) {
      r = await fallback(ctx, `src/modes could not decide: ${findNestlingError(e)?.message ?? (e as Error).message}`);
    }
    if (!r.mode) {
      return {
        status: 'fail',
        found: `no mode is applicable: ${r.considered?.map((c) => `${c.mode}: ${c.reasons.join('; ')}`).join(' | ') ?? r.reasons.join('; ')}`,
        fix: 'see the failing probes above for what the host needs',
        details: { ...r },
      };
    }
    const name = `${r.mode}${r.guard ? ' with the guard' : ''}`;
    return {
      status: 'ok',
      found: `nestling run --mode auto would use ${name}. ${TRADE_OFFS[r.mode] ?? ''}. ${r.reasons.join('; ')}`,
      details: { ...r },
    };
  },
};
