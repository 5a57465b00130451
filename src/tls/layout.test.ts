import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDindCerts, type CertBundle } from './generate.js';
import { LAYOUT_FILES, writeDindLayout } from './layout.js';
import { isNestlingError } from '../util/errors.js';

let root: string;
let bundle: CertBundle;
before(async () => {
  root = mkdtempSync(join(tmpdir(), 'nst-layout-'));
  bundle = await generateDindCerts({ sans: ['docker'] });
});
after(() => rmSync(root, { recursive: true, force: true }));

test("docker:dind's layout, keys 0600, dirs 0700, certificates 0644", () => {
  const dir = join(root, 'a', 'certs');
  const layout = writeDindLayout(dir, bundle);
  assert.deepEqual(layout.files.map((f) => f.name).sort(), [...LAYOUT_FILES].sort());
  assert.equal(layout.clientDir, join(dir, 'client'));
  for (const sub of ['', 'ca', 'server', 'client']) assert.equal(statSync(join(dir, sub)).mode & 0o777, 0o700, sub);
  for (const f of LAYOUT_FILES) {
    const mode = statSync(join(dir, f)).mode & 0o777;
    assert.equal(mode, f.endsWith('key.pem') ? 0o600 : 0o644, f);
  }
  assert.equal(readFileSync(join(dir, 'server/ca.pem'), 'utf8'), bundle.ca.cert);
  assert.equal(readFileSync(join(dir, 'client/ca.pem'), 'utf8'), bundle.ca.cert);
  assert.equal(readFileSync(join(dir, 'ca/key.pem'), 'utf8'), bundle.ca.key);
  assert.equal(readFileSync(join(dir, 'server/cert.pem'), 'utf8'), bundle.server.cert);
  assert.equal(readFileSync(join(dir, 'client/key.pem'), 'utf8'), bundle.client.key);
  // no temporary files left behind
  for (const sub of ['ca', 'server', 'client']) assert.ok(readdirSync(join(dir, sub)).every((n) => n.endsWith('.pem')));
});

test('keys stay 0600 whatever the umask', () => {
  const old = process.umask(0);
  try {
    const dir = join(root, 'umask');
    writeDindLayout(dir, bundle);
    assert.equal(statSync(join(dir, 'server/key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'client')).mode & 0o777, 0o700);
  } finally {
    process.umask(old);
  }
});

test('existing certificates are refused without force, replaced with it', async () => {
  const dir = join(root, 'exists');
  writeDindLayout(dir, bundle);
  assert.throws(() => writeDindLayout(dir, bundle), (e: unknown) => isNestlingError(e) && e.code === 'E_TLS_EXISTS' && e.exitCode === 2 && /--force/.test(e.hint ?? ''));
  const other = await generateDindCerts({ sans: ['docker'] });
  writeDindLayout(dir, other, { force: true });
  assert.equal(readFileSync(join(dir, 'server/cert.pem'), 'utf8'), other.server.cert);
});

test('a file where the directory should be, and an unwritable directory, are clear errors', () => {
  const file = join(root, 'file');
  writeFileSync(file, 'x');
  assert.throws(() => writeDindLayout(file, bundle), (e: unknown) => isNestlingError(e) && e.code === 'E_TLS_NOT_DIR');
  assert.throws(() => writeDindLayout(join(file, 'sub'), bundle), (e: unknown) => isNestlingError(e) && e.code === 'E_TLS_WRITE' && e.exitCode === 3);
  // /proc is never writable, not even by root (and node's recursive mkdir never returns there)
  assert.throws(() => writeDindLayout('/proc/nestling-certs/x', bundle), (e: unknown) => isNestlingError(e) && e.code === 'E_TLS_WRITE' && Boolean(e.hint));
});

test('owners hand a directory to another uid', { skip: process.getuid?.() === 0 ? false : 'chown needs root' }, () => {
  const dir = join(root, 'owned');
  writeDindLayout(dir, bundle, { owners: { client: { uid: 1234, gid: 2345 }, server: { uid: 1000, gid: 1000 } } });
  for (const f of ['client', 'client/key.pem', 'client/cert.pem', 'client/ca.pem']) {
    const s = statSync(join(dir, f));
    assert.deepEqual([s.uid, s.gid], [1234, 2345], f);
  }
  assert.equal(statSync(join(dir, 'server/key.pem')).uid, 1000);
  assert.equal(statSync(join(dir, 'ca/key.pem')).uid, 0);
  assert.equal(statSync(join(dir, 'ca')).mode & 0o777, 0o700);
  assert.equal(statSync(dir).mode & 0o777, 0o711, 'the root is traversable, not listable');
});
