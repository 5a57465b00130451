/**
 * A strict HTTP/1.1 parser for the guard (undici style: the server owns the socket state, so a hijack can take the
 * raw socket over). It reads request heads, chunked bodies and response heads; anything it cannot read
 * unambiguously is an HttpParseError carrying the 4xx/5xx status the guard answers with. It never guesses:
 *   - CRLF line endings only (a bare LF is refused), no obs-fold, no whitespace before the colon;
 *   - one Content-Length (digits only), one Transfer-Encoding which must be exactly `chunked`, never both;
 *   - chunk sizes in hex only, CRLF after every chunk, bounded extensions and trailers;
 *   - origin-form targets only (`/path?query`), visible ASCII only;
 *   - bounded head sizes (431 above the limit).
 */

export class HttpParseError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpParseError';
    this.status = status;
  }
}

export type BodyFraming = { type: 'none' } | { type: 'length'; length: number } | { type: 'chunked' };

export interface RequestHead {
  method: string;
  target: string;
  version: '1.0' | '1.1';
  /** header pairs as received (names as sent, values trimmed) */
  rawHeaders: [string, string][];
  /** lower-cased names; repeated headers are joined with ", " (Content-Length/Transfer-Encoding/Host never repeat) */
  headers: Record<string, string>;
  framing: BodyFraming;
  /** the connection may carry another request after this one */
  keepAlive: boolean;
  expectContinue: boolean;
  /** lower-cased Upgrade protocol when the client asked to upgrade (Connection: Upgrade + Upgrade: x) */
  upgrade: string | undefined;
  /** bytes taken by the head, including the final CRLFCRLF */
  headBytes: number;
}

export interface ResponseHead {
  status: number;
  statusText: string;
  version: string;
  rawHeaders: [string, string][];
  headers: Record<string, string>;
  headBytes: number;
}

/**
 * A response head as parseResponseHead reads it. The framing headers are picked out while parsing (values as
 * `headers` has them: repeated ones joined with ", "); the `headers` record itself is built on first use (the forward
 * path needs only the framing headers).
 */
export class ParsedResponseHead implements ResponseHead {
  readonly version: string;
  readonly status: number;
  readonly statusText: string;
  readonly rawHeaders: [string, string][];
  readonly headBytes: number;
  /** Content-Length, Transfer-Encoding and Connection, as headers['content-length'] etc. */
  readonly contentLength: string | undefined;
  readonly transferEncoding: string | undefined;
  readonly connection: string | undefined;
  /** how many raw headers are hop-by-hop (HOP_BY_HOP) */
  readonly hopByHop: number;
  /** the head's bytes as received (set by the reader that took them) */
  raw: Buffer | undefined = undefined;
  #headers: Record<string, string> | undefined = undefined;

  constructor(
    version: string,
    status: number,
    statusText: string,
    rawHeaders: [string, string][],
    headBytes: number,
    framing: { cl: string | undefined; te: string | undefined; conn: string | undefined; hop: number },
  ) {
    this.version = version;
    this.status = status;
    this.statusText = statusText;
    this.rawHeaders = rawHeaders;
    this.headBytes = headBytes;
    this.contentLength = framing.cl;
    this.transferEncoding = framing.te;
    this.connection = framing.conn;
    this.hopByHop = framing.hop;
  }

