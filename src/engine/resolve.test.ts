import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { resolveEndpoint, parseHostUrl, tlsFromEnv, DEFAULT_SOCKET, type ResolveInput } from './resolve.js';
import { resolveContextEndpoint } from './contexts.js';
import { NestlingError, ExitCode } from '../util/errors.js';
import type { Env } from '../util/env.js';

let root: string;
let n = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'nst-resolve-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh HOME with an optional ~/.docker layout. */
function home(): string {
  const h = join(root, `h${n++}`);
  mkdirSync(join(h, '.docker'), { recursive: true });
  return h;
}
const id = (name: string) => createHash('sha256').update(name).digest('hex');
function addContext(configDir: string, name: string, host: string | undefined, opts: { tls?: Record<string, string>; skip?: boolean; raw?: string } = {}) {
  const meta = join(configDir, 'contexts', 'meta', id(name));
  mkdirSync(meta, { recursive: true });
  const docker: Record<string, unknown> = { SkipTLSVerify: opts.skip ?? false };
  if (host !== undefined) docker.Host = host;
  writeFileSync(join(meta, 'meta.json'), opts.raw ?? JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker } }));
  if (opts.tls) {
    const t = join(configDir, 'contexts', 'tls', id(name), 'docker');
    mkdirSync(t, { recursive: true });
    for (const [f, v] of Object.entries(opts.tls)) writeFileSync(join(t, f), v);
  }
}
function certDir(files = ['ca.pem', 'cert.pem', 'key.pem']): string {
  const d = join(root, `certs${n++}`);
  mkdirSync(d, { recursive: true });
  for (const f of files) writeFileSync(join(d, f), `${f} content`);
  return d;
}
const resolve = (env: Env, h: string, extra: Partial<ResolveInput> = {}) => resolveEndpoint({ env, home: h, ...extra });

