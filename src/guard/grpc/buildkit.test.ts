// The checks on the two gRPC calls that start BuildKit builds (buildkit.ts): Control.Solve and LLBBridge.Solve,
// with a fake decide context (no daemon), requests written field by field as control.proto/gateway.proto number
// them, and a seeded mutation fuzz of checkSolve. The real daemon's side is in the integration tests.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeImageRef } from '../rules/image.js';
import type { DecideContext, OwnedRef, RouteDef } from '../types.js';
import { checkBridgeSolve, checkSolve, GRPC_METHODS, type GrpcDenial } from './buildkit.js';
import {
  decodeMessage,
  encodeMessage,
  readFields,
  writeFields,
  type Message,
  type Schema,
  type WireField,
} from './proto.js';

const OWNER = 'job1';
const OWNER_LABEL = 'label:io.nestling.owner';
const route: RouteDef = { id: 'grpc', method: 'POST', path: '/grpc', area: 'grpc', kind: 'h2c', body: 'none' };

/** image references the fake oracle knows (normalised as checkRefWritable asks): others do not exist */
const IMAGES = new Map<string, OwnedRef>([
  ['theirs:latest', { id: 'sha256:aa', owned: false }],
  ['theirs:v1', { id: 'sha256:ab', owned: false }],
  ['registry.example/team/theirs:latest', { id: 'sha256:ac', owned: false }],
  ['mine:latest', { id: 'sha256:bb', owned: true }],
]);

interface FakeCtx {
  ctx: DecideContext;
  /** every reference the oracle was asked about, in order */
  looked: string[];
}
function fakeCtx(defaults: { cgroupParent?: string } = {}): FakeCtx {
  const looked: string[] = [];
  const ctx = {
    owner: OWNER,
    policy: { defaults },
    oracle: {
      lookupImageRef: (ref: string) => {
        looked.push(ref);
        return Promise.resolve(IMAGES.get(ref));
      },
      lookup: () => Promise.resolve(undefined),
    },
    mappings: [],
    resolveHostPath: (p: string) => Promise.resolve(p),
  } as unknown as DecideContext;
  return { ctx, looked };
}

// control.proto SolveRequest and gateway.proto SolveRequest, as the test's own reading of the re-encoded output
const SOLVE: Schema = {
  1: { name: 'Ref', type: 'string' },
  2: { name: 'Definition', type: 'message' },
  3: { name: 'Exporter', type: 'string' },
  4: { name: 'ExporterAttrs', type: 'string-map' },
  5: { name: 'Session', type: 'string' },
  6: { name: 'Frontend', type: 'string' },
  7: { name: 'FrontendAttrs', type: 'string-map' },
  8: { name: 'Cache', type: 'message' },
  9: { name: 'Entitlements', type: 'string', repeated: true },
  10: { name: 'FrontendInputs', type: 'message-map' },
  11: { name: 'Internal', type: 'bool' },
  12: { name: 'SourcePolicy', type: 'message' },
  13: { name: 'Exporters', type: 'message', repeated: true },
  14: { name: 'EnableSessionExporter', type: 'bool' },
  15: { name: 'SourcePolicySession', type: 'string' },
  16: { name: 'CompatibilityVersion', type: 'int64' },
  17: { name: 'ProxyNetwork', type: 'bool' },
};
const EXPORTER: Schema = { 1: { name: 'Type', type: 'string' }, 2: { name: 'Attrs', type: 'string-map' } };
const BRIDGE: Schema = {
  1: { name: 'Definition', type: 'message' },
  2: { name: 'Frontend', type: 'string' },
  3: { name: 'FrontendOpt', type: 'string-map' },
  5: { name: 'allowResultReturn', type: 'bool' },
  6: { name: 'allowResultArrayRef', type: 'bool' },
  10: { name: 'Final', type: 'bool' },
  11: { name: 'ExporterAttr', type: 'bytes' },
  12: { name: 'CacheImports', type: 'message', repeated: true },
  13: { name: 'FrontendInputs', type: 'message-map' },
  14: { name: 'Evaluate', type: 'bool' },
  15: { name: 'SourcePolicies', type: 'message', repeated: true },
};

// ---- request builders (by field number) ----
const ld = (no: number, v: string | Buffer): WireField => ({
  no,
  wt: 2,
  bytes: typeof v === 'string' ? Buffer.from(v, 'utf8') : v,
});
const vi = (no: number, v: bigint): WireField => ({ no, wt: 0, varint: v });
const entry = (no: number, k: string, v: string | Buffer): WireField => ld(no, writeFields([ld(1, k), ld(2, v)]));
const attrs = (no: number, a: Record<string, string>): WireField[] =>
  Object.entries(a).map(([k, v]) => entry(no, k, v));
const exporter = (type: string, a: Record<string, string> = {}): WireField =>
  ld(13, writeFields([ld(1, type), ...attrs(2, a)]));
const req = (...fs: (WireField | WireField[])[]): Buffer => writeFields(fs.flat());

// LLB: Definition{1: repeated bytes op}; Op{2: ExecOp}; ExecOp{1: Meta}; Meta{1 args, 10 cgroupParent}
const meta = (cgroupParent?: string): Buffer =>
  writeFields([ld(1, 'sh'), ...(cgroupParent !== undefined ? [ld(10, cgroupParent)] : [])]);
const execOp = (...metas: Buffer[]): Buffer => writeFields(metas.map((m) => ld(1, m)));
const op = (...execs: Buffer[]): Buffer =>
  writeFields([ld(1, writeFields([ld(1, 'sha256:00')])), ...execs.map((e) => ld(2, e))]);