  get headers(): Record<string, string> {
    if (this.#headers === undefined) {
      const headers: Record<string, string> = Object.create(null) as Record<string, string>;
      for (const [n, v] of this.rawHeaders) {
        const k = n.toLowerCase();
        const prev = headers[k];
        headers[k] = prev !== undefined ? `${prev}, ${v}` : v;
      }
      this.#headers = headers;
    }
    return this.#headers;
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** field-value: visible ASCII, SP, HTAB and obs-text; no other control characters */
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;
const TARGET = /^\/[\x21-\x7e]*$/;

export const DEFAULT_MAX_HEAD_BYTES = 64 * 1024;

/**
 * Looks for a complete head at the start of buf. Returns undefined when more bytes are needed; throws HttpParseError
 * for a malformed head or one larger than maxHeadBytes.
 */
function findHeadEnd(buf: Buffer, maxHeadBytes: number): number | undefined {
  const end = buf.indexOf('\r\n\r\n');
  const limit = end === -1 ? buf.length : end;
  // A bare LF anywhere in the head is refused (request smuggling through lenient line splitting).
  for (let i = buf.indexOf(0x0a); i !== -1 && i < limit + 2; i = buf.indexOf(0x0a, i + 1)) {
    if (i === 0 || buf[i - 1] !== 0x0d) throw new HttpParseError(400, 'bare LF in the request head (lines must end with CRLF)');
  }
  if (end === -1) {
    if (buf.length > maxHeadBytes) throw new HttpParseError(431, `request head larger than ${maxHeadBytes} bytes`);
    return undefined;
  }
  if (end + 4 > maxHeadBytes) throw new HttpParseError(431, `request head larger than ${maxHeadBytes} bytes`);
  return end;
}

/**
 * A whole header block that every line of would pass parseHeaderLine: `name:value` lines separated by CRLF, names of
 * tchar, values without control characters (HTAB and obs-text allowed). One linear scan (each line ends at a CRLF,
 * each name at its colon): a block that fails it is parsed line by line for the exact error.
 */
const HEADER_BLOCK = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*)*$/y;

/** Header lines of a head's text, from `from` (just after the start line's CRLF) to the end of the text. */
function parseHeaderLines(text: string, from: number): [string, string][] {
  const out: [string, string][] = [];
  if (from >= text.length) return out;
  HEADER_BLOCK.lastIndex = from;
  if (!HEADER_BLOCK.test(text)) return parseHeaderLinesStrict(text, from);
  // every line is valid: split each at its first colon, trim SP/HTAB around the value
  let i = from;
  for (;;) {
    let eol = text.indexOf('\r\n', i);
    if (eol === -1) eol = text.length;
    const colon = text.indexOf(':', i);
    let a = colon + 1;
    let b = eol;
    while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9)) a++;
    while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9)) b--;
    out.push([text.slice(i, colon), text.slice(a, b)]);
    if (eol === text.length) return out;
    i = eol + 2;
  }
}

function parseHeaderLinesStrict(text: string, from: number): [string, string][] {
  const out: [string, string][] = [];
  let i = from;
  while (i < text.length) {
    let eol = text.indexOf('\r\n', i);
    if (eol === -1) eol = text.length;
    if (eol > i) out.push(parseHeaderLine(text.slice(i, eol)));
    i = eol + 2;
  }
  return out;
}

function parseHeaderLine(line: string): [string, string] {
  const c0 = line.charCodeAt(0);
  if (c0 === 32 || c0 === 9) throw new HttpParseError(400, 'obsolete line folding in a header is not accepted');
  const colon = line.indexOf(':');
  if (colon <= 0) throw new HttpParseError(400, 'malformed header line (no field name)');
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) throw new HttpParseError(400, `malformed header name ${JSON.stringify(name.slice(0, 40))}`);
  let a = colon + 1;
  let b = line.length;
  while (a < b && (line.charCodeAt(a) === 32 || line.charCodeAt(a) === 9)) a++;
  while (b > a && (line.charCodeAt(b - 1) === 32 || line.charCodeAt(b - 1) === 9)) b--;
  const value = line.slice(a, b);
  if (BAD_VALUE_CHAR.test(value)) throw new HttpParseError(400, `control character in header ${name}`);
  return [name, value];
}

const SINGLE = new Set(['content-length', 'transfer-encoding', 'host', 'upgrade', 'expect', 'content-type']);

function collectHeaders(raw: [string, string][]): Record<string, string> {
  const h: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [n, v] of raw) {
    const k = n.toLowerCase();
    const prev = h[k];
    if (prev !== undefined) {
      if (SINGLE.has(k)) throw new HttpParseError(400, `duplicate ${n} header`);
      h[k] = `${prev}, ${v}`;
    } else h[k] = v;
  }
  return h;
}

/** The lower-cased tokens of a Connection header. */
function connectionTokens(v: string | undefined): string[] {
  if (v === undefined) return [];
  const out: string[] = [];
  for (const t of v.toLowerCase().split(',')) {
    const x = t.trim();
    if (x) out.push(x);
  }
  return out;
}

const HEAD_WINDOW = 8192;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Parses a request head at the start of buf (leading empty lines are skipped, as RFC 9112 allows).
 * Returns undefined when the head is not complete yet.
 */
