/**
 * The CLI's face on the built binary: `nestling --help` against a committed snapshot, every top-level command's own
 * --help, and --version. UPDATE_SNAPSHOTS=1 rewrites the snapshot (review the diff: it is the user-facing surface).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCli, show } from './cli-helpers.js';

const SNAPSHOT = fileURLToPath(new URL('../../../test/e2e/snapshots/help.txt', import.meta.url));
const PKG = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };

/** Help text with terminal-width effects removed (commander wraps at the columns of a TTY; we spawn without one). */
const normalise = (s: string) => s.replace(/[ \t]+$/gm, '');

test('nestling --help matches the snapshot', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stderr, '');
  const got = normalise(r.stdout);
  if (process.env.UPDATE_SNAPSHOTS === '1' || !existsSync(SNAPSHOT)) {
    writeFileSync(SNAPSHOT, got);
    if (process.env.UPDATE_SNAPSHOTS !== '1') assert.fail(`no snapshot yet: wrote ${SNAPSHOT}; review and commit it`);
  }
  assert.equal(got, readFileSync(SNAPSHOT, 'utf8'), `nestling --help changed: if on purpose, run UPDATE_SNAPSHOTS=1 node scripts/test.mjs e2e/cli.test and commit ${SNAPSHOT}`);
});

test('bare `nestling` shows the help and exits 0 (as `docker`)', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout + r.stderr, /^Usage: nestling /m);
});

test('every command listed in the help has its own --help, exit 0, on stdout', async () => {
  const r = await runCli(['--help']);
  const section = r.stdout.split(/^Commands:$/m)[1] ?? '';
  const commands = [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  assert.ok(commands.length >= 2, `commands found in the help:\n${r.stdout}`);
  for (const c of commands) {
    const h = await runCli([c, '--help']);
    assert.equal(h.code, 0, `${c} --help\n${show(h)}`);
    assert.match(h.stdout, new RegExp(`^Usage: nestling ${c}`), `${c} --help\n${show(h)}`);
  }
});

test('--version prints the package.json version alone', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, `${PKG.version}\n`);
  assert.equal(r.stderr, '');
});
