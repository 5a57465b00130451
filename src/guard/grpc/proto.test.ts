// The strict protobuf wire reader/writer (proto.ts): varints as Go reads them, every malformed or ambiguous
// spelling refused (ProtoError), canonical re-encoding, and gRPC's length-prefixed framing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMessage,
  encodeMessage,
  grpcFrame,
  grpcMessages,
  ProtoError,
  readFields,
  writeFields,
  type FieldValue,
  type Message,
  type Schema,
  type WireField,
} from './proto.js';

const S: Schema = {
  1: { name: 's', type: 'string' },
  2: { name: 'b', type: 'bytes' },
  3: { name: 'ok', type: 'bool' },
  4: { name: 'n', type: 'int64' },
  5: { name: 'm', type: 'message' },
  6: { name: 'rs', type: 'string', repeated: true },
  7: { name: 'sm', type: 'string-map' },
  8: { name: 'mm', type: 'message-map' },
  9: { name: 'rb', type: 'bytes', repeated: true },
};

const B = (...bytes: number[]) => Buffer.from(bytes);
const ld = (no: number, v: string | Buffer): WireField => ({
  no,
  wt: 2,
  bytes: typeof v === 'string' ? Buffer.from(v, 'utf8') : v,
});
const vi = (no: number, v: bigint): WireField => ({ no, wt: 0, varint: v });
/** a map entry: {1 key, 2 value}, either left out when undefined */
const entry = (no: number, k: string | Buffer | undefined, v: string | Buffer | undefined): WireField => {
  const f: WireField[] = [];
  if (k !== undefined) f.push(ld(1, k));
  if (v !== undefined) f.push(ld(2, v));
  return ld(no, writeFields(f));
};
const decode = (buf: Buffer) => decodeMessage(buf, S, 'T');

/** asserts a ProtoError whose message matches `re` (and whose field is `field`, when given) */
function refused(fn: () => unknown, re: RegExp, field?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtoError, `not a ProtoError: ${String(e)}`);
    assert.match(e.message, re);
    if (field !== undefined) assert.equal(e.field, field);
    return true;
  });
}