export function parseRequestHead(buf: Buffer, maxHeadBytes = DEFAULT_MAX_HEAD_BYTES): RequestHead | undefined {
  let skip = 0;
  while (skip + 1 < buf.length && buf[skip] === 0x0d && buf[skip + 1] === 0x0a && skip < 16) skip += 2;
  const b = skip ? buf.subarray(skip) : buf;
  // The usual head fits in the first HEAD_WINDOW bytes: searched as text (findHeadEnd's checks on the text); a head
  // not found there is searched in the bytes.
  const n = b.length <= HEAD_WINDOW ? b.length : HEAD_WINDOW;
  let text = b.toString('latin1', 0, n);
  let end = text.indexOf('\r\n\r\n');
  if (end === -1 && n < b.length) {
    const e = findHeadEnd(b, maxHeadBytes);
    if (e === undefined) return undefined;
    end = e;
    text = b.toString('latin1', 0, end);
  } else {
    const limit = end === -1 ? text.length : end;
    for (let i = text.indexOf('\n'); i !== -1 && i < limit + 2; i = text.indexOf('\n', i + 1)) {
      if (i === 0 || text.charCodeAt(i - 1) !== 0x0d) throw new HttpParseError(400, 'bare LF in the request head (lines must end with CRLF)');
    }
    if (end === -1) {
      if (b.length > maxHeadBytes) throw new HttpParseError(431, `request head larger than ${maxHeadBytes} bytes`);
      return undefined;
    }
    if (end + 4 > maxHeadBytes) throw new HttpParseError(431, `request head larger than ${maxHeadBytes} bytes`);
    text = text.slice(0, end);
  }
  let eol = text.indexOf('\r\n');
  if (eol === -1) eol = text.length;
  // METHOD SP TARGET SP HTTP/D.D, METHOD and TARGET without spaces (/^([^ ]+) ([^ ]+) HTTP\/(\d)\.(\d)$/)
  const sp1 = text.indexOf(' ');
  const sp2 = sp1 > 0 && sp1 < eol ? text.indexOf(' ', sp1 + 1) : -1;
  if (
    sp2 <= sp1 + 1 ||
    eol !== sp2 + 9 ||
    !text.startsWith('HTTP/', sp2 + 1) ||
    !isDigit(text.charCodeAt(sp2 + 6)) ||
    text.charCodeAt(sp2 + 7) !== 0x2e ||
    !isDigit(text.charCodeAt(sp2 + 8))
  ) {
    throw new HttpParseError(400, 'malformed request line');
  }
  const method = text.slice(0, sp1);
  const target = text.slice(sp1 + 1, sp2);
  const major = text[sp2 + 6]!;
  const minor = text[sp2 + 8]!;
  if (!TOKEN.test(method)) throw new HttpParseError(400, 'malformed method');
  if (major !== '1' || (minor !== '0' && minor !== '1')) throw new HttpParseError(505, `HTTP version ${major}.${minor} not supported`);
  if (!TARGET.test(target)) throw new HttpParseError(400, 'the request target must be an absolute path (origin form, visible ASCII)');
  const version = minor === '1' ? '1.1' : '1.0';
  const rawHeaders = parseHeaderLines(text, eol + 2);
  const headers = collectHeaders(rawHeaders);

  const cl = headers['content-length'];
  const te = headers['transfer-encoding'];
  let framing: BodyFraming = { type: 'none' };
  if (cl !== undefined && te !== undefined) throw new HttpParseError(400, 'both Content-Length and Transfer-Encoding: refused (request smuggling)');
  if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) throw new HttpParseError(400, `invalid Content-Length ${JSON.stringify(cl.slice(0, 40))}`);
    framing = { type: 'length', length: Number(cl) };
  } else if (te !== undefined) {
    if (version === '1.0') throw new HttpParseError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    if (te.toLowerCase() !== 'chunked') throw new HttpParseError(501, `Transfer-Encoding ${JSON.stringify(te.slice(0, 40))} not supported (only chunked)`);
    framing = { type: 'chunked' };
  }

  const conn = connectionTokens(headers.connection);
  let keepAlive = version === '1.1' ? !conn.includes('close') : conn.includes('keep-alive');
  let upgrade: string | undefined;
  if (headers.upgrade !== undefined) {
    if (!conn.includes('upgrade')) throw new HttpParseError(400, 'Upgrade header without Connection: Upgrade');
    upgrade = headers.upgrade.toLowerCase();
    keepAlive = false;
  } else if (conn.includes('upgrade')) throw new HttpParseError(400, 'Connection: Upgrade without an Upgrade header');

  const expect = headers.expect;
  let expectContinue = false;
  if (expect !== undefined) {
    if (expect.toLowerCase() !== '100-continue') throw new HttpParseError(417, `unsupported expectation ${JSON.stringify(expect.slice(0, 40))}`);
    expectContinue = version === '1.1';
  }
  return { method, target, version, rawHeaders, headers, framing, keepAlive, expectContinue, upgrade, headBytes: skip + end + 4 };
}

