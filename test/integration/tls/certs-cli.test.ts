/** `nestling certs` end to end: the built binary, its files, its refusals and exit codes. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'cli', 'main.js');
let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'nst-certs-cli-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function nestling(args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: root } });
}

test('writes the layout with the asked SANs and prints files and modes; --json describes it', () => {
  const dir = join(root, 'a');
  const r = nestling(['certs', '--dir', dir, '--san', 'docker', '--san', '10.1.2.3', '--days', '2']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${join(dir, 'server/key.pem')}\\t0600$`, 'm'));
  assert.match(r.stdout, new RegExp(`^${join(dir, 'client/cert.pem')}\\t0644$`, 'm'));
  assert.match(r.stderr, new RegExp(`export DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=${join(dir, 'client')}`));
  const server = new X509Certificate(readFileSync(join(dir, 'server/cert.pem')));
  assert.equal(server.subjectAltName, 'DNS:docker, IP Address:10.1.2.3');
  const days = (Date.parse(server.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 1.9 && days <= 2, String(days));
  assert.equal(statSync(join(dir, 'ca/key.pem')).mode & 0o777, 0o600);

  const j = nestling(['certs', '--dir', join(root, 'b'), '--rsa', '--json']);
  assert.equal(j.status, 0, j.stderr);
  const out = JSON.parse(j.stdout) as { algorithm: string; sans: { dns: string[]; ips: string[] }; env: Record<string, string>; files: { mode: string }[] };
  assert.equal(out.algorithm, 'rsa-2048');
  assert.deepEqual(out.sans, { dns: ['docker', 'localhost'], ips: ['127.0.0.1', '::1'] });
  assert.equal(out.env.DOCKER_CERT_PATH, join(root, 'b', 'client'));
  assert.equal(out.files.length, 8);
});

test('existing certificates: refused with exit 2 and a hint, replaced with --force', () => {
  const dir = join(root, 'c');
  assert.equal(nestling(['certs', '--dir', dir]).status, 0);
  const before = readFileSync(join(dir, 'server/cert.pem'), 'utf8');
  const again = nestling(['certs', '--dir', dir]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already holds certificates/);
  assert.match(again.stderr, /hint: pass --force/);
  assert.equal(readFileSync(join(dir, 'server/cert.pem'), 'utf8'), before);
  assert.equal(nestling(['certs', '--dir', dir, '--force']).status, 0);
  assert.notEqual(readFileSync(join(dir, 'server/cert.pem'), 'utf8'), before);
});

test('bad input: clear errors with hints and their exit codes', () => {
  const file = join(root, 'file');
  writeFileSync(file, '');
  const cases: [string[], number, RegExp][] = [
    [['certs', '--dir', join(root, 'd'), '--san', 'tcp://docker:2376'], 2, /invalid subjectAltName/],
    [['certs', '--dir', join(root, 'd'), '--san', '[::1]'], 2, /without brackets/],
    [['certs', '--dir', join(root, 'd'), '--days', '0'], 2, /out of range/],
    [['certs', '--dir', join(root, 'd'), '--days', 'week'], 2, /not a whole number/],
    [['certs', '--dir', join(root, 'd'), '--rsa', '1024'], 2, /2048 or 4096/],
    [['certs', '--dir', join(root, 'd'), '--client-owner', 'bob'], 2, /not UID\[:GID\]/],
    [['certs', '--dir', file], 2, /is not a directory/],
    [['certs', '--dir', join(file, 'sub')], 3, /cannot create/],
    [['certs', '--dir', '/proc/nestling/certs'], 3, /cannot create/],
    [['certs'], 2, /required option '--dir/],
  ];
  for (const [args, code, re] of cases) {
    const r = nestling(args);
    assert.equal(r.status, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.match(r.stderr, /hint: /, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
