/**
 * Reads JSON request bodies the way the daemon's Go `encoding/json` decoder reads them into moby's structs, and
 * writes the canonical form back out, so that what the guard forwards is exactly what it checked.
 *
 * Go's rules, as implemented here:
 * - struct fields: the exact JSON name first, else the first field (in declaration order) whose name matches under
 *   Unicode simple case folding (`hostconfig` = `HostConfig`; U+017F `ſ` folds to `s`, U+212A `K` to `k`);
 * - duplicate keys: processed in document order, so the last scalar wins; a struct or map decoded twice MERGES
 *   (Go reuses the existing pointer/map): `{"HostConfig":{"Privileged":true},"hostconfig":{"Memory":1}}` is both;
 * - map keys are exact (Labels, DriverOpts, Sysctls, ...); within a map the last duplicate wins, no merging;
 * - unknown struct fields are dropped; `null` leaves a scalar alone and clears a pointer/slice/map/struct;
 * - type mismatches (a string for an int, a fraction or exponent for an int, out-of-range ints) and syntax errors are
 *   errors: the daemon answers 400, the guard refuses with 400 (`invalid-body`);
 * - strings: invalid UTF-8 bytes and lone `\u` surrogates become U+FFFD, as Go does; control bytes are errors;
 * - only the first JSON value is read: trailing content is refused (new daemons refuse it too; old ones ignore it).
 * Field types come from rules/go-structs.ts, generated from moby's swagger.
 */
import { GO_ROOTS, GO_STRUCTS } from './rules/go-structs.js';

export type GoValue = string | boolean | bigint | number | null | GoValue[] | GoObject;
export interface GoObject {
  [key: string]: GoValue;
}

/** A parsed JSON value that keeps every key in document order, duplicates included. */
export type JNode =
  | { t: 'o'; entries: [string, JNode][] }
  | { t: 'a'; items: JNode[] }
  | { t: 's'; v: string }
  | { t: 'n'; raw: string }
  | { t: 'b'; v: boolean }
  | { t: 'z' };

export class GoJsonError extends Error {
  /** dotted field path, e.g. HostConfig.Memory */
  readonly field: string;
  constructor(message: string, field = '') {
    super(message);
    this.name = 'GoJsonError';
    this.field = field;
  }
}

export const MAX_JSON_DEPTH = 200;