describe('varints', () => {
  const cases: [bigint, number][] = [
    [0n, 1],
    [1n, 1],
    [127n, 1],
    [128n, 2],
    [300n, 2],
    [2n ** 32n, 5],
    [2n ** 63n, 10],
    [2n ** 64n - 1n, 10],
  ];
  for (const [v, len] of cases) {
    it(`${v} round trips in ${len} byte(s)`, () => {
      const buf = writeFields([vi(1, v)]);
      assert.equal(buf.length, 1 + len);
      assert.equal(buf[0], 0x08);
      const f = readFields(buf, 'T');
      assert.equal(f.length, 1);
      assert.deepEqual(f[0], { no: 1, wt: 0, varint: v });
    });
  }

  it('exact encodings: 128 is 80 01, 300 is ac 02, 2^63 is 80x9 01', () => {
    assert.deepEqual(writeFields([vi(1, 128n)]), B(0x08, 0x80, 0x01));
    assert.deepEqual(writeFields([vi(1, 300n)]), B(0x08, 0xac, 0x02));
    assert.deepEqual(
      writeFields([vi(1, 2n ** 63n)]),
      B(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
    );
  });

  it('-1 as int64 is ten bytes (ff x9 01) and reads back as -1', () => {
    const buf = writeFields([vi(4, -1n)]);
    assert.deepEqual(buf, B(0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
    assert.equal(readFields(buf, 'T')[0]?.varint, 2n ** 64n - 1n);
    assert.equal(decode(buf).get('n'), -1n);
    assert.deepEqual(encodeMessage(new Map([['n', -1n]]), S), buf);
    assert.equal(decode(writeFields([vi(4, -(2n ** 63n))])).get('n'), -(2n ** 63n));
    assert.equal(decode(writeFields([vi(4, 2n ** 63n - 1n)])).get('n'), 2n ** 63n - 1n);
  });

  it('non-canonical (padded) varints up to 10 bytes are read, as Go reads them', () => {
    // 0 in ten bytes
    assert.equal(readFields(B(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 'T')[0]?.varint, 0n);
    // 1 in two bytes; a padded key (field 1, varint) too
    assert.equal(readFields(B(0x08, 0x81, 0x00), 'T')[0]?.varint, 1n);
    assert.deepEqual(readFields(B(0x88, 0x00, 0x05), 'T'), [{ no: 1, wt: 0, varint: 5n }]);
  });

  it('an 11-byte varint is refused', () => {
    refused(
      () => readFields(B(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 'T'),
      /longer than 10 bytes/,
      'T.1',
    );
    refused(
      () => readFields(B(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 'T'),
      /longer than 10 bytes/,
    );
    // as a key, too
    refused(
      () => readFields(B(0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 'T'),
      /longer than 10 bytes/,
      'T',
    );
  });

  it('a 10th byte above 1 overflows 64 bits and is refused', () => {
    for (const last of [0x02, 0x03, 0x7f]) {
      refused(
        () => readFields(B(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, last), 'T'),
        /overflows 64 bits/,
        'T.1',
      );
    }
    // in a length, too
    refused(
      () => readFields(B(0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02), 'T'),
      /overflows 64 bits/,
    );
  });

  it('a truncated varint is refused (value, key, length)', () => {
    refused(() => readFields(B(0x08), 'T'), /truncated varint/, 'T.1');
    refused(() => readFields(B(0x08, 0x80), 'T'), /truncated varint/, 'T.1');
    refused(() => readFields(B(0x08, 0xff, 0xff, 0xff), 'T'), /truncated varint/);
    refused(() => readFields(B(0x88), 'T'), /truncated varint/, 'T');
    refused(() => readFields(B(0x0a), 'T'), /truncated varint/, 'T.1');
    refused(() => readFields(B(0x0a, 0x81), 'T'), /truncated varint/, 'T.1');
  });
});

describe('readFields: framing', () => {
  it('reads each wire type it accepts, in wire order, with the field number', () => {
    const buf = Buffer.concat([
      B(0x10, 0x07),
      B(0x0a, 0x02, 0x61, 0x62),
      B(0x19, 1, 2, 3, 4, 5, 6, 7, 8),
      B(0x25, 9, 8, 7, 6),
    ]);
    const f = readFields(buf, 'T');
    assert.deepEqual(
      f.map((x) => [x.no, x.wt]),
      [
        [2, 0],
        [1, 2],
        [3, 1],
        [4, 5],
      ],
    );
    assert.equal(f[0]?.varint, 7n);
    assert.deepEqual(f[1]?.bytes, B(0x61, 0x62));
    assert.deepEqual(f[2]?.bytes, B(1, 2, 3, 4, 5, 6, 7, 8));
    assert.deepEqual(f[3]?.bytes, B(9, 8, 7, 6));
    // writeFields writes the same bytes back
    assert.deepEqual(writeFields(f), buf);
    assert.deepEqual(readFields(Buffer.alloc(0), 'T'), []);
  });

  it('a length-delimited field running past the end is refused', () => {
    refused(() => readFields(B(0x0a, 0x05, 0x61, 0x62), 'T'), /runs past the message/, 'T.1');
    refused(() => readFields(B(0x0a, 0x01), 'T'), /runs past the message/, 'T.1');
    // a huge length (2^63) is compared, not converted
    refused(
      () => readFields(B(0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x61), 'T'),
      /runs past the message/,
    );
    // exactly to the end is fine, and so is zero length
    assert.deepEqual(readFields(B(0x0a, 0x01, 0x61, 0x12, 0x00), 'T'), [
      { no: 1, wt: 2, bytes: B(0x61) },
      { no: 2, wt: 2, bytes: Buffer.alloc(0) },
    ]);
  });

  it('truncated fixed-width fields are refused', () => {
    refused(() => readFields(B(0x09, 1, 2, 3, 4, 5, 6, 7), 'T'), /truncated fixed-width/, 'T.1');
    refused(() => readFields(B(0x0d, 1, 2, 3), 'T'), /truncated fixed-width/, 'T.1');
  });

  it('wire types 3, 4, 6 and 7 are refused', () => {
    for (const wt of [3, 4, 6, 7])
      refused(() => readFields(B((5 << 3) | wt, 0x00, 0x00), 'T'), new RegExp(`wire type ${wt}\\b`), 'T.5');
  });

  it('field number 0 is refused; the largest (2^29-1) is read; a key above 32 bits is refused', () => {
    refused(() => readFields(B(0x00, 0x00), 'T'), /invalid field number 0/);
    refused(() => readFields(B(0x02, 0x00), 'T'), /invalid field number 0/);
    // 0 padded in two bytes is still 0
    refused(() => readFields(B(0x80, 0x00, 0x01), 'T'), /invalid field number 0/);
    const max = 536_870_911;
    const buf = writeFields([vi(max, 1n)]);
    assert.deepEqual(readFields(buf, 'T'), [{ no: max, wt: 0, varint: 1n }]);
    // key 2^32 (field 2^29, wire type 0)
    refused(() => readFields(B(0x80, 0x80, 0x80, 0x80, 0x10, 0x01), 'T'), /key out of range/);
    // a key whose high bits would wrap to field 1 if truncated to 32 bits
    refused(() => readFields(B(0x88, 0x80, 0x80, 0x80, 0x10, 0x01), 'T'), /key out of range/);
  });
});

describe('decodeMessage', () => {
  it('reads each field type by the schema', () => {
    const buf = writeFields([
      ld(1, 'héllo ✓'),
      ld(2, B(0xff, 0x00)),
      vi(3, 1n),
      vi(4, 42n),
      ld(5, B(0x08, 0x01)),
      ld(6, 'a'),
      ld(6, ''),
      ld(6, 'b'),
      entry(7, 'k1', 'v1'),
      entry(7, 'k2', 'v2'),
      entry(8, 'd', B(0x0a, 0x00)),
      ld(9, B(1)),
      ld(9, B(2)),
    ]);
    const m = decode(buf);
    assert.equal(m.get('s'), 'héllo ✓');
    assert.deepEqual(m.get('b'), B(0xff, 0x00));
    assert.equal(m.get('ok'), true);
    assert.equal(m.get('n'), 42n);
    assert.deepEqual(m.get('m'), B(0x08, 0x01));
    assert.deepEqual(m.get('rs'), ['a', '', 'b']);
    assert.deepEqual(
      m.get('sm'),
      new Map([
        ['k1', 'v1'],
        ['k2', 'v2'],
      ]),
    );
    assert.deepEqual(m.get('mm'), new Map([['d', B(0x0a, 0x00)]]));
    assert.deepEqual(m.get('rb'), [B(1), B(2)]);
    assert.equal(m.size, 9);
  });

  it('decoded bytes are copies: changing the input afterwards changes nothing', () => {
    const buf = writeFields([ld(2, B(1, 2, 3)), ld(5, B(4)), entry(8, 'k', B(5)), ld(9, B(6))]);
    const m = decode(buf);
    buf.fill(0);
    assert.deepEqual(m.get('b'), B(1, 2, 3));
    assert.deepEqual(m.get('m'), B(4));
    assert.deepEqual((m.get('mm') as Map<string, Buffer>).get('k'), B(5));
    assert.deepEqual(m.get('rb'), [B(6)]);
  });

  it('an unknown field is refused', () => {
    refused(() => decode(writeFields([ld(1, 'x'), vi(20, 1n)])), /field 20 is not known/, 'T.20');
    refused(() => decode(writeFields([ld(10, 'x')])), /not known/, 'T.10');
  });

  it('a singular field given twice is refused, whatever its type; repeated fields are not', () => {
    const twice: WireField[][] = [
      [ld(1, 'a'), ld(1, 'b')],
      [ld(1, ''), ld(1, 'b')],
      [ld(1, 'a'), ld(1, 'a')],
      [ld(2, 'a'), ld(2, 'b')],
      [vi(3, 0n), vi(3, 1n)],
      [vi(4, 1n), vi(4, 2n)],
      [ld(5, ''), ld(5, B(0x08, 0x01))],
      [ld(5, B(0x08, 0x01)), ld(1, 'x'), ld(5, B(0x10, 0x01))],
    ];
    for (const fs of twice) refused(() => decode(writeFields(fs)), /singular field given twice/);
    assert.deepEqual(decode(writeFields([ld(6, 'a'), ld(1, 'x'), ld(6, 'a')])).get('rs'), ['a', 'a']);
  });

  it('a map key given twice is refused (the daemon keeps the last)', () => {
    refused(() => decode(writeFields([entry(7, 'k', 'a'), entry(7, 'k', 'b')])), /map key "k" given twice/, 'T.sm');
    refused(() => decode(writeFields([entry(8, 'k', B(1)), entry(8, 'k', B(1))])), /given twice/, 'T.mm');
    // a missing key is the key '': twice is a duplicate too
    refused(() => decode(writeFields([entry(7, undefined, 'a'), entry(7, '', 'b')])), /map key "" given twice/);
    // keys differing in case are distinct
    assert.equal(
      (decode(writeFields([entry(7, 'k', 'a'), entry(7, 'K', 'b')])).get('sm') as Map<string, string>).size,
      2,
    );
  });

  it('map entries with a missing key or value default to empty', () => {
    const m = decode(
      writeFields([
        entry(7, undefined, 'v'),
        entry(7, 'k', undefined),
        entry(8, 'x', undefined),
        ld(8, Buffer.alloc(0)),
      ]),
    );
    assert.deepEqual(
      m.get('sm'),
      new Map([
        ['', 'v'],
        ['k', ''],
      ]),
    );
    assert.deepEqual(
      m.get('mm'),
      new Map([
        ['x', Buffer.alloc(0)],
        ['', Buffer.alloc(0)],
      ]),
    );
  });

  it('inside a map entry: an unknown field, a wrong wire type, a key or value given twice are refused', () => {
    refused(
      () => decode(writeFields([ld(7, writeFields([ld(1, 'k'), ld(2, 'v'), ld(3, 'x')]))])),
      /unexpected field 3 in a map entry/,
      'T.sm',
    );
    refused(
      () => decode(writeFields([ld(7, writeFields([ld(1, 'k'), vi(2, 1n)]))])),
      /unexpected field 2 in a map entry/,
    );
    refused(() => decode(writeFields([ld(7, writeFields([vi(1, 1n)]))])), /unexpected field 1/);
    refused(() => decode(writeFields([ld(7, writeFields([ld(1, 'k'), ld(1, 'j'), ld(2, 'v')]))])), /key given twice/);
    refused(() => decode(writeFields([ld(8, writeFields([ld(1, 'k'), ld(2, 'v'), ld(2, 'w')]))])), /value given twice/);
    // a malformed entry
    refused(() => decode(writeFields([ld(7, B(0x0a, 0x05, 0x61))])), /runs past/);
  });

  it('invalid UTF-8 in a string is refused (string, repeated string, map key, map value); bytes are not checked', () => {
    const bad = [B(0xff), B(0x61, 0x80), B(0xc0, 0xaf), B(0xed, 0xa0, 0x80), B(0xf4, 0x90, 0x80, 0x80), B(0xe2, 0x82)];
    for (const b of bad) {
      refused(() => decode(writeFields([ld(1, b)])), /not valid UTF-8/, 'T.s');
      refused(() => decode(writeFields([ld(6, 'ok'), ld(6, b)])), /not valid UTF-8/, 'T.rs');
      refused(() => decode(writeFields([entry(7, b, 'v')])), /not valid UTF-8/, 'T.sm');
      refused(() => decode(writeFields([entry(7, 'k', b)])), /not valid UTF-8/, 'T.sm');
      refused(() => decode(writeFields([entry(8, b, B(1))])), /not valid UTF-8/, 'T.mm');
      assert.deepEqual(decode(writeFields([ld(2, b)])).get('b'), b);
      assert.deepEqual(decode(writeFields([entry(8, 'k', b)])).get('mm'), new Map([['k', b]]));
    }
    // a leading byte-order mark is part of the string (Go keeps it): read and re-encoded as sent
    const bom = decode(writeFields([ld(1, B(0xef, 0xbb, 0xbf, 0x61))]));
    assert.equal(bom.get('s'), '\ufeffa');
    // 4-byte sequences and U+10FFFF are valid
    assert.equal(
      decode(writeFields([ld(1, B(0xf4, 0x8f, 0xbf, 0xbf, 0xf0, 0x9f, 0x98, 0x80))])).get('s'),
      '\u{10ffff}\u{1f600}',
    );
  });

  it('a wrong wire type is refused', () => {
    refused(() => decode(writeFields([vi(1, 1n)])), /wire type 0 where 2 was expected/, 'T.s');
    refused(() => decode(writeFields([ld(3, B(1))])), /wire type 2 where 0 was expected/, 'T.ok');
    refused(() => decode(writeFields([{ no: 4, wt: 1, bytes: Buffer.alloc(8) }])), /wire type 1 where 0/, 'T.n');
    refused(() => decode(writeFields([{ no: 5, wt: 5, bytes: Buffer.alloc(4) }])), /wire type 5 where 2/, 'T.m');
    refused(() => decode(writeFields([vi(7, 0n)])), /wire type 0 where 2/, 'T.sm');
    refused(() => decode(writeFields([vi(6, 0n)])), /wire type 0 where 2/, 'T.rs');
  });

  it('a bool is true for any non-zero varint; an int64 is the two-complement of the 64-bit value', () => {
    assert.equal(decode(writeFields([vi(3, 2n)])).get('ok'), true);
    assert.equal(decode(writeFields([vi(3, 2n ** 63n)])).get('ok'), true);
    assert.equal(decode(writeFields([vi(3, 0n)])).get('ok'), false);
    assert.equal(decode(writeFields([vi(4, 2n ** 64n - 2n)])).get('n'), -2n);
  });
});

describe('encodeMessage', () => {
  it('writes fields in number order with canonical varints, and decodes to the same Message', () => {
    // out of order, padded varints, a bool given as 5
    const input = Buffer.concat([
      writeFields([entry(7, 'z', '1'), entry(7, 'a', '2'), ld(6, 'y'), ld(6, 'x')]),
      B(0x98, 0x00, 0x05), // field 3 (bool) with a padded key, value 5
      B(0x20, 0x81, 0x80, 0x00), // field 4 = 1, padded
      writeFields([ld(1, 's'), ld(9, B(7)), entry(8, 'k', B(0x08, 0x01))]),
    ]);
    const m = decode(input);
    const out = encodeMessage(m, S);
    const want = writeFields([
      ld(1, 's'),
      vi(3, 1n),
      vi(4, 1n),
      ld(6, 'y'),
      ld(6, 'x'),
      entry(7, 'z', '1'),
      entry(7, 'a', '2'),
      entry(8, 'k', B(0x08, 0x01)),
      ld(9, B(7)),
    ]);
    assert.deepEqual(out, want);
    assert.deepEqual(decode(out), m);
    // a fixed point
    assert.deepEqual(encodeMessage(decode(out), S), out);
  });

  it('proto3 defaults are omitted: empty singular string, false, 0, empty map key and string value', () => {
    const m: Message = new Map<string, FieldValue>([
      ['s', ''],
      ['ok', false],
      ['n', 0n],
      ['sm', new Map([['', '']])],
    ]);
    // the map entry stays (a key '' is a key), its empty key and value are left out
    assert.deepEqual(encodeMessage(m, S), B(0x3a, 0x00));
    assert.deepEqual(
      encodeMessage(
        new Map<string, string | bigint | boolean>([
          ['s', ''],
          ['ok', false],
          ['n', 0n],
        ]),
        S,
      ),
      Buffer.alloc(0),
    );
    // decoding explicit defaults and re-encoding drops them
    assert.deepEqual(encodeMessage(decode(writeFields([ld(1, ''), vi(3, 0n), vi(4, 0n)])), S), Buffer.alloc(0));
    // a message-map value is always written (a present, empty message is not absent)
    assert.deepEqual(encodeMessage(new Map([['mm', new Map([['', Buffer.alloc(0)]])]]), S), B(0x42, 0x02, 0x12, 0x00));
    // repeated strings keep their empty elements, in order
    assert.deepEqual(encodeMessage(new Map([['rs', ['', 'a']]]), S), writeFields([ld(6, ''), ld(6, 'a')]));
    // an empty embedded message is present
    assert.deepEqual(encodeMessage(new Map([['m', Buffer.alloc(0)]]), S), B(0x2a, 0x00));
  });

  it('names not in the schema are not written', () => {
    assert.deepEqual(
      encodeMessage(
        new Map([
          ['other', 'x'],
          ['s', 'y'],
        ]),
        S,
      ),
      writeFields([ld(1, 'y')]),
    );
  });
});

describe('gRPC framing', () => {
  it('grpcFrame: flag 0, 4-byte big-endian length, the message', () => {
    assert.deepEqual(grpcFrame(B(0x61, 0x62, 0x63)), B(0, 0, 0, 0, 3, 0x61, 0x62, 0x63));
    assert.deepEqual(grpcFrame(Buffer.alloc(0)), B(0, 0, 0, 0, 0));
    assert.deepEqual(grpcFrame(Buffer.alloc(300)).subarray(0, 5), B(0, 0, 0, 0x01, 0x2c));
  });

  it('splits several messages, empty ones included', () => {
    const a = B(1, 2, 3);
    const b = Buffer.alloc(0);
    const c = Buffer.alloc(70_000, 7);
    const msgs = grpcMessages(Buffer.concat([grpcFrame(a), grpcFrame(b), grpcFrame(c)]), 'P');
    assert.deepEqual(msgs, [a, b, c]);
    assert.deepEqual(grpcMessages(Buffer.alloc(0), 'P'), []);
  });

  it('a compressed message is refused', () => {
    for (const flag of [1, 2, 0x80]) {
      const f = grpcFrame(B(1));
      f[0] = flag;
      refused(() => grpcMessages(f, 'P'), /compressed/, 'P');
      // also after a good one
      refused(() => grpcMessages(Buffer.concat([grpcFrame(B(1)), f]), 'P'), /compressed/);
    }
  });

  it('a truncated header or message is refused', () => {
    refused(() => grpcMessages(B(0, 0, 0), 'P'), /truncated gRPC message header/, 'P');
    refused(() => grpcMessages(Buffer.concat([grpcFrame(B(1)), B(0, 0)]), 'P'), /truncated gRPC message header/);
    refused(() => grpcMessages(B(0, 0, 0, 0, 4, 1, 2, 3), 'P'), /truncated gRPC message$/);
    refused(() => grpcMessages(B(0, 0xff, 0xff, 0xff, 0xff), 'P'), /truncated gRPC message$/);
  });
});
