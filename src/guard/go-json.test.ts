import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeUtf8Go, fieldFor, foldKey, GoJsonError, parseJson, readGoBody, serializeGo, type GoObject } from './go-json.js';
import { GO_ROOTS, GO_STRUCTS } from './rules/go-structs.js';

const read = (s: string, root: keyof typeof GO_ROOTS = 'container-create') => readGoBody(Buffer.from(s, 'utf8'), root);
const out = (s: string, root: keyof typeof GO_ROOTS = 'container-create') => serializeGo(read(s, root));
const hc = (o: GoObject) => o.HostConfig as GoObject;

test('keys: exact first, then case-insensitive', () => {
  assert.equal(hc(read('{"hostconfig":{"PRIVILEGED":true}}')).Privileged, true);
  assert.equal(fieldFor('HostConfig', 'capadd'), 'CapAdd');
  assert.equal(fieldFor('HostConfig', 'nosuchfield'), undefined);
});

test("Unicode simple folding: ſ (U+017F) is s, K (U+212A) is k, others never match ASCII names", () => {
  assert.equal(foldKey('ſecurityOpt'), 'SECURITYOPT');
  assert.equal(fieldFor('HostConfig', 'ſecurityopt'), 'SecurityOpt');
  assert.equal(fieldFor('Root.container-create', 'Labels'.replace('L', 'l')), 'Labels');
  assert.equal(fieldFor('HostConfig', 'Ipc\u212Aode'), undefined); // no such field (IpcMode has no k)
  assert.equal(fieldFor('Mount', 'Bind\u212Aptions'), undefined);
  assert.equal(fieldFor('HostConfig', 'Lin\u212As'), 'Links');
  assert.equal(fieldFor('HostConfig', 'L\u0131nks'), undefined); // dotless i does not fold to i in Go
  assert.equal(fieldFor('HostConfig', 'L\u0130nks'), undefined);
  assert.equal(hc(read('{"HostConfig":{"ſecurityOpt":["seccomp=unconfined"]}}')).SecurityOpt?.toString(), 'seccomp=unconfined');
});

test('duplicates: last scalar wins in document order; structs merge', () => {
  assert.equal(hc(read('{"HostConfig":{"Privileged":true,"privileged":false}}')).Privileged, false);
  assert.equal(hc(read('{"HostConfig":{"Privileged":false,"privileged":true}}')).Privileged, true);
  const merged = hc(read('{"HostConfig":{"Privileged":true},"hostConfig":{"Memory":5}}'));
  assert.equal(merged.Privileged, true);
  assert.equal(merged.Memory, 5n);
  assert.equal(read('{"HostConfig":{"Privileged":true},"HostConfig":null}').HostConfig, undefined);
});

test('maps keep exact keys; the last duplicate wins inside a map; __proto__ is a plain key', () => {
  assert.equal(out('{"Labels":{"a":"1","A":"2","a":"3","__proto__":"x"}}'), '{"Labels":{"a":"3","A":"2","__proto__":"x"}}');
  assert.equal(out('{"HostConfig":{"Sysctls":{"Net.x":"1"}}}'), '{"HostConfig":{"Sysctls":{"Net.x":"1"}}}');
});

test('unknown fields are dropped, nested too; top-level HostConfig fields are not Config fields', () => {
  assert.equal(out('{"Image":"x","Privileged":true,"Binds":["/:/h"],"HostConfig":{"Bogus":1}}'), '{"Image":"x","HostConfig":{}}');
});

test('Mounts vs Binds, local driver options', () => {
  const o = hc(read('{"HostConfig":{"binds":["/a:/b"],"MOUNTS":[{"type":"volume","volumeoptions":{"driverconfig":{"name":"local","options":{"o":"bind","device":"/etc"}}}}]}}'));
  assert.deepEqual(o.Binds, ['/a:/b']);
  assert.equal(serializeGo(o.Mounts ?? null), '[{"Type":"volume","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"o":"bind","device":"/etc"}}}}]');
});

test('strslice: a string or an array', () => {
  assert.deepEqual(hc(read('{"HostConfig":{"CapAdd":"SYS_ADMIN"}}')).CapAdd, ['SYS_ADMIN']);
  assert.deepEqual(read('{"Cmd":"echo hi"}').Cmd, ['echo hi']);
  assert.throws(() => read('{"Cmd":5}'), GoJsonError);
});