function throwsCode(fn: () => unknown, code: string, exit: number): NestlingError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof NestlingError, `expected a NestlingError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.exitCode, exit);
  assert.ok(caught.hint && caught.hint.length > 0, 'has a hint');
  return caught;
}

describe('parseHostUrl (as docker CLI 28.2 parses DOCKER_HOST)', () => {
  test('unix, with the default socket for an empty path', () => {
    assert.deepEqual(parseHostUrl('unix:///run/x.sock', 's'), { kind: 'unix', socketPath: '/run/x.sock', url: 'unix:///run/x.sock', source: 's' });
    assert.equal(parseHostUrl('unix://', 's').socketPath, DEFAULT_SOCKET);
  });
  test('tcp: default host localhost, default port 2375, 2376 with TLS; IPv6; no scheme means tcp', () => {
    assert.equal(parseHostUrl('tcp://127.0.0.1', 's').url, 'tcp://127.0.0.1:2375');
    assert.equal(parseHostUrl('tcp://127.0.0.1', 's', { tls: true }).port, 2376);
    assert.equal(parseHostUrl('tcp://:1', 's').url, 'tcp://localhost:1');
    const v6 = parseHostUrl('tcp://[::1]:2376', 's');
    assert.equal(v6.host, '::1');
    assert.equal(v6.url, 'tcp://[::1]:2376');
    assert.equal(parseHostUrl('localhost:1', 's').url, 'tcp://localhost:1');
    assert.equal(parseHostUrl('tcp://h:5/ignored/path', 's').url, 'tcp://h:5');
  });
  test('bad input: unknown scheme, http (the CLI refuses it), ssh, relative unix path, bad port, empty', () => {
    throwsCode(() => parseHostUrl('foo://x', 'DOCKER_HOST'), 'E_ENGINE_HOST_SCHEME', ExitCode.Usage);
    throwsCode(() => parseHostUrl('http://127.0.0.1:1', 'DOCKER_HOST'), 'E_ENGINE_HOST_SCHEME', ExitCode.Usage);
    const ssh = throwsCode(() => parseHostUrl('ssh://me@host', 'DOCKER_HOST'), 'E_ENGINE_HOST_SCHEME', ExitCode.Usage);
    assert.match(ssh.hint ?? '', /ssh -L/);
    throwsCode(() => parseHostUrl('unix://rel.sock', 'DOCKER_HOST'), 'E_ENGINE_HOST_PATH', ExitCode.Usage);
    throwsCode(() => parseHostUrl('tcp://h:99999', 'DOCKER_HOST'), 'E_ENGINE_HOST_ADDR', ExitCode.Usage);
    throwsCode(() => parseHostUrl('tcp://h:0', 'DOCKER_HOST'), 'E_ENGINE_HOST_ADDR', ExitCode.Usage);
    throwsCode(() => parseHostUrl('tcp://a b:1', 'DOCKER_HOST'), 'E_ENGINE_HOST_ADDR', ExitCode.Usage);
    throwsCode(() => parseHostUrl('  ', 'DOCKER_HOST'), 'E_ENGINE_HOST_EMPTY', ExitCode.Usage);
  });
});

describe('resolveEndpoint precedence', () => {
  test('nothing set: the default socket', () => {
    const r = resolve({}, home());
    assert.equal(r.endpoint.url, `unix://${DEFAULT_SOCKET}`);
    assert.equal(r.context, 'default');
    assert.equal(r.candidates.at(-1)?.applied, true);
  });
  test('--host wins over DOCKER_HOST, DOCKER_CONTEXT and config.json', () => {
    const h = home();
    addContext(join(h, '.docker'), 'c1', 'unix:///c1.sock');
    writeFileSync(join(h, '.docker', 'config.json'), JSON.stringify({ currentContext: 'c1' }));
    const r = resolve({ DOCKER_HOST: 'unix:///env.sock', DOCKER_CONTEXT: 'c1' }, h, { host: 'unix:///flag.sock' });
    assert.equal(r.endpoint.url, 'unix:///flag.sock');
    assert.equal(r.endpoint.source, '--host');
  });
  test('DOCKER_HOST wins over DOCKER_CONTEXT (a warning and a candidate say so) and over config.json', () => {
    const h = home();
    addContext(join(h, '.docker'), 'c1', 'unix:///c1.sock');
    writeFileSync(join(h, '.docker', 'config.json'), JSON.stringify({ currentContext: 'c1' }));
    const r = resolve({ DOCKER_HOST: 'unix:///env.sock', DOCKER_CONTEXT: 'c1' }, h);
    assert.equal(r.endpoint.url, 'unix:///env.sock');
    assert.deepEqual(r.warnings, ['DOCKER_HOST overrides DOCKER_CONTEXT=c1']);
    assert.ok(r.candidates.some((c) => c.source === 'DOCKER_CONTEXT' && !c.applied));
    // even a DOCKER_CONTEXT that does not exist is not read when DOCKER_HOST is set (as the CLI)
    assert.equal(resolve({ DOCKER_HOST: 'unix:///env.sock', DOCKER_CONTEXT: 'nosuch' }, h).endpoint.url, 'unix:///env.sock');
  });
  test('--context wins over DOCKER_HOST; --context default means DOCKER_HOST', () => {
    const h = home();
    addContext(join(h, '.docker'), 'c1', 'unix:///c1.sock');
    assert.equal(resolve({ DOCKER_HOST: 'unix:///env.sock' }, h, { context: 'c1' }).endpoint.url, 'unix:///c1.sock');
    assert.equal(resolve({ DOCKER_HOST: 'unix:///env.sock' }, h, { context: 'default' }).endpoint.url, 'unix:///env.sock');
    assert.equal(resolve({}, h, { context: 'default' }).endpoint.url, `unix://${DEFAULT_SOCKET}`);
  });
  test('--host with --context is a usage error (conflicting options)', () => {
    throwsCode(() => resolve({}, home(), { host: 'unix:///a', context: 'c' }), 'E_ENGINE_HOST_CONTEXT_CONFLICT', ExitCode.Usage);
  });
  test('DOCKER_CONTEXT wins over config.json currentContext', () => {
    const h = home();
    addContext(join(h, '.docker'), 'c1', 'unix:///c1.sock');
    addContext(join(h, '.docker'), 'c2', 'unix:///c2.sock');
    writeFileSync(join(h, '.docker', 'config.json'), JSON.stringify({ currentContext: 'c1' }));
    assert.equal(resolve({ DOCKER_CONTEXT: 'c2' }, h).endpoint.url, 'unix:///c2.sock');
    assert.equal(resolve({}, h).endpoint.url, 'unix:///c1.sock');
    assert.equal(resolve({}, h).context, 'c1');
    assert.equal(resolve({ DOCKER_CONTEXT: 'default' }, h).endpoint.url, `unix://${DEFAULT_SOCKET}`);
  });
  test('DOCKER_CONFIG moves config.json and the context store', () => {
    const h = home();
    const cfg = join(root, `cfg${n++}`);
    addContext(cfg, 'elsewhere', 'tcp://10.0.0.9:2375');
    mkdirSync(cfg, { recursive: true });
    writeFileSync(join(cfg, 'config.json'), JSON.stringify({ currentContext: 'elsewhere' }));
    const r = resolve({ DOCKER_CONFIG: cfg }, h);
    assert.equal(r.endpoint.url, 'tcp://10.0.0.9:2375');
    assert.equal(r.endpoint.tls, undefined);
  });
  test('a context with TLS material in contexts/tls/<sha256>/docker, and SkipTLSVerify', () => {
    const h = home();
    addContext(join(h, '.docker'), 'secure', 'tcp://d.example:2376', { tls: { 'ca.pem': 'CA', 'cert.pem': 'CERT', 'key.pem': 'KEY' } });
    const r = resolve({ DOCKER_CONTEXT: 'secure' }, h);
    assert.equal(r.endpoint.tls?.verify, true);
    assert.equal(r.endpoint.tls?.ca?.toString(), 'CA');
    assert.equal(r.endpoint.tls?.key?.toString(), 'KEY');
    addContext(join(h, '.docker'), 'insecure', 'tcp://d.example', { skip: true });
    const i = resolve({ DOCKER_CONTEXT: 'insecure' }, h);
    assert.equal(i.endpoint.tls?.verify, false);
    assert.equal(i.endpoint.tls?.ca, undefined);
    assert.equal(i.endpoint.port, 2375);
  });
  test('a context with an empty Host means the default socket (as the CLI)', () => {
    const h = home();
    addContext(join(h, '.docker'), 'empty', '');
    assert.equal(resolve({ DOCKER_CONTEXT: 'empty' }, h).endpoint.url, `unix://${DEFAULT_SOCKET}`);
  });
  test('the first-cut ContextResolver hook still works', () => {
    const h = home();
    addContext(join(h, '.docker'), 'c1', 'unix:///c1.sock');
    const r = resolveEndpoint({ env: { DOCKER_CONTEXT: 'c1' }, home: h }, resolveContextEndpoint);
    assert.equal(r.endpoint.url, 'unix:///c1.sock');
  });
});

