/**
 * Golden decisions: every test/fixtures/guard/cases/<case>.in.json (a request + a fake world) must produce exactly
 * <case>.expected.json. UPDATE_GOLDEN=1 rewrites the expected files (review the diff!).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { decide } from '../decide.js';
import { fakeContext, makeView, type FakeWorld } from './testing.js';

const dir = new URL('../../../../test/fixtures/guard/cases/', import.meta.url);

interface CaseIn {
  description: string;
  method: string;
  target: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  world?: FakeWorld;
}

const files = readdirSync(dir).filter((f) => f.endsWith('.in.json')).sort();

test('there are golden cases', () => {
  assert.ok(files.length >= 40, `only ${files.length} cases`);
});

for (const f of files) {
  const name = f.replace(/\.in\.json$/, '');
  test(`golden: ${name}`, async () => {
    const c = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as CaseIn;
    const view = makeView(c.method, c.target, c.rawBody ?? c.body, c.headers ?? {});
    const d = await decide(view, fakeContext(c.world ?? {}));
    const got =
      d.action === 'deny'
        ? { action: d.action, status: d.status, rule: d.rule, message: d.message }
        : {
            action: d.action,
            route: d.route.id,
            target: d.rewrite?.target,
            ...(d.rewrite?.body
              ? { body: d.rewrite.body.length ? (JSON.parse(d.rewrite.body.toString('utf8')) as unknown) : '(dropped: forwarded empty)' }
              : {}),
            ...(d.responseFilter ? { responseFilter: d.responseFilter } : {}),
            ...(d.tunnel ? { tunnel: d.tunnel } : {}),
          };
    const expFile = new URL(`${name}.expected.json`, dir);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(expFile)) {
      if (process.env.UPDATE_GOLDEN !== '1') assert.fail(`missing ${name}.expected.json (run with UPDATE_GOLDEN=1)`);
      writeFileSync(expFile, JSON.stringify(got, null, 2) + '\n');
      return;
    }
    assert.deepEqual(got, JSON.parse(readFileSync(expFile, 'utf8')));
  });
}
