import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from './decide.js';
import { readGoBody, GoJsonError } from './go-json.js';
import { canonicalizeTarget, isDenial } from './match.js';
import { ROUTES } from './routes/index.js';
import { fakeContext, makeView } from './rules/testing.js';
import type { Decision } from './types.js';

const world = {
  objects: { container: { mine: { id: 'c1', owned: true } }, exec: { e1: { id: 'e1', owned: true } }, network: { n1: { id: 'n1', owned: true } }, volume: { v1: { id: 'v1', owned: true } } },
  images: { 'app:ci': { id: 'sha256:a', owned: true } },
  policy: { allowBind: ['/srv/ci'] },
};

test('the server pre-parse is ignored: decide re-reads the raw target', async () => {
  const v = makeView('GET', '/containers/theirs/json');
  v.path = '/containers/mine/json';
  const d = await decide(v, fakeContext(world));
  assert.equal(d.action, 'deny');
});

test('the forwarded body is what was checked: a second decision on it forwards it unchanged', async () => {
  const body = '{"image":"busybox","hostconfig":{"binds":["/srv/ci/x:/x"],"privileged":false,"Privileged":false},"labels":{"a":"b"}}';
  const d1 = await decide(makeView('POST', '/containers/create', body), fakeContext(world));
  assert.equal(d1.action, 'forward');
  const fwd = d1.action === 'forward' ? d1.rewrite?.body : undefined;
  assert.ok(fwd);
  // forwarding the rewritten body again must give the same bytes (the owner label is already there: it is ours)
  const d2 = await decide(makeView('POST', '/containers/create', fwd), fakeContext(world));
  assert.equal(d2.action, 'deny'); // the owner label it carries is reserved: a job cannot send it itself
  assert.equal(d2.action === 'deny' && d2.rule, 'reserved-label');
});

// ---- bounded fuzz: decide never throws, and never forwards a body or target it could not read ----

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  '{"Image":"busybox","HostConfig":{"Privileged":true,"Binds":["/:/h"],"CapAdd":["SYS_ADMIN"],"Mounts":[{"Type":"bind","Source":"/etc","Target":"/x"}]},"Labels":{"a":"b"}}',
  '{"Name":"v","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/etc"}}',
  '{"Cmd":["sh"],"Privileged":true,"User":"root"}',
  '{"Name":"n","Driver":"bridge","Options":{"com.docker.network.bridge.name":"docker0"}}',
  '{"Memory":1,"Devices":[{"PathOnHost":"/dev/mem"}],"CgroupParent":"/"}',
  '{"Container":"mine","EndpointConfig":{}}',
];
const TOKENS = ['{', '}', '[', ']', ',', ':', '"', '\\', 'u', 'ſ', 'K', 'null', 'true', '1e9', '-', '0', '"HostConfig"', '"privileged"', '"Binds"', '"/"', ' ', '\u0000', '\ud800', '"\\ud800"', '"Mounts"'];

function mutate(s: string, r: () => number): string {
  let out = s;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(r() * (out.length + 1));
    const op = r();
    const tok = TOKENS[Math.floor(r() * TOKENS.length)] ?? '';
    if (op < 0.4) out = out.slice(0, pos) + tok + out.slice(pos);
    else if (op < 0.7) out = out.slice(0, pos) + out.slice(pos + 1 + Math.floor(r() * 5));
    else if (op < 0.85) {
      // duplicate a key/value chunk
      const a = Math.floor(r() * out.length);
      out = out.slice(0, pos) + out.slice(a, a + 1 + Math.floor(r() * 30)) + out.slice(pos);
    } else out = out.toUpperCase();
  }
  return out;
}

const TARGET_PARTS = ['/containers/create', '/containers/mine/update', '/containers/mine/exec', '/volumes/create', '/networks/create', '/networks/n1/connect', '/commit?container=mine', '/exec/e1/start', '/build?t=x', '/containers/json?filters=', '/images/app:ci/tag?repo=a', '/v1.41/containers/mine/json', '/v9.99/_ping', '/containers/%2e%2e/json', '/containers/a%2Fb/json', '//x', '/containers/mine/archive?path=/'];

test('fuzz: a few thousand mutated requests; decide never throws, forwards only what it can read', async () => {
  const r = rng(20261130);
  const ctx = fakeContext(world);
  let forwarded = 0;
  for (let i = 0; i < 3000; i++) {
    const seed = SEEDS[Math.floor(r() * SEEDS.length)] ?? '{}';
    const body = r() < 0.9 ? mutate(seed, r) : seed;
    let target = TARGET_PARTS[Math.floor(r() * TARGET_PARTS.length)] ?? '/';
    if (r() < 0.3) target = mutate(target, r);
    const method = r() < 0.8 ? 'POST' : ['GET', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'][Math.floor(r() * 6)] ?? 'GET';
    let d: Decision;
    try {
      d = await decide(makeView(method, target, Buffer.from(body, 'utf8'), r() < 0.1 ? { 'content-type': 'multipart/form-data' } : {}), ctx);
    } catch (e) {
      assert.fail(`decide threw on ${method} ${JSON.stringify(target)} ${JSON.stringify(body)}: ${String(e)}`);
    }
    if (d.action !== 'forward') continue;
    forwarded++;
    // the forwarded target re-parses to itself
    const t = d.rewrite?.target;
    assert.ok(t, 'every forward carries the canonical target');
    const c = canonicalizeTarget(t);
    assert.ok(!isDenial(c), `forwarded target does not re-parse: ${t}`);
    // a JSON route forwards a canonical body that reads back to the same bytes
    if (d.route.body === 'json' && d.rewrite?.body) {
      const root = d.route.id as Parameters<typeof readGoBody>[1];
      try {
        const again = readGoBody(d.rewrite.body, root);
        assert.ok(again);
      } catch (e) {
        if (!(e instanceof GoJsonError) || !String(e.message).includes('no struct')) throw e;
      }
    }
    if (d.route.body === 'json' && !d.rewrite?.body) {
      // only body-less-by-design JSON routes (none of the inspected ones) may forward without a canonical body
      assert.ok(['system-auth', 'container-copy'].includes(d.route.id), `forwarded ${d.route.id} without a canonical body`);
    }
  }
  assert.ok(forwarded > 50, `only ${forwarded} forwards: the fuzz is not reaching the rules`);
});

test('every route decides without throwing on an empty request', async () => {
  const ctx = fakeContext(world);
  for (const r of ROUTES) {
    const path = r.path.replace(/\{[^}]+\}/g, 'mine');
    const d = await decide(makeView(r.method, path, r.body === 'json' ? '{}' : undefined), ctx);
    assert.ok(d.action === 'forward' || d.action === 'deny', r.id);
  }
});
