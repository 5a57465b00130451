/**
 * The policy file: YAML 1.2 (duplicate keys are errors), `version: 1`, validated by zod strict objects (unknown keys
 * are errors), every error naming the line and column. It can only relax the baseline (more bind dirs, extra caps,
 * runtimes, host port ranges) and set quotas and forced defaults; everything else stays as defaultPolicy().
 *
 *   version: 1
 *   allowBind: [/srv/ci/cache]
 *   allowCaps: [NET_ADMIN]
 *   allowRuntimes: [runsc]
 *   hostPorts: [{ from: 8000, to: 8999 }]
 *   quotas: { memoryBytes: 2147483648, nanoCpus: 2000000000, pidsLimit: 512, jobMemoryBytes: 8589934592 }
 *   defaults: { user: "1000:1000", cgroupParent: ci.slice }
 *   maxBodyBytes: 4194304
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isNode, isScalar, parseDocument, stringify, type Document } from 'yaml';
import { z } from 'zod';
import { configError } from '../util/errors.js';
import { DEFAULT_MAX_BODY_BYTES, defaultPolicy } from './policy.js';
import type { EffectivePolicy } from './types.js';

const absPath = z
  .string()
  .regex(/^\//, 'must be an absolute host path')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ..');
const capName = z.string().regex(/^(?:ALL|(?:CAP_)?[A-Za-z_]+)$/, 'must be a capability name such as NET_ADMIN');
const port = z.int().min(1).max(65535);

export const PolicyFileSchema = z
  .strictObject({
    version: z.literal(1).describe('policy file format version'),
    allowBind: z.array(absPath).optional().describe('host directories bind sources may be under (after symlink resolution)'),
    allowCaps: z.array(capName).optional().describe("capabilities allowed in CapAdd beyond Docker's default set"),
    allowRuntimes: z.array(z.string().min(1).regex(/^[A-Za-z0-9._-]+$/)).optional().describe('runtimes allowed besides runc'),
    hostPorts: z
      .array(z.strictObject({ from: port, to: port }).refine((r) => r.from <= r.to, 'from must not be above to'))
      .optional()
      .describe('host port ranges a job may publish; without it any port from 1024 up'),
    quotas: z
      .strictObject({
        memoryBytes: z.int().positive().optional().describe('per-container memory limit, bytes'),
        nanoCpus: z.int().positive().optional().describe('per-container CPU limit, 1e9 = one CPU'),
        pidsLimit: z.int().positive().optional().describe('per-container pids limit'),
        containersPerJob: z.int().positive().optional().describe('containers one job may have at once (every state counts)'),
        publishedPorts: z.int().positive().max(65535).optional().describe('host ports one container may publish (default 1024)'),
        jobMemoryBytes: z.int().positive().optional().describe('sum of the memory limits of one job\'s containers, bytes (needs memoryBytes)'),
        jobNanoCpus: z.int().positive().optional().describe('sum of the CPU limits of one job\'s containers, 1e9 = one CPU (needs nanoCpus)'),
        jobPidsLimit: z.int().positive().optional().describe('sum of the pids limits of one job\'s containers (needs pidsLimit)'),
      })
      .superRefine((q, ctx) => {
        // a job sum is only meaningful when no container can be unlimited: each needs its per-container quota
        for (const [job, per] of [['jobMemoryBytes', 'memoryBytes'], ['jobNanoCpus', 'nanoCpus'], ['jobPidsLimit', 'pidsLimit']] as const) {
          if (q[job] === undefined) continue;
          if (q[per] === undefined) ctx.addIssue({ code: 'custom', path: [job], message: `needs quotas.${per} (every container must have a limit for the job sum to hold)` });
          else if (q[per] > q[job]) ctx.addIssue({ code: 'custom', path: [job], message: `must not be below quotas.${per}` });
        }
      })
      .optional(),
    defaults: z
      .strictObject({
        cgroupParent: z.string().min(1).optional().describe('forced cgroup parent for every container'),
        user: z.string().min(1).optional().describe('forced user for containers and execs'),
      })
      .optional(),
    maxBodyBytes: z.int().min(1024).max(64 * 1024 * 1024).optional().describe(`largest JSON body, default ${DEFAULT_MAX_BODY_BYTES}`),
  })
  .describe('nestling guard policy file (relaxes the deny-by-default baseline)');

export type PolicyFile = z.infer<typeof PolicyFileSchema>;

/** The JSON Schema committed as schema/policy.schema.json (a test fails when it is stale). */
export function policyJsonSchema(): unknown {
  return z.toJSONSchema(PolicyFileSchema, { target: 'draft-2020-12' });
}

function where(source: string, lc: LineCounter, offset: number | undefined): string {
  if (offset === undefined) return `${source}`;
  const p = lc.linePos(offset);
  return `${source}:${p.line}:${p.col}`;
}

function nodeOffset(doc: Document, path: readonly PropertyKey[]): number | undefined {
  // the deepest node that exists on the path: the bad value, or the object missing a key
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return undefined;
}