describe('TLS from the environment', () => {
  test('DOCKER_TLS_VERIFY: verify with DOCKER_CERT_PATH material; port 2376 by default', () => {
    const d = certDir();
    const r = resolve({ DOCKER_HOST: 'tcp://127.0.0.1', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: d }, home());
    assert.equal(r.endpoint.port, 2376);
    assert.equal(r.endpoint.tls?.verify, true);
    assert.equal(r.endpoint.tls?.cert?.toString(), 'cert.pem content');
  });
  test('any non-empty DOCKER_TLS_VERIFY turns TLS on, "0" included (as the CLI)', () => {
    const d = certDir();
    assert.equal(resolve({ DOCKER_HOST: 'tcp://h:1', DOCKER_TLS_VERIFY: '0', DOCKER_CERT_PATH: d }, home()).endpoint.tls?.verify, true);
    assert.equal(resolve({ DOCKER_HOST: 'tcp://h:1', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: d }, home()).endpoint.tls, undefined);
  });
  test('DOCKER_TLS: TLS without verification; cert.pem and key.pem optional, ca.pem required', () => {
    const d = certDir(['ca.pem']);
    const r = resolve({ DOCKER_HOST: 'tcp://h:1', DOCKER_TLS: '1', DOCKER_CERT_PATH: d }, home());
    assert.equal(r.endpoint.tls?.verify, false);
    assert.equal(r.endpoint.tls?.cert, undefined);
    const missing = throwsCode(() => resolve({ DOCKER_HOST: 'tcp://h:1', DOCKER_TLS: '1', DOCKER_CERT_PATH: certDir(['cert.pem']) }, home()), 'E_ENGINE_TLS_FILE', ExitCode.Usage);
    assert.match(missing.message, /ca\.pem \(ENOENT\)/);
  });
  test('without DOCKER_CERT_PATH the material comes from ~/.docker, or DOCKER_CONFIG', () => {
    const h = home();
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(h, '.docker', f), `home ${f}`);
    assert.equal(resolve({ DOCKER_HOST: 'tcp://h:1', DOCKER_TLS_VERIFY: '1' }, h).endpoint.tls?.ca?.toString(), 'home ca.pem');
    const cfg = certDir();
    assert.equal(resolve({ DOCKER_HOST: 'tcp://h:1', DOCKER_TLS_VERIFY: '1', DOCKER_CONFIG: cfg }, h).endpoint.tls?.ca?.toString(), 'ca.pem content');
  });
  test('TLS on and no host: tcp://localhost:2376', () => {
    const r = resolve({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir() }, home());
    assert.equal(r.endpoint.url, 'tcp://localhost:2376');
    assert.ok(r.endpoint.tls);
  });
  test('TLS env with a unix host: the files are still read (as the CLI), TLS is not attached', () => {
    const r = resolve({ DOCKER_HOST: 'unix:///x.sock', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir() }, home());
    assert.equal(r.endpoint.tls, undefined);
    throwsCode(() => resolve({ DOCKER_HOST: 'unix:///x.sock', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: join(root, 'none') }, home()), 'E_ENGINE_TLS_FILE', ExitCode.Usage);
  });
  test('an unreadable cert file is an error naming it', { skip: process.getuid?.() === 0 ? 'root reads mode-000 files' : false }, () => {
    const d = certDir();
    chmodSync(join(d, 'key.pem'), 0o000);
    throwsCode(() => tlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: d }, home(), 'DOCKER_HOST'), 'E_ENGINE_TLS_FILE', ExitCode.Usage);
  });
  test('a cert path that is a directory is an error (EISDIR), not a crash', () => {
    const d = certDir(['ca.pem', 'cert.pem']);
    mkdirSync(join(d, 'key.pem'));
    const e = throwsCode(() => tlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: d }, home(), 'DOCKER_HOST'), 'E_ENGINE_TLS_FILE', ExitCode.Usage);
    assert.match(e.message, /EISDIR/);
  });
});

