import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { canonicalizeTarget, compileTemplate, isDenial, matchRoute, muxCleanPath, parseGoQuery, serializeTarget } from './match.js';
import { ROUTES } from './routes/index.js';

function canon(t: string) {
  const r = canonicalizeTarget(t);
  if (isDenial(r)) return r.rule;
  return { path: r.path, v: r.apiVersion, q: [...r.query] };
}

test('version prefix: optional, vX.Y only', () => {
  assert.deepEqual(canon('/v1.41/containers/json'), { path: '/containers/json', v: '1.41', q: [] });
  assert.deepEqual(canon('/containers/json'), { path: '/containers/json', v: undefined, q: [] });
  assert.equal(canon('/v1.41.0/containers/json'), 'bad-api-version');
  assert.equal(canon('/v./containers/json'), 'bad-api-version');
  assert.equal(canon('/v1/containers/json'), 'bad-api-version');
  assert.equal(canon('/v1.23/containers/x/start'), 'bad-api-version'); // start read a HostConfig body below 1.24
  assert.deepEqual(canon('/v1.24/_ping'), { path: '/_ping', v: '1.24', q: [] });
});

test('gorilla/mux redirects unclean paths: refused as ambiguous', () => {
  for (const t of ['/containers/a/../b/json', '//containers/json', '/containers/./x/json', '/containers/x/json/..', '/v1.41//_ping', '/containers/%2E%2E/json', '/a/%2e/b']) {
    assert.equal(canon(t), 'ambiguous-path', t);
  }
  assert.equal(muxCleanPath('/networks/'), '/networks/');
  assert.equal(muxCleanPath('/a//b/'), '/a/b/');
});

test('percent-decoding as Go: %2F is a slash for the router, + stays + in paths, invalid escapes refused', () => {
  assert.deepEqual(canon('/images/library%2Fbusybox/json'), { path: '/images/library/busybox/json', v: undefined, q: [] });
  assert.deepEqual(canon('/containers/a+b/json'), { path: '/containers/a+b/json', v: undefined, q: [] });
  assert.equal(canon('/containers/%zz/json'), 'bad-target');
  assert.equal(canon('/containers/%/json'), 'bad-target');
  assert.equal(canon('/containers/%00/json'), 'bad-target');
  assert.equal(canon('/containers/%ff/json'), 'bad-target');
  assert.equal(canon('http://x/containers/json'), 'bad-target');
  assert.equal(canon('/containers/a b/json'), 'bad-target');
  assert.equal(canon('/containers/x#y/json'), 'bad-target');
});

test('queries as url.ParseQuery: + is space, ; and bad escapes are errors, order and duplicates kept', () => {
  assert.deepEqual(parseGoQuery('a=1&b=x+y&a=2&&c')?.toString(), 'a=1&b=x+y&a=2&c=');
  assert.equal(parseGoQuery('a=1;b=2'), undefined);
  assert.equal(parseGoQuery('a=%zz'), undefined);
  assert.equal(canon('/containers/json?all=1;x=2'), 'bad-query');
});

test('templates: {name} is one segment, {name:.*} is greedy and may hold slashes', () => {
  const { re } = compileTemplate('/containers/{name:.*}/json');
  assert.equal(re.exec('/containers/a/b/json')?.[1], 'a/b');
  assert.equal(re.exec('/containers/a/json/json')?.[1], 'a/json');
  assert.equal(compileTemplate('/services/{id}').re.test('/services/a/b'), false);
});

function route(method: string, path: string): string {
  const m = matchRoute(method, path);
  return isDenial(m) ? `${m.status} ${m.rule}` : m.route.id;
}