const sourceOp = (): Buffer =>
  writeFields([ld(3, writeFields([ld(1, 'docker-image://docker.io/library/alpine:latest')]))]);
const definition = (...ops: Buffer[]): Buffer =>
  writeFields([...ops.map((o) => ld(1, o)), entry(2, 'sha256:00', writeFields([vi(1, 1n)]))]);

// ---- result helpers ----
type Result = Buffer | GrpcDenial;
function isDenial(r: Result): r is GrpcDenial {
  return !Buffer.isBuffer(r);
}
function deniedBy(r: Result, rule: string, includes?: string): GrpcDenial {
  assert.ok(isDenial(r), `expected a denial by ${rule}, got a forwarded message`);
  assert.equal(r.rule, rule, r.message);
  assert.ok(r.message.startsWith(`nestling guard: denied by rule ${rule}: `), r.message);
  if (includes !== undefined) assert.ok(r.message.includes(includes), `${r.message} lacks ${includes}`);
  return r;
}
function forwarded(r: Result, schema: Schema = SOLVE): Message {
  assert.ok(Buffer.isBuffer(r), `expected a forwarded message, got ${isDenial(r) ? r.message : ''}`);
  return decodeMessage(r, schema, 'out');
}
const solve = (msg: Buffer, c: FakeCtx = fakeCtx()) => checkSolve(msg, c.ctx, route);
const bridge = (msg: Buffer, c: FakeCtx = fakeCtx()) => checkBridgeSolve(msg, c.ctx);
const strMap = (m: Message, name: string) =>
  (m.get(name) as Map<string, string> | undefined) ?? new Map<string, string>();

describe('Control.Solve: a plain request', () => {
  it('is forwarded re-encoded, fields kept, the owner label added for a frontend build', async () => {
    const def = definition(sourceOp());
    const msg = req(
      ld(1, 'ref-1'),
      ld(5, 'sess'),
      ld(6, 'dockerfile.v0'),
      attrs(7, { filename: 'Dockerfile', 'build-arg:A': '1' }),
      exporter('moby', { name: 'mine' }),
      ld(2, def),
    );
    const m = forwarded(await solve(msg));
    assert.equal(m.get('Ref'), 'ref-1');
    assert.equal(m.get('Session'), 'sess');
    assert.equal(m.get('Frontend'), 'dockerfile.v0');
    assert.deepEqual(m.get('Definition'), def);
    assert.deepEqual(
      strMap(m, 'FrontendAttrs'),
      new Map([
        ['filename', 'Dockerfile'],
        ['build-arg:A', '1'],
        [OWNER_LABEL, OWNER],
      ]),
    );
    const exps = m.get('Exporters') as Buffer[];
    assert.equal(exps.length, 1);
    assert.deepEqual(
      decodeMessage(exps[0] as Buffer, EXPORTER, 'e'),
      new Map<string, unknown>([
        ['Type', 'moby'],
        ['Attrs', new Map([['name', 'mine']])],
      ]),
    );
  });

  it('an empty request is forwarded as an empty message', async () => {
    const r = await solve(Buffer.alloc(0));
    assert.deepEqual(r, Buffer.alloc(0));
  });
});

describe('Control.Solve: entitlements', () => {
  it('any Entitlements value is refused (build-entitlement)', async () => {
    deniedBy(await solve(req(ld(9, 'network.host'))), 'build-entitlement', 'Entitlements=network.host');
    deniedBy(
      await solve(req(ld(6, 'dockerfile.v0'), ld(9, 'security.insecure'), ld(9, 'network.host'))),
      'build-entitlement',
      'security.insecure,network.host',
    );
    // even an empty one
    deniedBy(await solve(req(ld(9, ''))), 'build-entitlement');
  });

  it('ProxyNetwork true is refused; false is forwarded (and dropped as a default)', async () => {
    deniedBy(await solve(req(vi(17, 1n))), 'build-entitlement', 'ProxyNetwork=true');
    deniedBy(await solve(req(vi(17, 7n))), 'build-entitlement', 'ProxyNetwork');
    const m = forwarded(await solve(req(ld(1, 'r'), vi(17, 0n))));
    assert.equal(m.get('ProxyNetwork'), undefined);
    assert.equal(m.get('Ref'), 'r');
  });
});

