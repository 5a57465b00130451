/**
 * Protocol Buffers wire format, strictly: enough to read the few BuildKit messages the guard checks and to write
 * them back in canonical form.
 *
 * The guard must see what the daemon's Go decoder sees. Go's reader accepts a singular field twice (the last
 * scalar wins, two embedded messages are merged), duplicate map keys (the last wins) and fields it does not know
 * (skipped). Rather than reproduce merging, the strict reader refuses each of those: no encoder a client uses
 * produces them, and what the guard cannot read exactly it does not forward. What is forwarded is re-encoded from
 * what was read (encodeMessage), in field order, with canonical varints.
 */

export class ProtoError extends Error {
  /** the field path, e.g. "SolveRequest.FrontendAttrs" */
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** One field as it appears on the wire. */
export interface WireField {
  no: number;
  /** 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 (groups, 3 and 4, are refused) */
  wt: 0 | 1 | 2 | 5;
  varint?: bigint;
  bytes?: Buffer;
}

function readVarint(buf: Buffer, pos: number, where: string): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtoError(where, 'truncated varint');
    const b = buf[pos++] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      if (i === 9 && b > 1) throw new ProtoError(where, 'varint overflows 64 bits');
      return [result & 0xffff_ffff_ffff_ffffn, pos];
    }
    shift += 7n;
  }
  throw new ProtoError(where, 'varint longer than 10 bytes');
}

/** The fields of one message, in wire order. */
export function readFields(buf: Buffer, where: string): WireField[] {
  const out: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p1] = readVarint(buf, pos, where);
    pos = p1;
    if (key > 0xffff_ffffn) throw new ProtoError(where, 'field key out of range');
    const no = Number(key >> 3n);
    const wt = Number(key & 7n);
    if (no < 1 || no > 536_870_911) throw new ProtoError(where, `invalid field number ${no}`);
    switch (wt) {
      case 0: {
        const [v, p2] = readVarint(buf, pos, `${where}.${no}`);
        pos = p2;
        out.push({ no, wt: 0, varint: v });
        break;
      }
      case 1:
      case 5: {
        const n = wt === 1 ? 8 : 4;
        if (pos + n > buf.length) throw new ProtoError(`${where}.${no}`, 'truncated fixed-width field');
        out.push({ no, wt, bytes: buf.subarray(pos, pos + n) });
        pos += n;
        break;
      }
      case 2: {
        const [len, p2] = readVarint(buf, pos, `${where}.${no}`);
        if (len > BigInt(buf.length - p2)) throw new ProtoError(`${where}.${no}`, 'length-delimited field runs past the message');
        const n = Number(len);
        out.push({ no, wt: 2, bytes: buf.subarray(p2, p2 + n) });
        pos = p2 + n;
        break;
      }
      default:
        throw new ProtoError(`${where}.${no}`, `wire type ${wt} (groups or invalid) is not read`);
    }
  }
  return out;
}

function varintBytes(v: bigint): Buffer {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return Buffer.from(out);
}

export function writeFields(fields: readonly WireField[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    parts.push(varintBytes((BigInt(f.no) << 3n) | BigInt(f.wt)));
    if (f.wt === 0) parts.push(varintBytes(f.varint ?? 0n));
    else if (f.wt === 2) {
      const b = f.bytes ?? Buffer.alloc(0);
      parts.push(varintBytes(BigInt(b.length)), b);
    } else parts.push(f.bytes ?? Buffer.alloc(f.wt === 1 ? 8 : 4));
  }
  return Buffer.concat(parts);
}

export type FieldType = 'string' | 'bytes' | 'bool' | 'int64' | 'message' | 'string-map' | 'message-map';
export interface FieldSpec {
  name: string;
  type: FieldType;
  repeated?: boolean;
}
/** field number => spec */
export type Schema = Readonly<Record<number, FieldSpec>>;

export type FieldValue = string | Buffer | boolean | bigint | string[] | Buffer[] | Map<string, string> | Map<string, Buffer>;
/** A decoded message: field name => value; absent fields are absent (proto3 defaults). */
export type Message = Map<string, FieldValue>;

// ignoreBOM: a leading U+FEFF is part of the string, as Go reads it
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function str(b: Buffer, where: string): string {
  try {
    return utf8.decode(b);
  } catch {
    // Go's proto3 string fields must be valid UTF-8 (the daemon would refuse the message)
    throw new ProtoError(where, 'string field is not valid UTF-8');
  }
}

function mapEntry(b: Buffer, where: string, valueIsString: boolean): [string, string | Buffer] {
  let key: string | undefined;
  let value: string | Buffer | undefined;
  for (const f of readFields(b, where)) {
    if (f.wt !== 2 || (f.no !== 1 && f.no !== 2)) throw new ProtoError(where, `unexpected field ${f.no} in a map entry`);
    if (f.no === 1) {
      if (key !== undefined) throw new ProtoError(where, 'map entry key given twice');
      key = str(f.bytes as Buffer, where);
    } else {
      if (value !== undefined) throw new ProtoError(where, 'map entry value given twice');
      value = valueIsString ? str(f.bytes as Buffer, where) : (f.bytes as Buffer);
    }
  }
  return [key ?? '', value ?? (valueIsString ? '' : Buffer.alloc(0))];
}

