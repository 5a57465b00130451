import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runChecks, type Check } from './runner.js';
import { worstStatus } from './model.js';

describe('runChecks', () => {
  it('a hanging check times out as unknown with the reason; a throwing one is unknown; others are unaffected', async () => {
    const checks: Check<object>[] = [
      { id: 'hang', group: 'g', title: 'hangs', timeoutMs: 50, run: () => new Promise(() => {}) },
      { id: 'boom', group: 'g', title: 'throws', run: () => Promise.reject(new Error('EACCES: /proc/1/environ')) },
      { id: 'fine', group: 'g', title: 'fine', run: () => Promise.resolve({ status: 'ok', found: 'fine' }) },
    ];
    const { findings } = await runChecks(checks, {}, { timeoutMs: 1000 });
    assert.deepEqual(findings.map((f) => [f.id, f.status]), [['hang', 'unknown'], ['boom', 'unknown'], ['fine', 'ok']]);
    assert.match(findings[0]!.found, /no answer within 50 ms/);
    assert.match(findings[1]!.found, /EACCES: \/proc\/1\/environ/);
    assert.equal(worstStatus(findings), 'unknown');
  });
  it('facts: a waiter gets the value, or undefined when the provider failed', async () => {
    const checks: Check<object>[] = [
      { id: 'p1', group: 'g', title: 'p1', provides: ['a'], run: async (c) => (c.facts.set('a', 42), { status: 'ok', found: 'x' }) },
      { id: 'p2', group: 'g', title: 'p2', provides: ['b'], run: () => Promise.reject(new Error('nope')) },
      { id: 'c', group: 'g', title: 'c', run: async (c) => ({ status: 'ok', found: `${await c.facts.get<number>('a')} ${String(await c.facts.get('b'))}` }) },
    ];
    const { findings } = await runChecks(checks, {}, { timeoutMs: 1000 });
    assert.equal(findings.find((f) => f.id === 'c')?.found, '42 undefined');
  });
  it('the caller aborting ends every check as unknown', async () => {
    const ac = new AbortController();
    const p = runChecks([{ id: 'slow', group: 'g', title: 's', run: (c) => new Promise((_, rej) => c.signal.addEventListener('abort', () => rej(new Error('aborted')))) }], {}, { timeoutMs: 5000, signal: ac.signal });
    ac.abort();
    const { findings } = await p;
    assert.equal(findings[0]!.status, 'unknown');
  });
});