/** A fresh object without a prototype, so keys like `__proto__` are plain keys. */
export function newObject(): GoObject {
  return Object.create(null) as GoObject;
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer/parser over bytes

class Parser {
  readonly b: Buffer;
  i = 0;
  constructor(b: Buffer) {
    this.b = b;
  }
  fail(msg: string): never {
    throw new GoJsonError(`invalid JSON at byte ${this.i}: ${msg}`);
  }
  ws(): void {
    const b = this.b;
    while (this.i < b.length) {
      const c = b[this.i];
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else break;
    }
  }
  value(depth: number): JNode {
    if (depth > MAX_JSON_DEPTH) this.fail('nesting too deep');
    this.ws();
    const c = this.b[this.i] ?? -1;
    switch (c) {
      case 0x7b:
        return this.object(depth);
      case 0x5b:
        return this.array(depth);
      case 0x22:
        return { t: 's', v: this.string() };
      case 0x74:
        return this.literal('true', { t: 'b', v: true });
      case 0x66:
        return this.literal('false', { t: 'b', v: false });
      case 0x6e:
        return this.literal('null', { t: 'z' });
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail(c < 0 ? 'unexpected end' : `unexpected byte 0x${c.toString(16)}`);
    }
  }
  literal(word: string, node: JNode): JNode {
    if (this.b.toString('latin1', this.i, this.i + word.length) !== word) this.fail(`expected ${word}`);
    this.i += word.length;
    return node;
  }
  number(): JNode {
    const start = this.i;
    const re = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    const s = this.b.toString('latin1', start, Math.min(this.b.length, start + 4096));
    re.lastIndex = 0;
    const m = re.exec(s);
    if (!m || m[0].length === 0 || m[0] === '-') this.fail('bad number');
    this.i += m[0].length;
    const next = this.b[this.i];
    if (next !== undefined && ((next >= 0x30 && next <= 0x39) || next === 0x2e || next === 0x65 || next === 0x45 || next === 0x2b || next === 0x2d)) {
      this.fail('bad number');
    }
    return { t: 'n', raw: m[0] };
  }
  string(): string {
    const b = this.b;
    this.i++; // opening quote
    let out = '';
    let runStart = this.i;
    const flushRun = (end: number) => {
      if (end > runStart) out += decodeUtf8Go(b.subarray(runStart, end));
    };
    for (;;) {
      const c = b[this.i];
      if (c === undefined) this.fail('unterminated string');
      if (c === 0x22) {
        flushRun(this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      flushRun(this.i);
      const e = b[this.i + 1] ?? -1;
      this.i += 2;
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += '\\';
          break;
        case 0x2f:
          out += '/';
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          const u1 = this.hex4();
          if (u1 >= 0xd800 && u1 < 0xdc00) {
            // a high surrogate: Go combines it with a following \uDC00-\uDFFF escape, else it becomes U+FFFD
            if (b[this.i] === 0x5c && b[this.i + 1] === 0x75) {
              const save = this.i;
              this.i += 2;
              const u2 = this.hex4();
              if (u2 >= 0xdc00 && u2 < 0xe000) {
                out += String.fromCharCode(u1, u2);
              } else {
                out += '\ufffd';
                this.i = save;
              }
            } else {
              out += '\ufffd';
            }
          } else if (u1 >= 0xdc00 && u1 < 0xe000) {
            out += '\ufffd';
          } else {
            out += String.fromCharCode(u1);
          }
          break;
        }
        default:
          this.fail('bad escape');
      }
      runStart = this.i;
    }
  }
  hex4(): number {
    const h = this.b.toString('latin1', this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('bad \\u escape');
    this.i += 4;
    return parseInt(h, 16);
  }
  object(depth: number): JNode {
    this.i++;
    const entries: [string, JNode][] = [];
    this.ws();
    if (this.b[this.i] === 0x7d) {
      this.i++;
      return { t: 'o', entries };
    }
    for (;;) {
      this.ws();
      if (this.b[this.i] !== 0x22) this.fail('expected a key');
      const k = this.string();
      this.ws();
      if (this.b[this.i] !== 0x3a) this.fail('expected :');
      this.i++;
      entries.push([k, this.value(depth + 1)]);
      this.ws();
      const c = this.b[this.i];
      if (c === 0x2c) {
        this.i++;
        continue;
      }
      if (c === 0x7d) {
        this.i++;
        return { t: 'o', entries };
      }
      this.fail('expected , or }');
    }
  }
  array(depth: number): JNode {
    this.i++;
    const items: JNode[] = [];
    this.ws();
    if (this.b[this.i] === 0x5d) {
      this.i++;
      return { t: 'a', items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.b[this.i];
      if (c === 0x2c) {
        this.i++;
        continue;
      }
      if (c === 0x5d) {
        this.i++;
        return { t: 'a', items };
      }
      this.fail('expected , or ]');
    }
  }
}

/** UTF-8 decoding as Go's utf8.DecodeRune does it: each invalid byte becomes one U+FFFD. */
export function decodeUtf8Go(b: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    if (c < 0x80) {
      // fast path for ASCII runs
      let j = i;
      while (j < b.length && (b[j] as number) < 0x80) j++;
      out += Buffer.from(b.subarray(i, j)).toString('latin1');
      i = j;
      continue;
    }
    let need = 0;
    let cp = 0;
    let min = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      out += '\ufffd';
      i++;
      continue;
    }
    let ok = true;
    {
      for (let k = 1; k <= need; k++) {
        const cc = b[i + k];
        if (cc === undefined || (cc & 0xc0) !== 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (cc & 0x3f);
      }
    }
    if (!ok || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      out += '\ufffd';
      i++;
      continue;
    }
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

/** Parses exactly one JSON value (whitespace around it allowed), keeping duplicate keys in order. */
export function parseJson(input: Buffer | string): JNode {
  const p = new Parser(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  p.ws();
  if (p.i >= p.b.length) p.fail('empty body');
  const v = p.value(0);
  p.ws();
  if (p.i !== p.b.length) p.fail('unexpected content after the JSON value');
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Go's key folding

/**
 * Go's foldName for matching keys against the (ASCII) names of moby's struct fields: ASCII letters upper-cased,
 * U+017F (ſ) to S and U+212A (Kelvin) to K, the only non-ASCII runes whose simple-fold orbit contains an ASCII
 * letter; every other rune is kept (and so can never match an ASCII field name).
 */
export function foldKey(key: string): string {
  let out = '';
  for (const ch of key) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x61 && c <= 0x7a) out += String.fromCharCode(c - 32);
    else if (c === 0x17f) out += 'S';
    else if (c === 0x212a) out += 'K';
    else out += ch;
  }
  return out;
}

interface StructInfo {
  exact: Map<string, string>;
  folded: Map<string, string>;
  types: Readonly<Record<string, string>>;
}
const structCache = new Map<string, StructInfo>();

function structInfo(name: string): StructInfo {
  let s = structCache.get(name);
  if (s) return s;
  const types = GO_STRUCTS[name];
  if (!types) throw new GoJsonError(`no struct ${name}`);
  const exact = new Map<string, string>();
  const folded = new Map<string, string>();
  for (const f of Object.keys(types)) {
    exact.set(f, f);
    const k = foldKey(f);
    if (!folded.has(k)) folded.set(k, f);
  }
  s = { exact, folded, types };
  structCache.set(name, s);
  return s;
}

/** The Go field a JSON key lands in, or undefined when Go drops it. */
export function fieldFor(structName: string, key: string): string | undefined {
  const s = structInfo(structName);
  return s.exact.get(key) ?? s.folded.get(foldKey(key));
}

// ---------------------------------------------------------------------------------------------------------------
// Typed decoding

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function describe(n: JNode): string {
  switch (n.t) {
    case 'o':
      return 'object';
    case 'a':
      return 'array';
    case 's':
      return 'string';
    case 'n':
      return `number ${n.raw}`;
    case 'b':
      return 'bool';
    case 'z':
      return 'null';
  }
}

function mismatch(n: JNode, type: string, path: string): never {
  throw new GoJsonError(`cannot read ${describe(n)} as Go ${type}`, path);
}

function isScalarType(type: string): boolean {
  return type === 'string' || type === 'bool' || type === 'int' || type === 'uint' || type === 'float';
}

/** Generic decoding into interface{}: objects become maps (last duplicate wins), numbers float64. */
function decodeAny(n: JNode, path: string): GoValue {
  switch (n.t) {
    case 'o': {
      const o = newObject();
      for (const [k, v] of n.entries) o[k] = decodeAny(v, `${path}.${k}`);
      return o;
    }
    case 'a':
      return n.items.map((x, i) => decodeAny(x, `${path}[${i}]`));
    case 's':
      return n.v;
    case 'n': {
      const f = Number(n.raw);
      if (!Number.isFinite(f)) throw new GoJsonError(`number ${n.raw} out of range`, path);
      return f;
    }
    case 'b':
      return n.v;
    case 'z':
      return null;
  }
}

/**
 * Decodes `n` as Go type `type` (see go-structs.ts), into `existing` when Go would reuse it (structs, maps).
 * Returns `undefined` for "leave the target as it was" (null into a scalar).
 */
export function decodeTyped(n: JNode, type: string, path: string, existing?: GoValue): GoValue | undefined {
  if (n.t === 'z') return isScalarType(type) ? undefined : null;
  if (type === 'any') return decodeAny(n, path);
  if (type === 'string') return n.t === 's' ? n.v : mismatch(n, type, path);
  if (type === 'bool') return n.t === 'b' ? n.v : mismatch(n, type, path);
  if (type === 'int' || type === 'uint') {
    if (n.t !== 'n') return mismatch(n, type, path);
    if (!/^-?[0-9]+$/.test(n.raw)) return mismatch(n, type, path);
    const v = BigInt(n.raw);
    if (type === 'int' ? v < INT64_MIN || v > INT64_MAX : v < 0n || v > UINT64_MAX || n.raw.startsWith('-')) return mismatch(n, type, path);
    return v;
  }
  if (type === 'float') {
    if (n.t !== 'n') return mismatch(n, type, path);
    const f = Number(n.raw);
    if (!Number.isFinite(f)) return mismatch(n, type, path);
    return f;
  }
  if (type === 'empty') return n.t === 'o' ? newObject() : mismatch(n, 'struct{}', path);
  if (type === 'strslice') {
    if (n.t === 's') return [n.v];
    if (n.t !== 'a') return mismatch(n, 'string or []string', path);
    return n.items.map((x, i) => {
      if (x.t === 'z') return '';
      if (x.t !== 's') return mismatch(x, 'string', `${path}[${i}]`);
      return x.v;
    });
  }
  if (type.startsWith('slice:')) {
    if (n.t !== 'a') return mismatch(n, `[]${type.slice(6)}`, path);
    const elem = type.slice(6);
    return n.items.map((x, i) => {
      const v = decodeTyped(x, elem, `${path}[${i}]`);
      return v === undefined ? zeroOf(elem) : v;
    });
  }
  if (type.startsWith('map:')) {
    if (n.t !== 'o') return mismatch(n, `map[string]${type.slice(4)}`, path);
    const elem = type.slice(4);
    const m = existing && typeof existing === 'object' && !Array.isArray(existing) ? existing : newObject();
    for (const [k, v] of n.entries) {
      const d = decodeTyped(v, elem, `${path}.${k}`);
      m[k] = d === undefined ? zeroOf(elem) : d;
    }
    return m;
  }
  if (type.startsWith('struct:')) {
    if (n.t !== 'o') return mismatch(n, type.slice(7), path);
    return decodeStruct(n, type.slice(7), path, existing);
  }
  throw new GoJsonError(`unknown type ${type}`, path);
}

function zeroOf(type: string): GoValue {
  switch (type) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'int':
    case 'uint':
      return 0n;
    case 'float':
      return 0;
    case 'empty':
      return newObject();
    default:
      return null;
  }
}

function decodeStruct(n: Extract<JNode, { t: 'o' }>, name: string, path: string, existing?: GoValue): GoObject {
  const info = structInfo(name);
  const out = existing && typeof existing === 'object' && !Array.isArray(existing) ? existing : newObject();
  for (const [k, v] of n.entries) {
    const f = fieldFor(name, k);
    if (f === undefined) continue; // Go drops unknown fields
    const type = info.types[f] ?? 'any';
    const prev = out[f];
    const d = decodeTyped(v, type, path ? `${path}.${f}` : f, prev);
    if (d === undefined) continue;
    if (d === null) delete out[f];
    else out[f] = d;
  }
  return out;
}

export type BodyRoot = keyof typeof GO_ROOTS;

/** Reads a request body as the daemon would decode it for a route. Throws GoJsonError. */
export function readGoBody(body: Buffer | string, root: BodyRoot): GoObject {
  const node = parseJson(body);
  if (node.t !== 'o') mismatch(node, GO_ROOTS[root], '');
  return decodeStruct(node, GO_ROOTS[root], '');
}

// ---------------------------------------------------------------------------------------------------------------
// Canonical serialisation

/** Serialises a canonical value: exact field names, no duplicates, integers exact, valid UTF-8. */
export function serializeGo(v: GoValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(serializeGo).join(',')}]`;
  const parts: string[] = [];
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${serializeGo(x)}`);
  }
  return `{${parts.join(',')}}`;
}

export function serializeGoBuffer(v: GoValue): Buffer {
  return Buffer.from(serializeGo(v), 'utf8');
}

// Small accessors for rules.
export function asObject(v: GoValue | undefined): GoObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}
export function asArray(v: GoValue | undefined): GoValue[] {
  return Array.isArray(v) ? v : [];
}
export function asString(v: GoValue | undefined): string {
  return typeof v === 'string' ? v : '';
}