describe('Control.Solve: exporters', () => {
  it('an image exporter naming an existing reference this owner did not create is refused (image-not-owned)', async () => {
    for (const type of ['moby', 'image']) {
      deniedBy(
        await solve(req(exporter(type, { name: 'theirs' }))),
        'image-not-owned',
        'Exporters[0].Attrs.name=theirs',
      );
      deniedBy(await solve(req(exporter(type, { name: 'theirs:v1' }))), 'image-not-owned');
      deniedBy(await solve(req(exporter(type, { name: 'registry.example/team/theirs' }))), 'image-not-owned');
    }
    // the second exporter is checked too
    deniedBy(
      await solve(req(exporter('moby', { name: 'mine' }), exporter('image', { name: 'theirs' }))),
      'image-not-owned',
      'Exporters[1]',
    );
  });

  it('owned and new references pass; the oracle is asked for the normalised reference', async () => {
    const c = fakeCtx();
    forwarded(
      await solve(req(exporter('moby', { name: 'mine' }), exporter('image', { name: 'brand-new:1', push: 'true' })), c),
    );
    assert.deepEqual(c.looked, ['mine:latest', 'brand-new:1']);
  });

  it('comma-separated names are each checked, spaces trimmed', async () => {
    const c = fakeCtx();
    deniedBy(
      await solve(req(exporter('moby', { name: ' mine , new ,theirs:v1 ' })), c),
      'image-not-owned',
      'name=theirs:v1',
    );
    assert.deepEqual(c.looked, ['mine:latest', 'new:latest', 'theirs:v1']);
    deniedBy(await solve(req(exporter('moby', { name: 'mine,theirs' }))), 'image-not-owned', 'name=theirs');
    deniedBy(await solve(req(exporter('moby', { name: 'theirs,mine' }))), 'image-not-owned', 'name=theirs');
    // empty elements are skipped, not looked up
    const c2 = fakeCtx();
    const m = forwarded(await solve(req(exporter('moby', { name: ',, mine,' })), c2));
    assert.deepEqual(c2.looked, ['mine:latest']);
    // the names are forwarded as sent
    assert.deepEqual(
      decodeMessage((m.get('Exporters') as Buffer[])[0] as Buffer, EXPORTER, 'e').get('Attrs'),
      new Map([['name', ',, mine,']]),
    );
  });

  it('the legacy Exporter + ExporterAttrs are checked the same way', async () => {
    deniedBy(
      await solve(req(ld(3, 'moby'), attrs(4, { name: 'theirs' }))),
      'image-not-owned',
      'Exporter.Attrs.name=theirs',
    );
    deniedBy(await solve(req(ld(3, 'image'), attrs(4, { name: 'mine, theirs:v1' }))), 'image-not-owned', 'theirs:v1');
    deniedBy(await solve(req(ld(3, 'moby'), attrs(4, { 'dangling-name-prefix': 'x' }))), 'build-exporter');
    deniedBy(await solve(req(ld(3, 'evil'))), 'build-exporter', 'Exporter.Type=evil');
    // attributes without a type are an exporter of type '' (unknown)
    deniedBy(await solve(req(attrs(4, { name: 'mine' }))), 'build-exporter', 'Exporter.Type=');
    const c = fakeCtx();
    const m = forwarded(await solve(req(ld(3, 'moby'), attrs(4, { name: 'mine' })), c));
    assert.deepEqual(c.looked, ['mine:latest']);
    assert.equal(m.get('Exporter'), 'moby');
    assert.deepEqual(m.get('ExporterAttrs'), new Map([['name', 'mine']]));
    // both forms in one request: both checked
    deniedBy(
      await solve(req(ld(3, 'moby'), attrs(4, { name: 'mine' }), exporter('moby', { name: 'theirs' }))),
      'image-not-owned',
      'Exporters[0]',
    );
    deniedBy(
      await solve(req(ld(3, 'moby'), attrs(4, { name: 'theirs' }), exporter('moby', { name: 'mine' }))),
      'image-not-owned',
      'Exporter.Attrs',
    );
  });

  it('an unknown exporter type is refused (build-exporter); names are case-sensitive', async () => {
    for (const type of ['evil', 'Moby', 'IMAGE', ''])
      deniedBy(await solve(req(exporter(type, { name: 'mine' }))), 'build-exporter', `Exporters[0].Type=${type}`);
  });

  it("the client's exporters (docker, oci, local, tar, cacheonly) are not checked", async () => {
    for (const type of ['docker', 'oci', 'local', 'tar', 'cacheonly']) {
      const c = fakeCtx();
      const m = forwarded(await solve(req(exporter(type, { name: 'theirs', 'dangling-name-prefix': 'x' })), c));
      assert.deepEqual(c.looked, [], type);
      assert.equal((m.get('Exporters') as Buffer[]).length, 1);
    }
  });

  it('dangling-name-prefix is refused for image exporters (build-exporter); empty is fine', async () => {
    deniedBy(
      await solve(req(exporter('moby', { 'dangling-name-prefix': 'x' }))),
      'build-exporter',
      'Exporters[0].Attrs.dangling-name-prefix=x',
    );
    deniedBy(await solve(req(exporter('image', { name: 'mine', 'dangling-name-prefix': 'p' }))), 'build-exporter');
    forwarded(await solve(req(exporter('moby', { 'dangling-name-prefix': '' }))));
  });

  it('an exporter the guard cannot read is refused (grpc-unreadable)', async () => {
    deniedBy(
      await solve(req(ld(13, writeFields([ld(1, 'moby'), ld(3, 'x')])))),
      'grpc-unreadable',
      'SolveRequest.Exporters[0].3',
    );
    deniedBy(
      await solve(req(ld(13, writeFields([ld(1, 'moby'), entry(2, 'name', 'a'), entry(2, 'name', 'theirs')])))),
      'grpc-unreadable',
      'given twice',
    );
    deniedBy(
      await solve(req(ld(13, writeFields([ld(1, 'moby'), ld(1, 'local')])))),
      'grpc-unreadable',
      'singular field given twice',
    );
  });
});

