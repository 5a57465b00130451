/**
 * Every error code used in src/ (tests excluded) is documented in docs/errors.md, and every documented code is still
 * used: other areas' new codes fail here, by name and file, until they have a row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CODE = /\bE_[A-Z][A-Z0-9_]*\b/g;

function sources(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(sources(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function codesInSource(): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  for (const f of sources(join(ROOT, 'src'))) {
    const text = readFileSync(f, 'utf8');
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      for (const m of line.matchAll(CODE)) {
        const where = used.get(m[0]) ?? new Set<string>();
        where.add(`${relative(ROOT, f)}:${i + 1}`);
        used.set(m[0], where);
      }
    });
  }
  return used;
}

function codesInDoc(): Set<string> {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  // Documented = appears as the first cell of a table row: | `E_X` | ...
  return new Set([...doc.matchAll(/^\| `(E_[A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]!));
}

test('every E_ code used in src/ has a row in docs/errors.md', () => {
  const used = codesInSource();
  assert.ok(used.size > 20, `found only ${used.size} codes: is the scan broken?`);
  const documented = codesInDoc();
  const missing = [...used.keys()].filter((c) => !documented.has(c)).sort();
  assert.deepEqual(
    missing,
    [],
    `undocumented error codes — add a row (| \`CODE\` | category (exit) | meaning | hint |) to docs/errors.md:\n${missing
      .map((c) => `  ${c}  used at ${[...used.get(c)!].join(', ')}`)
      .join('\n')}`,
  );
});

test('every code documented in docs/errors.md is still used in src/', () => {
  const used = codesInSource();
  const stale = [...codesInDoc()].filter((c) => !used.has(c)).sort();
  assert.deepEqual(stale, [], `docs/errors.md documents codes nothing in src/ uses any more: ${stale.join(', ')} — remove their rows`);
});

test('no code is documented twice', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `(E_[A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]!);
  const dup = rows.filter((c, i) => rows.indexOf(c) !== i);
  assert.deepEqual(dup, [], `documented more than once: ${dup.join(', ')}`);
});
