/**
 * `nestling run` I/O on the built binary: piped stdin with -i (EOF reaches the job), a TTY under a pseudo-terminal
 * (util-linux `script`) with the terminal's size, and the up/down/cache commands' error paths.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { useDockerd, type TestDaemon } from '../harness/dockerd.js';
import { ensureTestImages } from '../harness/images.js';

const MAIN = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

describe('nestling run I/O and companion commands (built binary)', () => {
  let d: TestDaemon;
  let env: NodeJS.ProcessEnv;
  const nestling = (args: string[], input?: string) =>
    spawnSync(process.execPath, [MAIN, ...args], { env, input: input ?? '', encoding: 'utf8', timeout: 120_000 });
  before(async () => {
    d = await useDockerd();
    await ensureTestImages(d.engine);
    env = { ...process.env, DOCKER_HOST: d.url, NESTLING_IMAGES: 'local' };
  });

  it('-i forwards piped stdin and closes it at EOF', () => {
    const r = nestling(['run', '--mode', 'dood', '-q', '-i', '--', 'sh', '-c', 'cat; echo "<eof>"'], 'line one\nline two\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'line one\nline two\n<eof>\n');
  });

  it('without -i the job gets no stdin', () => {
    const r = nestling(['run', '--mode', 'dood', '-q', '--', 'sh', '-c', 'cat; echo "<eof>"'], 'ignored\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '<eof>\n');
  });

  it('a terminal gets a TTY of the terminal\'s size', (t) => {
    if (!existsSync('/usr/bin/script')) return t.skip('util-linux script is not installed');
    const cmd = `stty cols 100 rows 40; ${process.execPath} ${MAIN} run --mode dood -q -- sh -c 'sleep 0.5; tty; stty size; exit 6'`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env, encoding: 'utf8', input: '', timeout: 120_000 });
    assert.equal(r.status, 6, r.stdout + r.stderr);
    assert.match(r.stdout, /\/dev\/pts\/\d+/);
    assert.match(r.stdout, /40 100/);
  });

  it('up prints the environment to export, the docker CLI uses it, down removes the engine', (t) => {
    const name = `e2e-${process.pid}`;
    const stateHome = mkdtempSync(join(tmpdir(), 'nst-state-'));
    const envUp = { ...env, XDG_STATE_HOME: stateHome };
    try {
      const up = spawnSync(process.execPath, [MAIN, 'up', '--mode', 'dind', '--name', name], { env: envUp, encoding: 'utf8', timeout: 120_000 });
      if (up.status === 3 && /E_RUN_IMAGE_MISSING|not on the engine/.test(up.stderr)) return t.skip('the dind image is not built');
      assert.equal(up.status, 0, up.stderr);
      const exported = Object.fromEntries([...up.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      assert.match(exported.DOCKER_HOST ?? '', /^tcp:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(exported.DOCKER_CERT_PATH, join(stateHome, 'nestling', 'up', name));
      const v = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { env: { ...process.env, ...exported }, encoding: 'utf8' });
      assert.equal(v.status, 0, v.stderr);
      const list = spawnSync(process.execPath, [MAIN, 'up', '--list', '--json'], { env: envUp, encoding: 'utf8' });
      assert.ok((JSON.parse(list.stdout) as { engines: { name: string }[] }).engines.some((e) => e.name === name));
    } finally {
      const down = spawnSync(process.execPath, [MAIN, 'down', '--name', name], { env: envUp, encoding: 'utf8', timeout: 60_000 });
      rmSync(stateHome, { recursive: true, force: true });
      assert.ok(down.status === 0 || /no engine named/.test(down.stderr), down.stderr);
    }
    const again = spawnSync(process.execPath, [MAIN, 'up', '--list', '--json'], { env, encoding: 'utf8' });
    assert.ok(!(JSON.parse(again.stdout) as { engines: { name: string }[] }).engines.some((e) => e.name === name));
  });

  it('cache, up and down: usage and not-found errors have their exit codes', () => {
    const bad = nestling(['cache', 'prune', '--older-than', 'soon']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /not a duration/);
    const ls = nestling(['cache', 'ls', '--json']);
    assert.equal(ls.status, 0, ls.stderr);
    assert.ok(Array.isArray((JSON.parse(ls.stdout) as { caches: unknown[] }).caches));
    const down = nestling(['down', '--name', 'no-such-engine-here']);
    assert.equal(down.status, 4, down.stderr);
    assert.match(down.stderr, /no engine named no-such-engine-here/);
    const upDood = nestling(['up', '--mode', 'dood', '--name', 'x']);
    assert.equal(upDood.status, 2, upDood.stderr);
    const guardDood = nestling(['run', '--mode', 'dood', '--guard', '--', 'true']);
    assert.equal(guardDood.status, 2, guardDood.stderr);
    assert.match(guardDood.stderr, /--mode guarded/);
  });
});