describe('Control.Solve: frontend and its attributes', () => {
  it("a frontend other than '', dockerfile.v0, gateway.v0 is refused (build-frontend)", async () => {
    for (const fe of ['dockerfile.v1', 'DOCKERFILE.V0', 'gateway.v0 ', 'x'])
      deniedBy(await solve(req(ld(6, fe))), 'build-frontend', `Frontend=${fe}`);
    for (const fe of ['', 'dockerfile.v0', 'gateway.v0']) forwarded(await solve(req(ld(6, fe))));
  });

  it('a reserved label is refused in any case spelling (reserved-label)', async () => {
    const keys = [
      'label:io.nestling.owner',
      'LABEL:IO.NESTLING.OWNER',
      'Label:Io.Nestling.x',
      'label: io.nestling.owner',
      'label:io.nestling.',
    ];
    for (const k of keys) {
      deniedBy(
        await solve(req(ld(6, 'dockerfile.v0'), attrs(7, { [k]: 'job2' }))),
        'reserved-label',
        `FrontendAttrs.${k}=job2`,
      );
      // also without a frontend (the attrs still reach the daemon)
      deniedBy(await solve(req(attrs(7, { [k]: 'job2' }))), 'reserved-label');
    }
    const m = forwarded(
      await solve(
        req(
          ld(6, 'dockerfile.v0'),
          attrs(7, { 'label:org.example': 'a', 'label:io.nestlingx': 'b', 'build-arg:io.nestling.owner': 'c' }),
        ),
      ),
    );
    assert.equal(strMap(m, 'FrontendAttrs').get('label:io.nestlingx'), 'b');
    assert.equal(strMap(m, 'FrontendAttrs').get('build-arg:io.nestling.owner'), 'c');
  });

  it("force-network-mode host is refused (build-host-network); 'none', 'default', 'sandbox' are not", async () => {
    for (const v of ['host', 'HOST', 'bridge', ' none'])
      deniedBy(
        await solve(req(ld(6, 'dockerfile.v0'), attrs(7, { 'force-network-mode': v }))),
        'build-host-network',
        `force-network-mode=${v}`,
      );
    deniedBy(
      await solve(req(ld(6, 'dockerfile.v0'), attrs(7, { 'Force-Network-Mode': 'host' }))),
      'build-host-network',
    );
    for (const v of ['none', 'default', 'sandbox', '']) {
      const m = forwarded(await solve(req(ld(6, 'dockerfile.v0'), attrs(7, { 'force-network-mode': v }))));
      assert.equal(strMap(m, 'FrontendAttrs').get('force-network-mode'), v);
    }
  });

  it('cgroup-parent is refused unless it is the policy one (cgroup-parent), and forced when set', async () => {
    deniedBy(
      await solve(req(ld(6, 'dockerfile.v0'), attrs(7, { 'cgroup-parent': 'system.slice' }))),
      'cgroup-parent',
      'FrontendAttrs.cgroup-parent=system.slice',
    );
    deniedBy(await solve(req(ld(6, 'dockerfile.v0'), attrs(7, { 'CGROUP-PARENT': '/' }))), 'cgroup-parent');
    // without a policy one, an empty value is no cgroup parent
    const none = forwarded(await solve(req(ld(6, 'dockerfile.v0'), attrs(7, { 'cgroup-parent': '' }))));
    assert.equal(strMap(none, 'FrontendAttrs').get('cgroup-parent'), '');
    // with a policy one
    const pol = () => fakeCtx({ cgroupParent: 'nestling.slice' });
    deniedBy(
      await solve(req(ld(6, 'dockerfile.v0'), attrs(7, { 'cgroup-parent': 'other.slice' })), pol()),
      'cgroup-parent',
      'other.slice',
    );
    const same = forwarded(
      await solve(req(ld(6, 'dockerfile.v0'), attrs(7, { 'cgroup-parent': 'nestling.slice' })), pol()),
    );
    assert.equal(strMap(same, 'FrontendAttrs').get('cgroup-parent'), 'nestling.slice');
    // forced: absent or empty becomes the policy one
    for (const given of [{}, { 'cgroup-parent': '' }]) {
      const m = forwarded(await solve(req(ld(6, 'dockerfile.v0'), attrs(7, given)), pol()));
      assert.equal(strMap(m, 'FrontendAttrs').get('cgroup-parent'), 'nestling.slice');
    }
    // not without a frontend (no frontend reads it)
    const noFe = forwarded(await solve(req(ld(1, 'r')), pol()));
    assert.equal(noFe.get('FrontendAttrs'), undefined);
  });

  it('remote contexts are refused (daemon-fetch)', async () => {
    const bad: Record<string, string>[] = [
      { context: 'https://example.com/repo.git' },
      { context: 'http://example.com/ctx.tar.gz' },
      { context: 'git://example.com/repo' },
      { context: 'git@github.com:o/r' },
      { context: 'github.com/o/r' },
      { context: 'ssh://git@example.com/r' },
      { context: '  https://example.com/x' },
      { context: 'repo.git' },
      { context: 'repo.git#main:sub' },
      { 'context:base': 'https://example.com/b.git' },
      { 'Context:Base': 'HTTPS://example.com/b' },
      { dockerfile: 'https://example.com/Dockerfile' },
    ];
    for (const a of bad) {
      const [k, v] = Object.entries(a)[0] as [string, string];
      deniedBy(await solve(req(ld(6, 'dockerfile.v0'), attrs(7, a))), 'daemon-fetch', `FrontendAttrs.${k}=${v}`);
    }
    for (const a of [
      { context: '.' },
      { 'context:base': 'local:base' },
      { dockerfile: 'Dockerfile' },
      { filename: 'https://x/y.git' },
    ]) {
      forwarded(await solve(req(ld(6, 'dockerfile.v0'), attrs(7, a))));
    }
  });

  it('with a frontend the owner label is added; without one nothing is added', async () => {
    for (const fe of ['dockerfile.v0', 'gateway.v0']) {
      const m = forwarded(await solve(req(ld(6, fe))));
      assert.deepEqual(strMap(m, 'FrontendAttrs'), new Map([[OWNER_LABEL, OWNER]]));
    }
    const plain = forwarded(await solve(req(ld(1, 'r'), ld(2, definition(sourceOp())))));
    assert.equal(plain.get('FrontendAttrs'), undefined);
    // attrs without a frontend are forwarded as given
    const given = forwarded(await solve(req(attrs(7, { a: '1' }))));
    assert.deepEqual(strMap(given, 'FrontendAttrs'), new Map([['a', '1']]));
    // the forwarded bytes carry the label as a map entry {1 key, 2 value} of field 7
    const raw = (await solve(req(ld(6, 'dockerfile.v0')))) as Buffer;
    assert.ok(raw.includes(writeFields([entry(7, OWNER_LABEL, OWNER)])));
  });
});

