#!/usr/bin/env node
// Runs the macro benchmarks: compiles bench/macro/*.ts to a temp dir (they import ../dist at run time), then runs
// each selected one. Usage (from the repo root, after `npm run build`):
//   DOCKER_HOST=unix:///var/run/docker.sock node bench/run.mjs [guard|dind|NAME...]
// Results land in bench/results/<name>.json (node version, CPU, commit); docs/benchmarks.md shows them.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const out = join(tmpdir(), 'nestling-bench');
const want = process.argv.slice(2);
const files = readdirSync(join(root, 'bench/macro'))
  .filter((f) => f.endsWith('.ts') && !f.includes('common'))
  .filter((f) => want.length === 0 || want.some((w) => f.includes(w)));
execFileSync(
  join(root, 'node_modules/.bin/tsc'),
  ['--ignoreConfig', '--outDir', out, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', ...files.map((f) => join(root, 'bench/macro', f))],
  { stdio: 'inherit', cwd: root },
);
for (const f of files) {
  console.error(`bench: ${f}`);
  execFileSync(process.execPath, [join(out, f.replace(/\.ts$/, '.js'))], { stdio: 'inherit', cwd: root, env: { ...process.env, NESTLING_ROOT: root } });
}
