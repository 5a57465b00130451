/**
 * From `--mode` to a Mode: probes what the mode needs to know (only what it needs), then detect(); `auto` ranks
 * the modes by isolation (sysbox > rootless > dind with the guard > guarded) and takes the first applicable one.
 * `chooseMode(facts)` is pure, so `nestling doctor` shows the same recommendation from the same facts.
 */
import type { Engine } from '../engine/client.js';
import { environmentError } from '../util/errors.js';
import { imageExists } from './engine-ops.js';
import { probePrivilege, probeUserns, type HostFacts, type PrivilegeFacts, type UsernsFacts } from './facts.js';
import { defaultImages } from './job-spec.js';
import { runLabels } from './reaper.js';
import { modeByName } from './registry.js';
import type { ConcreteModeName, Detection, Mode, ModeContext, ModeProfile, RunOptions } from './types.js';

/** auto's order: most isolated first. */
export const AUTO_ORDER: readonly ConcreteModeName[] = ['sysbox', 'rootless', 'dind', 'guarded'];

export interface ModeChoice {
  mode: Mode;
  /** why this mode, first line first */
  reasons: string[];
  /** every mode considered, in order, with its detection */
  considered: Detection[];
  /** auto chose dind: the guard goes in front of the inner daemon */
  guard: boolean;
}

export interface Recommendation {
  mode: ConcreteModeName | undefined;
  guard: boolean;
  reasons: string[];
  considered: (Detection & { profile: ModeProfile })[];
}

/** Explains a mode in the terms that matter: security risk, isolation, relationship, setup cost. */
export function describeProfile(p: ModeProfile): string {
  const rel = p.relationship === 'child' ? 'children of an inner daemon (invisible to the host engine)' : 'siblings on the host engine';
  return `security risk: ${p.securityRisk}; isolation: ${p.isolation}; relationship: the job's containers are ${rel}; setup cost: ${p.setupCost}`;
}

/**
 * The most isolated applicable mode, from facts alone (probes already in `facts`). Pure: no engine access.
 * `available` says which daemon images are present (a mode whose image is missing is not applicable).
 */
export function chooseMode(facts: HostFacts, available: Partial<Record<ConcreteModeName, boolean>> = {}): Recommendation {
  const considered: Recommendation['considered'] = [];
  for (const name of AUTO_ORDER) {
    const mode = modeByName(name);
    const d = mode.detect(facts);
    if (d.applicable && available[name] === false) {
      considered.push({ ...d, applicable: false, reasons: [...d.reasons, 'its image is not on the engine'], profile: mode.profile });
    } else considered.push({ ...d, profile: mode.profile });
  }
  const pick = considered.find((c) => c.applicable);
  if (!pick) return { mode: undefined, guard: false, reasons: ['no mode is applicable on this host'], considered };
  const guard = pick.mode === 'dind';
  const skipped = considered.slice(0, considered.indexOf(pick)).map((c) => `${c.mode} skipped: ${c.reasons.join('; ')}`);
  const reasons = [
    `${pick.mode}${guard ? ' with the guard' : ''}: the most isolated mode this host supports`,
    ...pick.reasons,
    ...skipped,
  ];
  if (guard) reasons.push('the guard sits in front of the inner daemon: without it a job can `docker run --privileged -v /:/host` through a privileged inner daemon and own the host');
  return { mode: pick.mode, guard, reasons, considered };
}

/** Fills in the probes a mode needs (privilege for dind, user namespaces for rootless). */
async function probeFor(engine: Engine, name: ConcreteModeName, facts: HostFacts, opts: RunOptions, ctx: ModeContext, signal?: AbortSignal): Promise<boolean> {
  const imgs = defaultImages(opts.images, ctx.dockerVersion, opts.imageRefs);
  const labels = runLabels(opts.runId ?? 'probe', 'probe', ctx.pidLabel);
  if (name === 'dind') {
    const image = opts.daemonImage ?? imgs.dind;
    if (!(await imageExists(engine, image, signal))) return false;
    facts.privilege ??= (ctx.probeCache?.get(facts, 'privilege') as PrivilegeFacts | undefined) ?? (await probePrivilege(engine, facts, { image, labels, signal }));
    ctx.probeCache?.set(facts, 'privilege', facts.privilege);
  }
  if (name === 'rootless') {
    const image = opts.daemonImage ?? imgs.rootless;
    if (!(await imageExists(engine, image, signal))) return false;
    facts.userns ??= (ctx.probeCache?.get(facts, 'userns') as UsernsFacts | undefined) ?? (await probeUserns(engine, { image, labels, signal }));
    ctx.probeCache?.set(facts, 'userns', facts.userns);
  }
  return true;
}

export async function resolveMode(engine: Engine, opts: RunOptions, ctx: ModeContext, signal?: AbortSignal): Promise<ModeChoice> {
  if (opts.mode !== 'auto') {
    const mode = modeByName(opts.mode);
    await probeFor(engine, opts.mode, ctx.facts, opts, ctx, signal);
    const d = mode.detect(ctx.facts);
    if (!d.applicable) {
      throw environmentError(d.code ?? 'E_MODE_NOT_APPLICABLE', `mode ${opts.mode} is not applicable on this host: ${d.reasons.join('; ')}`, {
        hint: d.needs?.length ? `the host needs: ${d.needs.join('; ')}` : 'run `nestling doctor`, or try --mode auto',
        details: { detection: d },
      });
    }
    return { mode, reasons: d.reasons, considered: [d], guard: opts.guard === true };
  }
  const available: Partial<Record<ConcreteModeName, boolean>> = {};
  for (const name of AUTO_ORDER) {
    available[name] = await probeFor(engine, name, ctx.facts, opts, ctx, signal);
    const rec = chooseMode(ctx.facts, available);
    // stop probing as soon as the best remaining candidate is applicable
    if (rec.mode === name) return { mode: modeByName(name), reasons: rec.reasons, considered: rec.considered, guard: opts.guard ?? rec.guard };
  }
  const rec = chooseMode(ctx.facts, available);
  if (!rec.mode) {
    throw environmentError('E_MODE_NONE', 'no mode is applicable on this host', {
      hint: 'run `nestling doctor` for what each mode needs',
      details: { considered: rec.considered },
    });
  }
  return { mode: modeByName(rec.mode), reasons: rec.reasons, considered: rec.considered, guard: opts.guard ?? rec.guard };
}