/** Parses a response head from upstream (for tunnels, where Node's client is not used). */
export function parseResponseHead(buf: Buffer, maxHeadBytes = DEFAULT_MAX_HEAD_BYTES): ParsedResponseHead | undefined {
  // the head is searched as text in the first HEAD_WINDOW bytes, in the bytes beyond
  const n = buf.length <= HEAD_WINDOW ? buf.length : HEAD_WINDOW;
  let text = buf.toString('latin1', 0, n);
  let end = text.indexOf('\r\n\r\n');
  if (end === -1 && n < buf.length) end = buf.indexOf(CRLFCRLF);
  if (end === -1) {
    if (buf.length > maxHeadBytes) throw new HttpParseError(502, 'upstream response head too large');
    return undefined;
  }
  text = end <= n ? text.slice(0, end) : buf.toString('latin1', 0, end);
  let eol = text.indexOf('\r\n');
  if (eol === -1) eol = text.length;
  // /^HTTP\/(1\.[01]) (\d{3})(?: (.*))?$/ on the status line ('.' matches neither CR nor LF)
  const minor = text.charCodeAt(7);
  if (
    !text.startsWith('HTTP/1.') ||
    (minor !== 0x30 && minor !== 0x31) ||
    text.charCodeAt(8) !== 0x20 ||
    !isDigit(text.charCodeAt(9)) ||
    !isDigit(text.charCodeAt(10)) ||
    !isDigit(text.charCodeAt(11)) ||
    (eol !== 12 && (eol < 12 || text.charCodeAt(12) !== 0x20 || hasCrOrLf(text, 13, eol)))
  ) {
    throw new HttpParseError(502, 'malformed upstream status line');
  }
  let rawHeaders: [string, string][];
  try {
    rawHeaders = parseHeaderLines(text, eol + 2);
  } catch (e) {
    throw new HttpParseError(502, `malformed upstream response: ${(e as Error).message}`);
  }
  const framing = { cl: undefined as string | undefined, te: undefined as string | undefined, conn: undefined as string | undefined, hop: 0 };
  for (let i = 0; i < rawHeaders.length; i++) {
    const [name, v] = rawHeaders[i]!;
    // only a name with the first letter and length of a hop-by-hop one is lower-cased and looked up
    if (((HOP_FIRST_LENGTHS[name.charCodeAt(0) | 0x20] ?? 0) & (1 << Math.min(name.length, 31))) === 0) continue;
    const k = name.toLowerCase();
    if (!HOP_BY_HOP.has(k)) continue;
    framing.hop++;
    if (k === 'content-length') framing.cl = framing.cl !== undefined ? `${framing.cl}, ${v}` : v;
    else if (k === 'transfer-encoding') framing.te = framing.te !== undefined ? `${framing.te}, ${v}` : v;
    else if (k === 'connection') framing.conn = framing.conn !== undefined ? `${framing.conn}, ${v}` : v;
  }
  return new ParsedResponseHead(text.slice(5, 8), (text.charCodeAt(9) - 0x30) * 100 + (text.charCodeAt(10) - 0x30) * 10 + (text.charCodeAt(11) - 0x30), eol > 12 ? text.slice(13, eol) : '', rawHeaders, end + 4, framing);
}