describe('Control.Solve: LLB definitions', () => {
  it('an exec op with a cgroupParent is refused (cgroup-parent)', async () => {
    deniedBy(
      await solve(req(ld(2, definition(sourceOp(), op(execOp(meta('evil.slice'))))))),
      'cgroup-parent',
      'Definition.Op.exec.meta.cgroupParent=evil.slice',
    );
    // without one, or empty, or the policy one: forwarded unchanged
    for (const [def, c] of [
      [definition(sourceOp(), op(execOp(meta()))), fakeCtx()],
      [definition(op(execOp(meta('')))), fakeCtx()],
      [definition(op(execOp(meta('nestling.slice')))), fakeCtx({ cgroupParent: 'nestling.slice' })],
    ] as const) {
      const m = forwarded(await solve(req(ld(2, def)), c));
      assert.deepEqual(m.get('Definition'), def);
    }
    deniedBy(
      await solve(req(ld(2, definition(op(execOp(meta('other.slice')))))), fakeCtx({ cgroupParent: 'nestling.slice' })),
      'cgroup-parent',
    );
  });

  it('a BuildOp (a nested build the daemon reads from a file) is refused (build-frontend)', async () => {
    deniedBy(await solve(req(ld(2, definition(writeFields([ld(5, Buffer.alloc(0))]))))), 'build-frontend');
  });

  it('every occurrence is read: a second Meta, ExecOp, op or cgroupParent carrying the bad value is refused', async () => {
    const good = meta();
    const bad = meta('evil.slice');
    const cases: [string, Buffer][] = [
      ['Meta twice', definition(op(execOp(good, bad)))],
      ['ExecOp twice', definition(op(execOp(good), execOp(bad)))],
      ['a later op', definition(op(execOp(good)), op(execOp(bad)))],
      ['cgroupParent twice in one Meta', definition(op(execOp(writeFields([ld(10, ''), ld(10, 'evil.slice')]))))],
      [
        'cgroupParent twice, policy value last',
        definition(op(execOp(writeFields([ld(10, 'evil.slice'), ld(10, 'nestling.slice')])))),
      ],
    ];
    for (const [name, def] of cases) {
      const r = await solve(req(ld(2, def)), fakeCtx({ cgroupParent: 'nestling.slice' }));
      assert.ok(isDenial(r), name);
      deniedBy(r, 'cgroup-parent', 'evil.slice');
    }
  });

  it('FrontendInputs definitions are checked too', async () => {
    deniedBy(
      await solve(req(ld(6, 'dockerfile.v0'), entry(10, 'context', definition(op(execOp(meta('x.slice'))))))),
      'cgroup-parent',
      'FrontendInputs.context.Op.exec.meta.cgroupParent=x.slice',
    );
    const def = definition(op(execOp(meta())));
    const m = forwarded(await solve(req(ld(6, 'dockerfile.v0'), entry(10, 'context', def))));
    assert.deepEqual(m.get('FrontendInputs'), new Map([['context', def]]));
  });

  it('a definition the guard cannot read is refused (grpc-unreadable)', async () => {
    // an op given as a varint
    deniedBy(await solve(req(ld(2, writeFields([vi(1, 1n)])))), 'grpc-unreadable', 'Definition.1');
    // exec given as a varint
    deniedBy(await solve(req(ld(2, definition(writeFields([vi(2, 1n)]))))), 'grpc-unreadable', 'Definition.Op.2');
    // meta running past its op
    deniedBy(await solve(req(ld(2, definition(op(Buffer.from([0x0a, 0x09, 0x52])))))), 'grpc-unreadable', 'runs past');
    deniedBy(await solve(req(ld(2, Buffer.from([0x0a, 0x05, 0x00])))), 'grpc-unreadable');
  });
});

describe('Control.Solve: unreadable requests', () => {
  it('unknown, repeated singular, wrong-typed or malformed fields are refused (grpc-unreadable)', async () => {
    deniedBy(await solve(req(ld(99, 'x'))), 'grpc-unreadable', 'SolveRequest.99=field 99 is not known');
    deniedBy(
      await solve(req(ld(1, 'a'), ld(1, 'b'))),
      'grpc-unreadable',
      'SolveRequest.Ref=a singular field given twice',
    );
    deniedBy(await solve(req(ld(6, 'dockerfile.v0'), ld(6, 'x'))), 'grpc-unreadable');
    deniedBy(await solve(req(entry(7, 'k', 'a'), entry(7, 'k', 'b'))), 'grpc-unreadable', 'given twice');
    deniedBy(await solve(req(vi(1, 1n))), 'grpc-unreadable', 'wire type 0 where 2');
    deniedBy(await solve(req(ld(1, Buffer.from([0xff])))), 'grpc-unreadable', 'UTF-8');
    deniedBy(await solve(Buffer.from([0x0a, 0x05, 0x61])), 'grpc-unreadable', 'runs past');
    deniedBy(await solve(Buffer.from([0x0b, 0x0c])), 'grpc-unreadable', 'wire type 3');
  });
});