describe('bad contexts and config files', () => {
  test('a context that does not exist: from DOCKER_CONTEXT, --context and config.json', () => {
    const h = home();
    const e = throwsCode(() => resolve({ DOCKER_CONTEXT: 'nosuch' }, h), 'E_ENGINE_CONTEXT_MISSING', ExitCode.Usage);
    assert.match(e.message, /"nosuch" \(from DOCKER_CONTEXT\)/);
    assert.match(e.hint ?? '', /DOCKER_CONTEXT/);
    throwsCode(() => resolve({}, h, { context: 'nosuch' }), 'E_ENGINE_CONTEXT_MISSING', ExitCode.Usage);
    writeFileSync(join(h, '.docker', 'config.json'), JSON.stringify({ currentContext: 'gone' }));
    throwsCode(() => resolve({}, h), 'E_ENGINE_CONTEXT_MISSING', ExitCode.Usage);
  });
  test('a malformed config.json fails closed (the CLI warns and uses the default socket)', () => {
    const h = home();
    writeFileSync(join(h, '.docker', 'config.json'), '{bad');
    throwsCode(() => resolve({}, h), 'E_ENGINE_CONFIG_INVALID', ExitCode.Usage);
    writeFileSync(join(h, '.docker', 'config.json'), '{"currentContext": 5}');
    throwsCode(() => resolve({}, h), 'E_ENGINE_CONFIG_INVALID', ExitCode.Usage);
    writeFileSync(join(h, '.docker', 'config.json'), '[]');
    throwsCode(() => resolve({}, h), 'E_ENGINE_CONFIG_INVALID', ExitCode.Usage);
    // ... but it is not read at all when DOCKER_HOST decides
    assert.equal(resolve({ DOCKER_HOST: 'unix:///a.sock' }, h).endpoint.url, 'unix:///a.sock');
  });
  test('a config.json without currentContext is fine', () => {
    const h = home();
    writeFileSync(join(h, '.docker', 'config.json'), '{"auths":{}}');
    assert.equal(resolve({}, h).endpoint.url, `unix://${DEFAULT_SOCKET}`);
  });
  test('a malformed meta.json, one without a docker endpoint, one with a bad Host', () => {
    const h = home();
    addContext(join(h, '.docker'), 'broken', undefined, { raw: '{bad' });
    throwsCode(() => resolve({ DOCKER_CONTEXT: 'broken' }, h), 'E_ENGINE_CONTEXT_INVALID', ExitCode.Usage);
    addContext(join(h, '.docker'), 'noep', undefined, { raw: '{"Name":"noep","Endpoints":{}}' });
    throwsCode(() => resolve({ DOCKER_CONTEXT: 'noep' }, h), 'E_ENGINE_CONTEXT_INVALID', ExitCode.Usage);
    addContext(join(h, '.docker'), 'badhost', 'foo://y');
    throwsCode(() => resolve({ DOCKER_CONTEXT: 'badhost' }, h), 'E_ENGINE_HOST_SCHEME', ExitCode.Usage);
    addContext(join(h, '.docker'), 'nonstr', undefined, { raw: '{"Endpoints":{"docker":{"Host":42}}}' });
    throwsCode(() => resolve({ DOCKER_CONTEXT: 'nonstr' }, h), 'E_ENGINE_CONTEXT_INVALID', ExitCode.Usage);
  });
  test('an unknown DOCKER_HOST scheme is a usage error with a hint', () => {
    const e = throwsCode(() => resolve({ DOCKER_HOST: 'gopher://x' }, home()), 'E_ENGINE_HOST_SCHEME', ExitCode.Usage);
    assert.match(e.message, /DOCKER_HOST=gopher:\/\/x/);
  });
});
