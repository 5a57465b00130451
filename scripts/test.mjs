#!/usr/bin/env node
// Runs the test suite on the tsc output, against one real dockerd shared by every test file.
//   node scripts/test.mjs            every test file
//   node scripts/test.mjs --unit     only unit tests (src/**/*.test.js, no engine needed)
//   node scripts/test.mjs PATTERN... only files whose path contains one of the patterns
// NESTLING_TEST_DOCKER_HOST=unix:///path reuses a running daemon; otherwise a private one is started here (its own
// socket, data root and exec root), the local test images are built into it, and it is stopped at the end.
// If the daemon cannot start, the run fails with the daemon's log: tests are never reported as passed without it.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const patterns = args.filter((a) => !a.startsWith('--'));

function walk(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

let files = walk(dist).map((f) => relative(root, f)).sort();
if (unitOnly) files = files.filter((f) => f.startsWith('dist/src/') || f.startsWith('dist/test/unit/'));
if (patterns.length) files = files.filter((f) => patterns.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error('test: no test files matched');
  process.exit(1);
}

let daemon;
const env = { ...process.env };
if (!unitOnly && !env.NESTLING_TEST_DOCKER_HOST) {
  const { startDockerd } = await import(join(dist, 'test/harness/dockerd.js'));
  try {
    daemon = await startDockerd();
  } catch (e) {
    console.error(`test: FAILED to start the test dockerd; integration tests cannot run.\n${e.message}`);
    process.exit(1);
  }
  env.NESTLING_TEST_DOCKER_HOST = daemon.url;
  console.error(`test: private dockerd at ${daemon.url}`);
}
if (!unitOnly) {
  const { useDockerd } = await import(join(dist, 'test/harness/dockerd.js'));
  const { ensureTestImages } = await import(join(dist, 'test/harness/images.js'));
  process.env.NESTLING_TEST_DOCKER_HOST = env.NESTLING_TEST_DOCKER_HOST;
  const d = await useDockerd();
  const t0 = Date.now();
  await ensureTestImages(d.engine, (p) => console.error(`test: image ${p.task}: ${p.message}`));
  console.error(`test: test images ready in ${Date.now() - t0} ms`);
}

const concurrency = env.NESTLING_TEST_CONCURRENCY ?? '2';
// A hang guard, not a speed target: a test that runs 10 minutes is stuck (tests may set a shorter timeout).
const timeout = env.NESTLING_TEST_TIMEOUT_MS ?? '600000';
const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeout}`, '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  cwd: root,
  env,
});
const stop = async () => {
  if (daemon) await daemon.stop().catch((e) => console.error(`test: stopping dockerd: ${e.message}`));
};
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', async (code, signal) => {
  if (code !== 0 && daemon) console.error(`test: dockerd log tail:\n${daemon.logTail(30)}`);
  await stop();
  process.exit(code ?? (signal ? 1 : 1));
});