function hasCrOrLf(text: string, from: number, to: number): boolean {
  const cr = text.indexOf('\r', from);
  if (cr !== -1 && cr < to) return true;
  const lf = text.indexOf('\n', from);
  return lf !== -1 && lf < to;
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

const MAX_CHUNK_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;

/**
 * Incremental decoder of a chunked body. push() returns the decoded data available so far; `done` turns true after
 * the last chunk and its trailers, and `rest` holds the bytes that followed (the next pipelined request).
 */
export class ChunkedDecoder {
  #state: 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'size';
  #remaining = 0;
  #pending: Buffer = Buffer.alloc(0);
  #trailerBytes = 0;
  rest: Buffer = Buffer.alloc(0);

  get done(): boolean {
    return this.#state === 'done';
  }

  push(chunk: Buffer): Buffer[] {
    if (this.#state === 'done') {
      this.rest = Buffer.concat([this.rest, chunk]);
      return [];
    }
    let buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = Buffer.alloc(0);
    const out: Buffer[] = [];
    let i = 0;
    while (i < buf.length) {
      if (this.#state === 'data') {
        const n = Math.min(this.#remaining, buf.length - i);
        out.push(buf.subarray(i, i + n));
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = 'data-crlf';
        continue;
      }
      if (this.#state === 'data-crlf') {
        if (buf.length - i < 2) break;
        if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) throw new HttpParseError(400, 'invalid chunked body: missing CRLF after chunk data');
        i += 2;
        this.#state = 'size';
        continue;
      }
      if (this.#state === 'done') {
        this.rest = Buffer.concat([this.rest, buf.subarray(i)]);
        i = buf.length;
        break;
      }
      // a line: chunk-size or trailer
      const nl = buf.indexOf(0x0a, i);
      if (nl === -1) {
        if (buf.length - i > MAX_CHUNK_LINE) throw new HttpParseError(400, 'invalid chunked body: line too long');
        break;
      }
      if (nl === i || buf[nl - 1] !== 0x0d) throw new HttpParseError(400, 'invalid chunked body: bare LF');
      const line = buf.toString('latin1', i, nl - 1);
      i = nl + 1;
      if (this.#state === 'size') {
        const m = /^([0-9a-fA-F]{1,13})(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"[^"\\]*"))?)*$/.exec(line);
        if (!m) throw new HttpParseError(400, `invalid chunk size line ${JSON.stringify(line.slice(0, 40))}`);
        const size = parseInt(m[1]!, 16);
        if (size === 0) this.#state = 'trailer';
        else {
          this.#remaining = size;
          this.#state = 'data';
        }
      } else {
        // trailer section: header lines until an empty line
        this.#trailerBytes += line.length + 2;
        if (this.#trailerBytes > MAX_TRAILER_BYTES) throw new HttpParseError(431, 'chunked trailers too large');
        if (line === '') this.#state = 'done';
        else parseHeaderLine(line);
      }
    }
    if (i < buf.length) {
      if (this.#state === 'done') this.rest = Buffer.concat([this.rest, buf.subarray(i)]);
      else this.#pending = buf.subarray(i);
    }
    buf = Buffer.alloc(0);
    return out;
  }
}

/** Hop-by-hop headers (RFC 9110 7.6.1) and framing headers the guard sets itself. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
  'host',
]);
/** by a name's first character (lower-cased with | 0x20), a bit per length (31: 31 or more) of the hop-by-hop names */
const HOP_FIRST_LENGTHS = new Uint32Array(256);
for (const h of HOP_BY_HOP) HOP_FIRST_LENGTHS[h.charCodeAt(0)]! |= 1 << Math.min(h.length, 31);

/** Removes hop-by-hop headers, and any header the Connection header names. */
export function endToEndHeaders(raw: [string, string][], connection: string | undefined): [string, string][] {
  if (connection === undefined || connection === '' || /^\s*(keep-alive|close)\s*$/i.test(connection)) return raw.filter(([n]) => !HOP_BY_HOP.has(n.toLowerCase()));
  const named = new Set(
    (connection ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return raw.filter(([n]) => {
    const k = n.toLowerCase();
    return !HOP_BY_HOP.has(k) && !named.has(k);
  });
}

const STATUS_TEXT: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Payload Too Large',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Unknown';
}

/** A complete JSON error response in the daemon's shape: {"message":"..."}. */
export function errorResponse(status: number, message: string, close: boolean): Buffer {
  const body = Buffer.from(`${JSON.stringify({ message })}\n`);
  const head =
    `HTTP/1.1 ${status} ${statusText(status)}\r\n` +
    'Content-Type: application/json\r\n' +
    'Server: nestling-guard\r\n' +
    `Content-Length: ${body.length}\r\n` +
    (close ? 'Connection: close\r\n' : '') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
