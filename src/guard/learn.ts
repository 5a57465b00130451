/**
 * `nestling guard --learn FILE`: watch what a job needed and write a least-privilege policy file. Run the job with
 * `--dry-run --learn FILE`: every request the baseline would refuse is logged as would-deny (and forwarded); the
 * learner turns the relaxable refusals into policy entries (bind directories, capabilities, runtimes) and lists the
 * rest (privileged, host namespaces ...) as comments, because no policy file may relax them.
 *
 * The output uses the EffectivePolicy key names (version 1); entries are sorted so that the file is stable.
 */
import { writeFileSync } from 'node:fs';
import type { GuardDecisionRecord } from './audit-log.js';

export interface LearnedPolicy {
  allowBind: string[];
  allowCaps: string[];
  allowRuntimes: string[];
  /** routes the job used (ids), for the record */
  routes: string[];
  /** refusals that no policy may relax: "rule: field=value" */
  unrelaxable: string[];
  requests: number;
}

const DENIAL = /denied by rule ([a-z0-9-]+): ([^=]+)=(.*)$/;

export class Learner {
  readonly owner: string;
  readonly #binds = new Set<string>();
  readonly #caps = new Set<string>();
  readonly #runtimes = new Set<string>();
  readonly #routes = new Set<string>();
  readonly #unrelaxable = new Set<string>();
  #requests = 0;

  constructor(owner: string) {
    this.owner = owner;
  }

  observe(r: GuardDecisionRecord): void {
    this.#requests++;
    if (r.route) this.#routes.add(r.route);
    if ((r.decision !== 'deny' && r.decision !== 'would-deny') || !r.message) return;
    const m = DENIAL.exec(r.message);
    if (!m) return;
    const [, rule, field, rawValue] = m as unknown as [string, string, string, string];
    const values = parseValues(rawValue);
    if (/bind|mount/i.test(rule) || /Binds|Mounts|Source|device/i.test(field)) {
      for (const v of values) {
        const src = v.split(':')[0] ?? v;
        if (src.startsWith('/')) this.#binds.add(src.replace(/\/+$/, '') || '/');
      }
    } else if (/cap/i.test(rule) || /CapAdd/i.test(field)) {
      for (const v of values) this.#caps.add(v.toUpperCase().replace(/^CAP_/, ''));
    } else if (/runtime/i.test(rule) || /Runtime/.test(field)) {
      for (const v of values) this.#runtimes.add(v);
    } else this.#unrelaxable.add(`${rule}: ${field}=${rawValue}`);
  }

  result(): LearnedPolicy {
    const s = (x: Set<string>) => [...x].sort();
    return {
      allowBind: s(this.#binds),
      allowCaps: s(this.#caps),
      allowRuntimes: s(this.#runtimes),
      routes: s(this.#routes),
      unrelaxable: s(this.#unrelaxable),
      requests: this.#requests,
    };
  }

  render(): string {
    const r = this.result();
    const list = (k: string, v: string[]) => (v.length ? `${k}:\n${v.map((x) => `  - ${JSON.stringify(x)}`).join('\n')}\n` : `${k}: []\n`);
    let out = `# learned by nestling guard --learn for owner ${this.owner} from ${r.requests} requests\n`;
    out += `# routes used: ${r.routes.join(', ') || '(none)'}\n`;
    out += 'version: 1\n';
    out += list('allowBind', r.allowBind);
    out += list('allowCaps', r.allowCaps);
    out += list('allowRuntimes', r.allowRuntimes);
    if (r.unrelaxable.length) {
      out += '# refused, and no policy file can allow these:\n';
      for (const u of r.unrelaxable) out += `#   ${u}\n`;
    }
    return out;
  }

  write(file: string): void {
    writeFileSync(file, this.render(), { mode: 0o644 });
  }
}

function parseValues(raw: string): string[] {
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v)) return v.map(String);
    if (typeof v === 'string') return [v];
    return [String(v)];
  } catch {
    return [raw];
  }
}
