/**
 * `nestling guard --learn FILE`: watch what a job needed and write a least-privilege policy file. Run the job with
 * `--dry-run --learn FILE`: every request the policy would refuse is logged as would-deny (and forwarded); the
 * learner turns the relaxable refusals into policy entries (the exact bind sources as the guard resolved them on the
 * host, capabilities, runtimes, host ports) and lists the rest (privileged, host namespaces ...) as comments,
 * because no policy file may relax them.
 *
 * The rules stop at the first refusal of a request, so one request can hide a second relaxation behind the first
 * (a bind *and* a capability): `learningDecide` re-decides a refused request with what was learned so far until it
 * passes or hits a refusal no file can relax, and reports every relaxable refusal it met.
 *
 * The file is the effective policy the guard ran with (its --policy and --allow-bind included) plus what was
 * learned, in the policy file format (policy-file.ts printPolicy), so `--policy FILE` alone reproduces the run.
 */
import { writeFileSync } from 'node:fs';
import type { GuardDecisionRecord } from './audit-log.js';
import { learnPolicy, parseDenialMessage, type ObservedDenial } from './policy-file.js';
import { defaultPolicy } from './policy.js';
import type { Decide, DecideContext, Decision, EffectivePolicy, RequestView } from './types.js';

export interface LearnedPolicy {
  policy: EffectivePolicy;
  /** routes the job used (ids), for the record */
  routes: string[];
  /** refusals that no policy may relax: "rule: field=value" */
  unrelaxable: string[];
  requests: number;
}

/** How many relaxations one request may need before the learner gives up on it (each one is a re-decide). */
const MAX_RELAXATIONS_PER_REQUEST = 16;

export class Learner {
  readonly owner: string;
  readonly #base: EffectivePolicy;
  readonly #observed: ObservedDenial[] = [];
  readonly #keys = new Set<string>();
  readonly #routes = new Set<string>();
  #requests = 0;

  constructor(owner: string, base: EffectivePolicy = defaultPolicy()) {
    this.owner = owner;
    this.#base = base;
  }

  /** One audit record: counts it, and learns from its refusal message (deny or would-deny). */
  observe(r: GuardDecisionRecord): void {
    this.#requests++;
    if (r.route) this.#routes.add(r.route);
    if ((r.decision === 'deny' || r.decision === 'would-deny') && r.message) this.observeMessage(r.message);
  }

  /** Learns from one refusal message (`nestling guard: denied by rule <rule>: <field>=<value>`); others are ignored. */
  observeMessage(message: string): ObservedDenial | undefined {
    const o = parseDenialMessage(message);
    if (!o) return undefined;
    const key = `${o.rule}\0${o.field}\0${o.value}`;
    if (!this.#keys.has(key)) {
      this.#keys.add(key);
      this.#observed.push(o);
    }
    return o;
  }

  /** The base policy relaxed by everything learned so far. */
  policy(): EffectivePolicy {
    return learnPolicy(this.#observed, this.#base).policy;
  }

  result(): LearnedPolicy {
    const r = learnPolicy(this.#observed, this.#base);
    return {
      policy: r.policy,
      routes: [...this.#routes].sort(),
      unrelaxable: [...new Set(r.unrelaxable.map((u) => `${u.rule}: ${u.field}=${u.value}`))].sort(),
      requests: this.#requests,
    };
  }

  render(): string {
    const r = learnPolicy(this.#observed, this.#base);
    let out = `# learned by nestling guard --learn for owner ${this.owner} from ${this.#requests} requests\n`;
    out += `# routes used: ${[...this.#routes].sort().join(', ') || '(none)'}\n`;
    out += r.yaml;
    return out;
  }

  write(file: string): void {
    writeFileSync(file, this.render(), { mode: 0o644 });
  }
}

/**
 * A decider for learning: decides with `decide`; when that refuses with a relaxable rule, records it and decides
 * again under the policy learned so far, until the request passes or meets a refusal no policy file can relax. The
 * answer is always the first decision (the guard logs and, in dry-run, forwards it as it would without learning).
 */
export function learningDecide(decide: Decide, learner: Learner): Decide {
  return async (view, ctx) => {
    const first = await decide(view, ctx);
    await relax(decide, view, ctx, learner, first);
    return first;
  };
}

/**
 * Re-decides a refused request under the policy relaxed by each refusal met (recorded in `learner`) until it passes
 * or meets a refusal no policy file can relax. Returns the last decision: a forward when every refusal was relaxable.
 */
export async function relax(decide: Decide, view: RequestView, ctx: DecideContext, learner: Learner, first: Decision): Promise<Decision> {
  let d = first;
  for (let i = 0; i < MAX_RELAXATIONS_PER_REQUEST && d.action === 'deny'; i++) {
    const before = JSON.stringify(learner.policy());
    learner.observeMessage(d.message);
    const relaxed = learner.policy();
    if (JSON.stringify(relaxed) === before) break; // unrelaxable, or nothing new: stop
    d = await decide(view, { ...ctx, policy: relaxed });
  }
  return d;
}