/** Reads a message by its schema; refuses unknown fields, wrong wire types, repeated singular fields, duplicate keys. */
export function decodeMessage(buf: Buffer, schema: Schema, where: string): Message {
  const m: Message = new Map();
  for (const f of readFields(buf, where)) {
    const spec = schema[f.no];
    if (!spec) throw new ProtoError(`${where}.${f.no}`, `field ${f.no} is not known to the guard`);
    const at = `${where}.${spec.name}`;
    const wantWt = spec.type === 'bool' || spec.type === 'int64' ? 0 : 2;
    if (f.wt !== wantWt) throw new ProtoError(at, `wire type ${f.wt} where ${wantWt} was expected`);
    const isCollection = spec.repeated === true || spec.type === 'string-map' || spec.type === 'message-map';
    if (!isCollection && m.has(spec.name)) throw new ProtoError(at, 'a singular field given twice (the daemon would merge or override it)');
    switch (spec.type) {
      case 'string': {
        const s = str(f.bytes as Buffer, at);
        if (spec.repeated) ((m.get(spec.name) as string[] | undefined) ?? (m.set(spec.name, []).get(spec.name) as string[])).push(s);
        else m.set(spec.name, s);
        break;
      }
      case 'bytes':
      case 'message': {
        const b = Buffer.from(f.bytes as Buffer);
        if (spec.repeated) ((m.get(spec.name) as Buffer[] | undefined) ?? (m.set(spec.name, []).get(spec.name) as Buffer[])).push(b);
        else m.set(spec.name, b);
        break;
      }
      case 'bool':
        m.set(spec.name, f.varint !== 0n);
        break;
      case 'int64':
        m.set(spec.name, BigInt.asIntN(64, f.varint as bigint));
        break;
      case 'string-map':
      case 'message-map': {
        const isStr = spec.type === 'string-map';
        const [k, v] = mapEntry(f.bytes as Buffer, at, isStr);
        const cur = (m.get(spec.name) as Map<string, string | Buffer> | undefined) ?? (m.set(spec.name, new Map()).get(spec.name) as Map<string, string | Buffer>);
        if (cur.has(k)) throw new ProtoError(at, `map key ${JSON.stringify(k)} given twice (the daemon keeps the last)`);
        cur.set(k, isStr ? v : Buffer.from(v as Buffer));
        break;
      }
    }
  }
  return m;
}

/** Writes a decoded message back: fields in number order, proto3 defaults omitted, maps in insertion order. */
export function encodeMessage(m: Message, schema: Schema): Buffer {
  const fields: WireField[] = [];
  const nos = Object.keys(schema)
    .map(Number)
    .sort((a, b) => a - b);
  for (const no of nos) {
    const spec = schema[no] as FieldSpec;
    const v = m.get(spec.name);
    if (v === undefined) continue;
    switch (spec.type) {
      case 'string':
        for (const s of spec.repeated ? (v as string[]) : [v as string]) if (spec.repeated || s !== '') fields.push({ no, wt: 2, bytes: Buffer.from(s, 'utf8') });
        break;
      case 'bytes':
      case 'message':
        for (const b of spec.repeated ? (v as Buffer[]) : [v as Buffer]) fields.push({ no, wt: 2, bytes: b });
        break;
      case 'bool':
        if (v === true) fields.push({ no, wt: 0, varint: 1n });
        break;
      case 'int64':
        if (v !== 0n) fields.push({ no, wt: 0, varint: BigInt.asUintN(64, v as bigint) });
        break;
      case 'string-map':
      case 'message-map':
        for (const [k, val] of v as Map<string, string | Buffer>) {
          const entry: WireField[] = [];
          if (k !== '') entry.push({ no: 1, wt: 2, bytes: Buffer.from(k, 'utf8') });
          const vb = typeof val === 'string' ? Buffer.from(val, 'utf8') : val;
          if (vb.length > 0 || spec.type === 'message-map') entry.push({ no: 2, wt: 2, bytes: vb });
          fields.push({ no, wt: 2, bytes: writeFields(entry) });
        }
        break;
    }
  }
  return writeFields(fields);
}

/** gRPC's length-prefixed message framing: 1 byte compressed flag, 4 bytes big-endian length, the message. */
export function grpcFrame(msg: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}

/** The messages of a complete gRPC request body; refuses compressed messages and trailing bytes. */
export function grpcMessages(body: Buffer, where: string): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < body.length) {
    if (pos + 5 > body.length) throw new ProtoError(where, 'truncated gRPC message header');
    if (body[pos] !== 0) throw new ProtoError(where, 'compressed gRPC messages are not read');
    const n = body.readUInt32BE(pos + 1);
    if (pos + 5 + n > body.length) throw new ProtoError(where, 'truncated gRPC message');
    out.push(body.subarray(pos + 5, pos + 5 + n));
    pos += 5 + n;
  }
  return out;
}