describe('LLBBridge.Solve', () => {
  it('the same attribute checks on FrontendOpt', async () => {
    const fe = ld(2, 'dockerfile.v0');
    deniedBy(
      await bridge(req(fe, attrs(3, { 'LABEL:io.nestling.owner': 'x' }))),
      'reserved-label',
      'FrontendOpt.LABEL:io.nestling.owner=x',
    );
    deniedBy(
      await bridge(req(fe, attrs(3, { 'force-network-mode': 'host' }))),
      'build-host-network',
      'FrontendOpt.force-network-mode=host',
    );
    deniedBy(await bridge(req(fe, attrs(3, { 'cgroup-parent': 'a' }))), 'cgroup-parent', 'FrontendOpt.cgroup-parent=a');
    deniedBy(
      await bridge(req(fe, attrs(3, { context: 'https://example.com/r.git' }))),
      'daemon-fetch',
      'FrontendOpt.context=',
    );
    deniedBy(await bridge(req(ld(2, 'other.v0'))), 'build-frontend', 'Frontend=other.v0');
    const ok = forwarded(await bridge(req(fe, attrs(3, { 'force-network-mode': 'none' }))), BRIDGE);
    assert.equal(strMap(ok, 'FrontendOpt').get('force-network-mode'), 'none');
  });

  it('the owner label (and the policy cgroup parent) are added with a frontend only', async () => {
    const m = forwarded(
      await bridge(
        req(ld(2, 'dockerfile.v0'), attrs(3, { target: 't' }), vi(5, 1n)),
        fakeCtx({ cgroupParent: 'nestling.slice' }),
      ),
      BRIDGE,
    );
    assert.deepEqual(
      strMap(m, 'FrontendOpt'),
      new Map([
        ['target', 't'],
        ['cgroup-parent', 'nestling.slice'],
        [OWNER_LABEL, OWNER],
      ]),
    );
    assert.equal(m.get('allowResultReturn'), true);
    // no FrontendOpt at all: it is created
    const bare = forwarded(await bridge(req(ld(2, 'gateway.v0'))), BRIDGE);
    assert.deepEqual(strMap(bare, 'FrontendOpt'), new Map([[OWNER_LABEL, OWNER]]));
    // the policy cgroup parent is checked against the policy one, here too
    deniedBy(
      await bridge(
        req(ld(2, 'dockerfile.v0'), attrs(3, { 'cgroup-parent': 'x' })),
        fakeCtx({ cgroupParent: 'nestling.slice' }),
      ),
      'cgroup-parent',
    );
    const same = forwarded(
      await bridge(
        req(ld(2, 'dockerfile.v0'), attrs(3, { 'cgroup-parent': 'nestling.slice' })),
        fakeCtx({ cgroupParent: 'nestling.slice' }),
      ),
      BRIDGE,
    );
    assert.equal(strMap(same, 'FrontendOpt').get('cgroup-parent'), 'nestling.slice');
    const def = definition(sourceOp());
    const plain = forwarded(await bridge(req(ld(1, def), vi(10, 1n))), BRIDGE);
    assert.equal(plain.get('FrontendOpt'), undefined);
    assert.deepEqual(plain.get('Definition'), def);
    assert.equal(plain.get('Final'), true);
  });

  it('LLB definitions (Definition, FrontendInputs) are checked', async () => {
    deniedBy(
      await bridge(req(ld(1, definition(op(execOp(meta(), meta('evil'))))))),
      'cgroup-parent',
      'Definition.Op.exec.meta.cgroupParent=evil',
    );
    deniedBy(
      await bridge(req(ld(2, 'dockerfile.v0'), entry(13, 'ctx', definition(op(execOp(meta('evil'))))))),
      'cgroup-parent',
      'FrontendInputs.ctx.',
    );
  });

  it('the removed field 4 and unknown fields are refused (grpc-unreadable); field 3 is FrontendOpt, not ExporterAttrs', async () => {
    deniedBy(await bridge(req(ld(4, 'x'))), 'grpc-unreadable', 'LLBBridge.SolveRequest.4=');
    deniedBy(await bridge(req(ld(7, 'x'))), 'grpc-unreadable');
    deniedBy(await bridge(req(ld(2, 'a'), ld(2, 'b'))), 'grpc-unreadable', 'given twice');
    // Control.Solve's Entitlements field number (9) does not exist here
    deniedBy(await bridge(req(ld(9, 'network.host'))), 'grpc-unreadable');
  });
});

describe('GRPC_METHODS', () => {
  it('Solve calls are checked with their own schema; the rest passes or is refused by rule', async () => {
    const ctl = GRPC_METHODS['/moby.buildkit.v1.Control/Solve'];
    const br = GRPC_METHODS['/moby.buildkit.v1.frontend.LLBBridge/Solve'];
    assert.ok(ctl?.kind === 'check' && br?.kind === 'check');
    const msg = req(ld(2, 'dockerfile.v0'), attrs(3, { 'force-network-mode': 'host' }));
    // field 2 is a Definition and field 3 Exporter (a string, not a map) for Control.Solve: unreadable there
    deniedBy(await ctl.check(msg, fakeCtx().ctx, route), 'grpc-unreadable');
    deniedBy(await br.check(msg, fakeCtx().ctx, route), 'build-host-network');
    deniedBy(await ctl.check(req(ld(9, 'x')), fakeCtx().ctx, route), 'build-entitlement');
    assert.deepEqual(GRPC_METHODS['/moby.buildkit.v1.Control/Status'], { kind: 'pass' });
    assert.deepEqual(GRPC_METHODS['/moby.buildkit.v1.Control/Session'], { kind: 'pass' });
    assert.deepEqual(GRPC_METHODS['/moby.buildkit.v1.Control/Prune'], { kind: 'refuse', rule: 'system-wide' });
    assert.deepEqual(GRPC_METHODS['/moby.buildkit.v1.Control/DiskUsage'], { kind: 'refuse', rule: 'system-wide' });
    assert.deepEqual(GRPC_METHODS['/moby.buildkit.v1.frontend.LLBBridge/NewContainer'], {
      kind: 'refuse',
      rule: 'build-container',
    });
    assert.deepEqual(GRPC_METHODS['/moby.buildkit.v1.frontend.LLBBridge/ExecProcess'], {
      kind: 'refuse',
      rule: 'build-container',
    });
    assert.deepEqual(GRPC_METHODS['/moby.buildkit.v1.frontend.LLBBridge/Ping'], { kind: 'pass' });
    assert.equal(GRPC_METHODS['/moby.buildkit.v1.Control/Nope'], undefined);
    assert.equal(GRPC_METHODS['/moby.buildkit.v1.control/Solve'], undefined);
    assert.equal(Object.hasOwn(GRPC_METHODS, 'toString'), false);
  });
});

