/** `--explain`: the chosen mode, why, and the plan, as text or as JSON-safe data. */
import type { ModeChoice } from './resolve.js';
import { describeProfile } from './resolve.js';
import type { Plan } from './types.js';

/** The plan with each container reduced to what a reader needs (no secrets are in a plan to begin with). */
export function planForDisplay(plan: Plan): Record<string, unknown> {
  return {
    ...plan,
    containers: plan.containers.map((c) => ({
      role: c.role,
      name: c.name,
      image: c.body.Image,
      entrypoint: c.body.Entrypoint,
      cmd: c.body.Cmd,
      user: c.body.User,
      env: c.body.Env,
      hostConfig: c.body.HostConfig,
      files: c.files?.map((f) => `${f.path} (${f.mode.toString(8)})`),
      ready: c.ready,
    })),
  };
}

export function explainText(choice: ModeChoice, plan: Plan): string {
  const lines: string[] = [];
  lines.push(`mode: ${plan.mode}${choice.guard ? ' (with the guard)' : ''}`);
  lines.push(`  ${describeProfile(choice.mode.profile)}`);
  lines.push('why:');
  for (const r of choice.reasons) lines.push(`  - ${r}`);
  if (choice.considered.length > 1) {
    lines.push('considered (most isolated first):');
    for (const d of choice.considered) lines.push(`  - ${d.mode}: ${d.applicable ? 'applicable' : 'not applicable'}: ${d.reasons.join('; ')}`);
  }
  lines.push('plan:');
  for (const n of plan.networks) lines.push(`  network ${n.name}${Object.keys(n.options).length ? ` ${JSON.stringify(n.options)}` : ''}`);
  for (const v of plan.volumes) lines.push(`  volume ${v.name}${v.keep ? ' (kept: cache)' : ''}`);
  if (plan.tls) lines.push(`  tls ${plan.tls.algorithm}, ${plan.tls.validityDays} days, SANs ${plan.tls.sans.join(', ')}`);
  for (const c of plan.containers) lines.push(`  ${c.role} ${c.name}: ${c.body.Image}${c.body.Cmd ? ` ${c.body.Cmd.join(' ')}` : ''}`);
  if (plan.guard) lines.push(`  guard in front of the ${plan.guard.upstream} engine, owner ${plan.guard.owner}`);
  if (plan.preload.length) lines.push(`  preload ${plan.preload.join(', ')}`);
  lines.push('job environment:');
  for (const [k, v] of Object.entries(plan.jobEnv)) lines.push(`  ${k}=${v}`);
  if (plan.relaxed.length) {
    lines.push('relaxed (and why):');
    for (const r of plan.relaxed) lines.push(`  - ${r.what}: ${r.why}`);
  }
  for (const w of plan.warnings) lines.push(`WARNING: ${w}`);
  for (const n of plan.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
