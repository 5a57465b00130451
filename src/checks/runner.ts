/**
 * Runs checks concurrently, each under its own timeout and AbortSignal. A check that throws or does not answer in
 * time becomes an `unknown` finding with the reason; the runner itself never throws for a check's sake.
 *
 * Checks share facts through a FactStore: a check that `provides` a fact sets it; others `await facts.get(key)`.
 * When the provider finishes (or fails, or times out) without setting it, waiters get `undefined`.
 */
import { setMaxListeners } from 'node:events';
import { channels } from '../util/log.js';
import type { Finding, Outcome } from './model.js';

export interface CheckContext {
  signal: AbortSignal;
  facts: FactStore;
}

export interface Check<C> {
  id: string;
  group: string;
  title: string;
  /** Per-check timeout; the runner's default otherwise. */
  timeoutMs?: number;
  /** Fact keys this check sets. */
  provides?: readonly string[];
  run(ctx: C & CheckContext): Promise<Outcome | Outcome[]>;
}

export class FactStore {
  readonly #values = new Map<string, unknown>();
  readonly #waiters = new Map<string, { promise: Promise<unknown>; resolve: (v: unknown) => void }>();
  readonly #closed = new Set<string>();

  #slot(key: string) {
    let w = this.#waiters.get(key);
    if (!w) {
      let resolve!: (v: unknown) => void;
      const promise = new Promise<unknown>((r) => (resolve = r));
      w = { promise, resolve };
      this.#waiters.set(key, w);
    }
    return w;
  }

  set(key: string, value: unknown): void {
    if (this.#closed.has(key)) return;
    this.#values.set(key, value);
    this.#closed.add(key);
    this.#slot(key).resolve(value);
  }

  /** Marks a fact as final (undefined when never set). */
  close(key: string): void {
    if (this.#closed.has(key)) return;
    this.#closed.add(key);
    this.#slot(key).resolve(undefined);
  }

  get<T>(key: string): Promise<T | undefined> {
    if (this.#closed.has(key)) return Promise.resolve(this.#values.get(key) as T | undefined);
    return this.#slot(key).promise as Promise<T | undefined>;
  }

  /** Every fact that was set, for --json and for the recommendation. */
  snapshot(): Record<string, unknown> {
    return Object.fromEntries(this.#values);
  }
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  now?: () => number;
  /** Channel to publish each finding on (doctor: nestling:doctor:finding). */
  publish?: boolean | undefined;
}

export async function runChecks<C extends object>(
  checks: readonly Check<C>[],
  ctx: C,
  opts: RunOptions,
): Promise<{ findings: Finding[]; facts: FactStore }> {
  const facts = new FactStore();
  const now = opts.now ?? Date.now;
  // One link to the caller's signal; every check listens on this one.
  const root = new AbortController();
  setMaxListeners(checks.length + 10, root.signal);
  const outer = opts.signal;
  const onAbort = () => root.abort(outer?.reason);
  if (outer?.aborted) root.abort(outer.reason);
  else outer?.addEventListener('abort', onAbort, { once: true });
  let all: Finding[][];
  try {
    all = await Promise.all(checks.map((c) => runOne(c, ctx, facts, { ...opts, signal: root.signal }, now)));
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
  const findings = all.flat();
  return { findings, facts };
}

async function runOne<C extends object>(check: Check<C>, ctx: C, facts: FactStore, opts: RunOptions, now: () => number): Promise<Finding[]> {
  const ac = new AbortController();
  const outer = opts.signal;
  const onAbort = () => ac.abort(outer?.reason);
  if (outer?.aborted) ac.abort(outer.reason);
  else outer?.addEventListener('abort', onAbort, { once: true });
  const timeoutMs = check.timeoutMs ?? opts.timeoutMs;
  const t0 = now();
  let timer: NodeJS.Timeout | undefined;
  const base = { id: check.id, group: check.group, title: check.title };
  let outcomes: Outcome[];
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckTimeout(timeoutMs)), timeoutMs);
    });
    const run = check.run({ ...ctx, signal: ac.signal, facts });
    run.catch(() => {}); // a late rejection after the timeout must not become unhandled
    const r = await Promise.race([run, timeout]);
    outcomes = Array.isArray(r) ? r : [r];
  } catch (e) {
    const reason =
      e instanceof CheckTimeout
        ? `no answer within ${timeoutMs} ms`
        : outer?.aborted
          ? 'interrupted before it answered'
          : `the probe failed: ${e instanceof Error ? e.message : String(e)}`;
    ac.abort(e);
    outcomes = [{ status: 'unknown', found: reason, details: { reason } }];
  } finally {
    if (timer) clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
    for (const k of check.provides ?? []) facts.close(k);
  }
  const ms = now() - t0;
  const findings = outcomes.map((o): Finding => ({ ...base, ...stripUndefined(o), ms }));
  if (opts.publish) for (const f of findings) channels.doctorFinding.publish(f);
  return findings;
}

class CheckTimeout extends Error {
  constructor(ms: number) {
    super(`timeout after ${ms} ms`);
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