test('matching follows moby registration order and methods', () => {
  assert.equal(route('GET', '/containers/json'), 'container-list');
  assert.equal(route('GET', '/containers/x/json'), 'container-inspect');
  assert.equal(route('DELETE', '/containers/x/checkpoints/c1'), 'checkpoint-delete');
  assert.equal(route('DELETE', '/containers/a/b'), 'container-delete');
  assert.equal(route('GET', '/images/get'), 'image-get-all');
  assert.equal(route('GET', '/images/docker.io/library/busybox:latest/json'), 'image-inspect');
  assert.equal(route('GET', '/networks/'), 'network-list-slash');
  assert.equal(route('GET', '/networks/x'), 'network-inspect');
  assert.equal(route('POST', '/containers/json'), '405 method-not-allowed');
  assert.equal(route('HEAD', '/containers/json'), '405 method-not-allowed');
  assert.equal(route('HEAD', '/_ping'), 'system-ping-head');
  assert.equal(route('HEAD', '/containers/x/archive'), 'container-archive-head');
  assert.equal(route('GET', '/nope'), '403 unknown-route');
  assert.equal(route('OPTIONS', '/containers/json'), '405 method-not-allowed');
  const m = matchRoute('GET', '/containers/a/b/logs');
  assert.ok(!isDenial(m) && m.params.name === 'a/b');
});

test('the forwarded target is the canonical re-serialisation', () => {
  const c = canonicalizeTarget('/v1.41/images/library%2Fbusybox/tag?repo=a%2Bb&tag=x+y');
  assert.ok(!isDenial(c));
  const t = serializeTarget(c.path, c.apiVersion, c.query);
  assert.equal(t, '/v1.41/images/library/busybox/tag?repo=a%2Bb&tag=x+y');
  const again = canonicalizeTarget(t);
  assert.ok(!isDenial(again));
  assert.deepEqual([again.path, [...again.query]], [c.path, [...c.query]]);
  assert.equal(serializeTarget('/containers/a b%/json', undefined, new URLSearchParams()), '/containers/a%20b%25/json');
});

interface ApiPaths {
  swaggerVersions: string[];
  paths: { method: string; path: string; operationId: string }[];
}

test('coverage: every method+path of the Engine API swagger has a route in the table', () => {
  const api = JSON.parse(readFileSync(new URL('../../../test/fixtures/guard/engine-api-paths.json', import.meta.url), 'utf8')) as ApiPaths;
  assert.ok(api.paths.length > 100);
  const missing: string[] = [];
  for (const p of api.paths) {
    // fill the swagger's {id}/{name} with a value that has a slash where moby's template allows it
    const concrete = p.path.replace(/\{[^}]+\}/g, 'x1');
    const m = matchRoute(p.method, concrete);
    if (isDenial(m)) {
      missing.push(`${p.method} ${p.path}`);
      continue;
    }
    const tmpl = m.route.path.replace(/\{([^:}]+)(:[^}]*)?\}/g, '{}');
    if (tmpl !== p.path.replace(/\{[^}]+\}/g, '{}')) missing.push(`${p.method} ${p.path} matched ${m.route.path}`);
  }
  assert.deepEqual(missing, []);
});

test('route ids are unique and kebab-case', () => {
  const ids = ROUTES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^[a-z][a-z0-9-]*$/);
});

test('fuzz: random targets never throw; an accepted target re-serialises to one that reads back the same', () => {
  let s = 12345;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const alphabet = ['/', '%', '2', 'e', 'E', 'f', 'F', '.', '?', '&', '=', ';', '+', ' ', '#', 'v', '1', '4', 'a', 'ſ', '\u0000', 'é', 'containers', 'json', 'images', '{', '}', ':', '@', '%2F', '%25', '%zz', '..'];
  for (let i = 0; i < 3000; i++) {
    let t = r() < 0.9 ? '/' : '';
    const n = Math.floor(r() * 12);
    for (let k = 0; k < n; k++) t += alphabet[Math.floor(r() * alphabet.length)] ?? '';
    const c = canonicalizeTarget(t);
    if (isDenial(c)) continue;
    matchRoute('GET', c.path);
    const again = canonicalizeTarget(serializeTarget(c.path, c.apiVersion, c.query));
    assert.ok(!isDenial(again), `${JSON.stringify(t)} -> ${serializeTarget(c.path, c.apiVersion, c.query)}`);
    assert.equal(again.path, c.path);
    assert.deepEqual([...again.query], [...c.query]);
  }
});
