import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { RULES } from './catalog.js';
import { ROUTES } from '../routes/index.js';
import { ROUTE_POLICY } from '../decide.js';

const root = new URL('../../../../', import.meta.url);

function sources(dir: URL): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...sources(new URL(`${e.name}/`, dir)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(readFileSync(new URL(e.name, dir), 'utf8'));
  }
  return out;
}

test('every rule id the decider uses is in the catalog', () => {
  const guard = new URL('src/guard/', root);
  const files = [
    ...['match.ts', 'decide.ts', 'ownership.ts', 'policy-file.ts'].map((f) => readFileSync(new URL(f, guard), 'utf8')),
    ...sources(new URL('rules/', guard)),
    ...sources(new URL('grpc/', guard)),
  ];
  const used = new Set<string>();
  for (const text of files) {
    for (const m of text.matchAll(/(?:denied|refuse)\(\s*'([a-z0-9-]+)'/g)) used.add(m[1] ?? '');
    for (const m of text.matchAll(/deny\(\s*\d{3},\s*'([a-z0-9-]+)'/g)) used.add(m[1] ?? '');
    for (const m of text.matchAll(/rule: '([a-z0-9-]+)'/g)) used.add(m[1] ?? '');
    for (const m of text.matchAll(/grpcDenial\(\s*'([a-z0-9-]+)'/g)) used.add(m[1] ?? '');
  }
  assert.ok(used.size > 30, `found only ${used.size} rule ids`);
  const unknown = [...used].filter((id) => !(id in RULES));
  assert.deepEqual(unknown, []);
});

test('every rule id is documented in docs/policy.md', () => {
  const doc = readFileSync(new URL('docs/policy.md', root), 'utf8');
  const missing = Object.keys(RULES).filter((id) => !doc.includes(`\`${id}\``));
  assert.deepEqual(missing, []);
});

test('every route has an explicit policy entry (fail closed), and no entry names a missing route', () => {
  const ids = new Set(ROUTES.map((r) => r.id));
  assert.deepEqual(ROUTES.filter((r) => !(r.id in ROUTE_POLICY)).map((r) => r.id), []);
  assert.deepEqual(Object.keys(ROUTE_POLICY).filter((id) => !ids.has(id)), []);
});