// ---- mutation fuzz ----

/** mulberry32: a small seeded PRNG, so a failure replays */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS: Buffer[] = [
  req(
    ld(1, 'ref-a'),
    ld(5, 'sess'),
    ld(6, 'dockerfile.v0'),
    attrs(7, { filename: 'Dockerfile', 'label:app': 'x', 'force-network-mode': 'none' }),
    exporter('moby', { name: 'mine,new' }),
  ),
  req(
    ld(1, 'ref-b'),
    ld(2, definition(sourceOp(), op(execOp(meta())))),
    exporter('image', { name: 'mine', push: 'true' }),
    exporter('local'),
  ),
  req(
    ld(3, 'moby'),
    attrs(4, { name: 'new:1' }),
    ld(6, 'gateway.v0'),
    attrs(7, { source: 'docker/dockerfile:1', 'cgroup-parent': '' }),
    entry(10, 'context', definition(op(execOp(meta(''))))),
    vi(11, 1n),
    vi(16, 3n),
  ),
  req(
    ld(6, 'dockerfile.v0'),
    ld(9, 'network.host'),
    attrs(7, { context: '.' }),
    exporter('docker', { name: 'theirs' }),
  ),
  req(ld(1, 'ref-c'), attrs(7, { 'build-arg:X': 'é✓' }), vi(14, 1n), ld(15, 'sp'), vi(17, 0n)),
];

/** fields each check must catch, spliced into valid messages whole */
const HOSTILE: WireField[] = [
  ld(9, 'network.host'),
  vi(17, 1n),
  ld(6, 'dockerfile.v1'),
  exporter('moby', { name: 'mine,theirs' }),
  exporter('image', { 'dangling-name-prefix': 'x' }),
  exporter('evil'),
  ...attrs(7, {
    'LABEL:io.nestling.owner': 'job2',
    'force-network-mode': 'host',
    'cgroup-parent': 'evil.slice',
    context: 'https://example.com/r.git',
  }),
  ld(3, 'moby'),
  ...attrs(4, { name: 'theirs:v1' }),
  ld(2, definition(op(execOp(meta(), meta('evil.slice'))))),
  entry(10, 'ctx', definition(op(execOp(meta('evil.slice'))))),
];

function mutate(rnd: () => number, pick: () => Buffer): Buffer {
  const int = (n: number) => Math.floor(rnd() * n);
  let b: Buffer = Buffer.from(pick());
  const rounds = rnd() < 0.6 ? 1 : 2 + int(2);
  for (let r = 0; r < rounds; r++) {
    switch (int(8)) {
      case 0: {
        // bit flips
        if (b.length === 0) break;
        for (let k = 1 + int(3); k > 0; k--) {
          const i = int(b.length);
          b[i] = (b[i] as number) ^ (1 << int(8));
        }
        break;
      }
      case 1: {
        // insert a byte (random or interesting)
        const interesting = [0x00, 0x01, 0x02, 0x08, 0x0a, 0x48, 0x4a, 0x7f, 0x80, 0xff, 0x88, 0x8a];
        const v = rnd() < 0.5 ? int(256) : (interesting[int(interesting.length)] as number);
        const i = int(b.length + 1);
        b = Buffer.concat([b.subarray(0, i), Buffer.from([v]), b.subarray(i)]);
        break;
      }
      case 2: {
        // delete one or a few bytes
        if (b.length === 0) break;
        const i = int(b.length);
        b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + int(3))]);
        break;
      }
      case 3:
        // truncate
        b = b.subarray(0, int(b.length + 1));
        break;
      case 4: {
        // splice: a prefix of this one and a suffix of another valid message
        const o = pick();
        b = Buffer.concat([b.subarray(0, int(b.length + 1)), o.subarray(int(o.length + 1))]);
        break;
      }
      case 5: {
        // field splice: whole fields of another valid message (or a hostile one) inserted between this one's fields
        let fs: WireField[];
        try {
          fs = readFields(b, 'm');
        } catch {
          break;
        }
        const donor = rnd() < 0.5 ? readFields(pick(), 'd') : HOSTILE;
        const f = donor[int(donor.length)];
        if (f) fs.splice(int(fs.length + 1), 0, f);
        b = writeFields(fs);
        break;
      }
      case 6: {
        // field drop or swap: the same fields in another order, or one fewer
        let fs: WireField[];
        try {
          fs = readFields(b, 'm');
        } catch {
          break;
        }
        if (fs.length === 0) break;
        const i = int(fs.length);
        if (rnd() < 0.5) fs.splice(i, 1);
        else fs.push(...fs.splice(i, 1));
        b = writeFields(fs);
        break;
      }
      default: {
        // overwrite a byte
        if (b.length === 0) break;
        b[int(b.length)] = int(256);
      }
    }
  }
  return b;
}

/** The entitlements a decoder that reads top-level fields would find (Go reads every occurrence of field 9). */
function hasEntitlements(msg: Buffer): boolean {
  try {
    return readFields(msg, 'x').some((f) => f.no === 9 || (f.no === 17 && f.wt === 0 && f.varint !== 0n));
  } catch {
    return false; // unreadable: checkSolve must refuse it anyway (asserted below)
  }
}