test('type mismatches are errors, as in Go', () => {
  for (const s of ['{"Image":1}', '{"HostConfig":{"Memory":"1g"}}', '{"HostConfig":{"Memory":1.5}}', '{"HostConfig":{"Memory":1e3}}', '{"HostConfig":{"Memory":9223372036854775808}}', '{"HostConfig":{"Privileged":"true"}}', '{"HostConfig":[]}', '{"Labels":{"a":1}}', '[]', '"x"']) {
    assert.throws(() => read(s), GoJsonError, s);
  }
  assert.equal(hc(read('{"HostConfig":{"Memory":-9223372036854775808}}')).Memory, -(2n ** 63n));
});

test('syntax: strict JSON, one value, no trailing data, bounded depth', () => {
  for (const s of ['', ' ', '{', '{"a":1,}', '{"a" 1}', "{'a':1}", '{"a":01}', '{"a":1.}', '{"a":-}', '{"a":tru}', '{"a":"\u0001"}', '{"a":"\\x"}', '{} {}', '{}x', '{"a":NaN}']) {
    assert.throws(() => parseJson(s), GoJsonError, JSON.stringify(s));
  }
  assert.throws(() => parseJson('['.repeat(500) + ']'.repeat(500)), GoJsonError);
  assert.deepEqual(parseJson(' {"a":[1,-0.5e+3,true,false,null,"x"]} \n'), {
    t: 'o',
    entries: [['a', { t: 'a', items: [{ t: 'n', raw: '1' }, { t: 'n', raw: '-0.5e+3' }, { t: 'b', v: true }, { t: 'b', v: false }, { t: 'z' }, { t: 's', v: 'x' }] }]],
  });
});

test('strings: invalid UTF-8 and lone surrogates become U+FFFD as in Go; pairs combine', () => {
  assert.equal(decodeUtf8Go(Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x28, 0xed, 0xa0, 0x80])), 'a\ufffdb\ufffd(\ufffd\ufffd\ufffd');
  const v = parseJson(Buffer.concat([Buffer.from('"'), Buffer.from([0xff]), Buffer.from('\\ud800\\u0041\\ud83d\\ude00\\udc00"')]));
  assert.deepEqual(v, { t: 's', v: '\ufffd\ufffdA\u{1f600}\ufffd' });
});

test('re-serialisation is a fixed point: reading the canonical form gives the same canonical form', () => {
  const s = '{"image":"x","hostconfig":{"memory":5,"binds":["/a:/b"],"CapAdd":"NET_ADMIN","PortBindings":{"80/tcp":[{"HostPort":"8080"}]}},"Labels":{"k":"v"},"ExposedPorts":{"80/tcp":{}}}';
  const once = out(s);
  assert.equal(out(once), once);
});

test('schema sanity: no Config field collides with a HostConfig field (20.10 reads top-level HostConfig fields)', () => {
  const cfg = Object.keys(GO_STRUCTS['ContainerConfig'] ?? {}).map(foldKey);
  const hcf = new Set(Object.keys(GO_STRUCTS['HostConfig'] ?? {}).map(foldKey));
  assert.ok(cfg.length > 10 && hcf.size > 30);
  assert.deepEqual(cfg.filter((f) => hcf.has(f)), []);
  for (const [name, fields] of Object.entries(GO_STRUCTS)) {
    const folded = Object.keys(fields).map(foldKey);
    assert.equal(new Set(folded).size, folded.length, `fold collision in ${name}`);
  }
});

test('fuzz: random bytes and mutated bodies only ever fail with GoJsonError', () => {
  let s = 777;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const seed = Buffer.from('{"Image":"x","HostConfig":{"Binds":["/a:/b"],"Privileged":false,"Memory":5,"Sysctls":{"net.x":"1"}},"Cmd":["a","b"],"Labels":{"k":"\\u00e9"}}');
  let ok = 0;
  for (let i = 0; i < 4000; i++) {
    const b = Buffer.from(seed);
    const n = 1 + Math.floor(r() * 4);
    for (let k = 0; k < n; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    try {
      const v = readGoBody(b, 'container-create');
      // what was read serialises to JSON that reads back to the same canonical form
      const once = serializeGo(v);
      assert.equal(serializeGo(readGoBody(Buffer.from(once), 'container-create')), once);
      ok++;
    } catch (e) {
      if (!(e instanceof GoJsonError)) throw e;
    }
  }
  assert.ok(ok > 100, `only ${ok} mutated bodies were readable`);
});