/** Parses and validates policy text; `source` names the file in errors. Throws a config error (exit 2). */
export function parsePolicy(text: string, source = 'policy'): EffectivePolicy {
  const lc = new LineCounter();
  const doc = parseDocument(text, { version: '1.2', uniqueKeys: true, lineCounter: lc, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    throw configError('E_POLICY_YAML', `${where(source, lc, first.pos[0])}: ${first.message.split('\n')[0] ?? first.message}`, {
      hint: 'fix the YAML syntax (duplicate keys are errors)',
    });
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const r = PolicyFileSchema.safeParse(raw ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue?.path ?? [];
    const keys = issue?.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    const at = path.length ? path.join('.') : '(top level)';
    let offset = nodeOffset(doc, path);
    if (issue?.code === 'unrecognized_keys') {
      // point at the unknown key itself
      const parent = path.length ? doc.getIn(path as unknown[], true) : doc.contents;
      if (isMap(parent)) {
        const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === issue.keys[0]);
        if (pair && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
      }
    }
    throw configError('E_POLICY_INVALID', `${where(source, lc, offset)}: ${at}: ${issue?.message ?? 'invalid'}${keys}`, {
      hint: 'see docs/policy.md for the policy file format',
      details: { issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    });
  }
  return applyPolicyFile(defaultPolicy(), r.data);
}

/** The baseline relaxed by a validated file. */
export function applyPolicyFile(base: EffectivePolicy, f: PolicyFile): EffectivePolicy {
  const uniq = (a: string[]) => [...new Set(a)];
  return {
    version: 1,
    allowBind: uniq([...base.allowBind, ...(f.allowBind ?? []).map((p) => p.replace(/\/+$/, '') || '/')]),
    allowCaps: uniq([...base.allowCaps, ...(f.allowCaps ?? []).map((c) => c.toUpperCase())]),
    allowRuntimes: uniq([...base.allowRuntimes, ...(f.allowRuntimes ?? [])]),
    hostPorts: [...base.hostPorts, ...(f.hostPorts ?? [])],
    quotas: { ...base.quotas, ...(f.quotas ?? {}) },
    defaults: { ...base.defaults, ...(f.defaults ?? {}) },
    maxBodyBytes: f.maxBodyBytes ?? base.maxBodyBytes,
  };
}

export async function loadPolicyFile(path: string, signal?: AbortSignal): Promise<EffectivePolicy> {
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', signal });
  } catch (e) {
    throw configError('E_POLICY_READ', `cannot read policy file ${path}: ${(e as Error).message}`, { hint: 'check the --policy path', cause: e });
  }
  return parsePolicy(text, path);
}

/** The effective policy as a policy file (for `guard --print-policy`); parsePolicy(printPolicy(p)) equals p. */
export function printPolicy(p: EffectivePolicy): string {
  const strip = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  const out = {
    version: 1,
    allowBind: p.allowBind,
    allowCaps: p.allowCaps,
    allowRuntimes: p.allowRuntimes,
    hostPorts: p.hostPorts,
    quotas: strip(p.quotas),
    defaults: strip(p.defaults),
    maxBodyBytes: p.maxBodyBytes,
  };
  return `# nestling guard effective policy (baseline: deny by default; see docs/policy.md)\n${stringify(out, { version: '1.2' })}`;
}

/** One refusal seen in dry-run: the rule, the field and the value of its message. */
export interface ObservedDenial {
  rule: string;
  field: string;
  value: string;
}

/** Parses `nestling guard: denied by rule <rule>: <field>=<value>` back into its parts. */
export function parseDenialMessage(message: string): ObservedDenial | undefined {
  const m = /^nestling guard: denied by rule ([a-z0-9-]+): ([^=]*)=(.*)$/s.exec(message);
  return m ? { rule: m[1] ?? '', field: m[2] ?? '', value: m[3] ?? '' } : undefined;
}

/**
 * The least-privilege relaxation that would have allowed what dry-run refused: the exact bind sources (host paths
 * as the guard resolved them), capabilities, runtimes and host ports; everything a file cannot relax is returned in
 * `unrelaxable`. `yaml` is a policy file (printPolicy) with the unrelaxable refusals as comments.
 */
export function learnPolicy(observed: readonly ObservedDenial[], base: EffectivePolicy = defaultPolicy()): { policy: EffectivePolicy; yaml: string; unrelaxable: ObservedDenial[] } {
  const binds = new Set(base.allowBind);
  const caps = new Set(base.allowCaps);
  const runtimes = new Set(base.allowRuntimes);
  const ports = [...base.hostPorts];
  const unrelaxable: ObservedDenial[] = [];
  for (const o of observed) {
    if (o.rule === 'bind-outside-allowlist' && o.value.startsWith('/')) binds.add(o.value.replace(/\/+$/, '') || '/');
    else if (o.rule === 'cap-add' && /^[A-Za-z_]+$/.test(o.value)) caps.add(o.value.toUpperCase().replace(/^CAP_/, ''));
    else if (o.rule === 'runtime' && /^[A-Za-z0-9._-]+$/.test(o.value)) runtimes.add(o.value);
    else if (o.rule === 'host-port' && /^\d+(-\d+)?$/.test(o.value)) {
      const [a, b] = o.value.split('-').map(Number);
      const from = a ?? 0;
      const to = b ?? from;
      if (from >= 1 && to <= 65535 && from <= to && !ports.some((r) => r.from <= from && r.to >= to)) ports.push({ from, to });
    } else unrelaxable.push(o);
  }
  // with explicit ranges the default "any port from 1024" no longer applies: keep it when ports were learned
  if (ports.length > base.hostPorts.length && base.hostPorts.length === 0) ports.push({ from: 1024, to: 65535 });
  const policy: EffectivePolicy = { ...base, allowBind: [...binds].sort(), allowCaps: [...caps].sort(), allowRuntimes: [...runtimes].sort(), hostPorts: ports };
  const comments = unrelaxable.map((u) => `#   ${u.rule}: ${u.field}=${u.value}`.replace(/\n/g, ' '));
  const yaml = printPolicy(policy) + (comments.length ? `# refused, and no policy file can allow these:\n${comments.join('\n')}\n` : '');
  return { policy, yaml, unrelaxable };
}