function readable(msg: Buffer): boolean {
  try {
    readFields(msg, 'x');
    return true;
  } catch {
    return false;
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`checkSolve did not settle within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

describe('Control.Solve mutation fuzz', () => {
  it('the seeds are forwarded (all but the one with entitlements)', async () => {
    for (const [i, s] of SEEDS.entries()) {
      const r = await solve(s);
      if (i === 3) deniedBy(r, 'build-entitlement');
      else forwarded(r);
    }
  });

  it('5,000 mutations: a re-encoded message or a denial, never a throw or a hang; what is forwarded is canonical and checked', async () => {
    const rnd = mulberry32(0x6e65_7374);
    const pick = () => SEEDS[Math.floor(rnd() * SEEDS.length)] as Buffer;
    const counts = { forwarded: 0, denied: 0, unreadable: 0 };
    const rules = new Map<string, number>();
    const started = Date.now();
    for (let n = 0; n < 5000; n++) {
      const input = mutate(rnd, pick);
      const copy = Buffer.from(input);
      const hex = input.toString('hex');
      const c = fakeCtx({ cgroupParent: n % 2 === 0 ? 'nestling.slice' : undefined } as { cgroupParent?: string });
      let r: Result;
      try {
        r = await withDeadline(checkSolve(input, c.ctx, route), 2000, hex);
      } catch (e) {
        assert.fail(`checkSolve threw on ${hex}: ${String(e)}`);
      }
      assert.deepEqual(input, copy, `checkSolve changed its input ${hex}`);
      if (isDenial(r)) {
        assert.equal(typeof r.rule, 'string');
        assert.ok(r.rule.length > 0);
        assert.ok(r.message.startsWith(`nestling guard: denied by rule ${r.rule}`), `${hex}: ${r.message}`);
        counts[r.rule === 'grpc-unreadable' ? 'unreadable' : 'denied']++;
        rules.set(r.rule, (rules.get(r.rule) ?? 0) + 1);
        continue;
      }
      counts.forwarded++;
      assert.ok(Buffer.isBuffer(r));
      assert.ok(readable(input), `an unreadable input was forwarded: ${hex}`);
      assert.ok(!hasEntitlements(input), `entitlements forwarded: ${hex}`);
      let m: Message;
      try {
        m = decodeMessage(r, SOLVE, 'out');
      } catch (e) {
        assert.fail(`the forwarded message does not decode (${String(e)}): in ${hex} out ${r.toString('hex')}`);
      }
      assert.deepEqual(encodeMessage(m, SOLVE), r, `re-encoding is not a fixed point: in ${hex}`);
      // what the daemon gets passed every check
      assert.equal(m.get('Entitlements'), undefined);
      assert.notEqual(m.get('ProxyNetwork'), true);
      const fe = (m.get('Frontend') as string | undefined) ?? '';
      assert.ok(['', 'dockerfile.v0', 'gateway.v0'].includes(fe), `frontend ${fe}`);
      const fa = strMap(m, 'FrontendAttrs');
      if (fe !== '') assert.equal(fa.get(OWNER_LABEL), OWNER, `no owner label: in ${hex}`);
      for (const [k, v] of fa) {
        const key = k.toLowerCase();
        if (key.startsWith('label:') && key.slice(6).trim().startsWith('io.nestling.'))
          assert.ok(k === OWNER_LABEL && v === OWNER, `reserved label ${k}=${v} forwarded: ${hex}`);
        if (key === 'force-network-mode')
          assert.ok(['', 'default', 'sandbox', 'none'].includes(v), `network mode ${v}`);
        if (key === 'cgroup-parent') assert.ok(v === '' || v === 'nestling.slice', `cgroup-parent ${v}`);
      }
      const exps: [string, Map<string, string>][] = ((m.get('Exporters') as Buffer[] | undefined) ?? []).map((b) => {
        const e = decodeMessage(b, EXPORTER, 'e');
        return [
          (e.get('Type') as string | undefined) ?? '',
          (e.get('Attrs') as Map<string, string> | undefined) ?? new Map<string, string>(),
        ];
      });
      if (m.has('Exporter') || m.has('ExporterAttrs'))
        exps.push([(m.get('Exporter') as string | undefined) ?? '', strMap(m, 'ExporterAttrs')]);
      for (const [type, a] of exps) {
        assert.ok(['moby', 'image', 'docker', 'oci', 'local', 'tar', 'cacheonly'].includes(type), `exporter ${type}`);
        if (type !== 'moby' && type !== 'image') continue;
        assert.ok((a.get('dangling-name-prefix') ?? '') === '');
        for (const name of (a.get('name') ?? '').split(',')) {
          const t = name.trim();
          if (t !== '')
            assert.notEqual(IMAGES.get(normalizeImageRef(t))?.owned, false, `image ${t} not owned, forwarded: ${hex}`);
        }
      }
    }
    // the fuzz reached every outcome
    assert.ok(counts.forwarded > 100, JSON.stringify(counts));
    assert.ok(counts.denied > 50, JSON.stringify(counts));
    assert.ok(counts.unreadable > 1000, JSON.stringify(counts));
    for (const rule of [
      'build-entitlement',
      'build-frontend',
      'build-exporter',
      'image-not-owned',
      'reserved-label',
      'build-host-network',
      'cgroup-parent',
      'daemon-fetch',
    ]) {
      assert.ok((rules.get(rule) ?? 0) > 0, `no mutation was denied by ${rule}: ${JSON.stringify([...rules])}`);
    }
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });
});
