/**
 * The guard's forward path for plain, stream and upload routes: its own HTTP/1.1 client on a raw upstream connection,
 * one per client connection, kept alive while both sides keep theirs. The guard already owns the request framing
 * (it parsed and re-serialised the request), so a general-purpose client (node:http, its agent, header objects,
 * per-request listeners) only added copies and small writes. Here:
 *   - the request (head and checked body) goes upstream in one write; upload bodies (build context, archive, load)
 *     are passed through as received, in the client's framing, without copying: Content-Length bodies are counted,
 *     chunked bodies are scanned by the strict decoder for their end (see pumpBody);
 *   - the response head is parsed strictly (http-parser.ts); its body is relayed as the engine framed it when the
 *     client can take that framing (Content-Length as is; chunked bytes as received, with a decoder only finding the
 *     end), decoded otherwise (HTTP/1.0 clients, filtered answers);
 *   - backpressure both ways: a slow reader pauses the other socket (SocketReader pauses, writes await 'drain').
 */
import type { Duplex } from 'node:stream';
import type { EngineEndpoint } from '../engine/transport.js';
import { ChunkedDecoder, HttpParseError, endToEndHeaders, parseResponseHead, statusText, type BodyFraming, type ParsedResponseHead } from './http-parser.js';
import { SocketReader } from './socket-reader.js';
import { push, pushChunk } from './flow.js';
import { connectUpstream } from './tunnel.js';

export interface UpConn {
  sock: Duplex;
  r: SocketReader;
  /** requests sent on this connection so far */
  uses: number;
}

export async function openUpstream(ep: EngineEndpoint, signal?: AbortSignal): Promise<UpConn> {
  const sock = await connectUpstream(ep, signal);
  (sock as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  sock.on('error', () => sock.destroy());
  return { sock, r: new SocketReader(sock), uses: 0 };
}

export function usable(up: UpConn | undefined): boolean {
  return up !== undefined && !up.r.ended && !up.sock.destroyed && up.r.length === 0;
}

/** The engine closed a reused connection before answering (an idle close racing our request): safe to retry GET/HEAD. */
export class UpstreamClosedEarly extends Error {
  constructor() {
    super('the engine closed the connection before answering');
    this.name = 'UpstreamClosedEarly';
  }
}

/**
 * Sends an upload body from the client's reader to the engine, in the client's framing (announced upstream the same
 * way). Resolves when all of it was written; rejects with HttpParseError when the client's body is short, malformed
 * or stalls (the caller then cuts the upstream connection: the engine never sees a complete body).
 */
export async function pumpBody(r: SocketReader, framing: BodyFraming, out: Duplex, idleMs: number): Promise<void> {
  if (framing.type === 'none') return;
  if (framing.type === 'length') {
    let left = framing.length;
    while (left > 0) {
      if (r.length === 0) {
        const w = await r.wait(idleMs);
        if (w === 'timeout') throw new HttpParseError(408, 'request body not received in time');
        if (w === 'end' && r.length === 0) throw new HttpParseError(400, 'request body shorter than its Content-Length');
        continue;
      }
      const b = r.takeSome(left);
      left -= b.length;
      if (out.destroyed) return;
      const wait = push(out, b);
      if (wait) await wait;
    }
    return;
  }
  // Chunked: the client's chunks go up as received. The strict decoder (http-parser.ts: CRLF only, hex sizes,
  // bounded extensions and trailers) only finds where the body ends; whatever it accepts, Go's chunked reader ends at
  // the same byte, and what it refuses never reaches the engine in full (the connection is cut).
  const dec = new ChunkedDecoder();
  for (;;) {
    while (r.length) {
      const v = r.takeSome(r.length);
      dec.push(v);
      if (dec.done) {
        const own = v.subarray(0, v.length - dec.rest.length);
        r.unshift(dec.rest);
        if (!out.destroyed && own.length) out.write(own);
        return;
      }
      if (out.destroyed) return;
      const wait = push(out, v);
      if (wait) await wait;
    }
    const w = await r.wait(idleMs);
    if (w === 'timeout') throw new HttpParseError(408, 'request body not received in time');
    if (w === 'end' && r.length === 0) throw new HttpParseError(400, 'connection closed in the middle of a chunked body');
  }
}

/** Reads the engine's response head (no timeout: long calls such as wait answer late; a client close ends it). */
export async function readResponseHead(up: UpConn): Promise<ParsedResponseHead & { raw: Buffer }> {
  for (;;) {
    if (up.r.length) {
      const h = parseResponseHead(up.r.buf);
      if (h) {
        h.raw = up.r.take(h.headBytes);
        return h as ParsedResponseHead & { raw: Buffer };
      }
    }
    if (up.r.ended) {
      if (up.r.length === 0 && up.uses > 1) throw new UpstreamClosedEarly();
      throw new HttpParseError(502, 'the engine closed the connection before answering');
    }
    await up.r.wait(0);
  }
}

export type BufferedFilter = (body: Buffer) => Promise<Buffer> | Buffer;
export type LineFilter = { push(d: Buffer): Promise<Buffer> };

export interface RelayOptions {
  client: Duplex;
  up: UpConn;
  /** the engine's response head, and its bytes as received (raw) */
  head: ParsedResponseHead;
  /** the client's request method was HEAD */
  isHead: boolean;
  /** the client speaks HTTP/1.1 (else 1.0: no chunked framing towards it) */
  client11: boolean;
  /** the client connection may carry another request (the client asked, the guard is not closing) */
  keepClient: boolean;
  /** the whole (decoded) body is filtered, then sent with a Content-Length */
  bufferFilter?: BufferedFilter | undefined;
  /** a line stream filtered as it flows (events) */
  lineFilter?: LineFilter | undefined;
  /** called once the head has been written to the client */
  onHeadSent?: () => void;
}

export interface RelayResult {
  /** the client connection may carry another request */
  keepClient: boolean;
  /** the upstream connection may carry another request */
  keepUp: boolean;
}

const MAX_FILTERED = 256 * 1024 * 1024;
const DIGITS = /^\d{1,15}$/;
const CONNECTION_CLOSE = /(^|,)\s*close\s*(,|$)/i;

/**
 * relayResponse for the usual small answer, without a promise: a Content-Length body already received in full,
 * unfiltered, whose head goes to the client as received. Returns undefined (having done nothing) for anything else.
 */
export function relayBufferedAnswer(o: RelayOptions): RelayResult | undefined {
  const { client, up, head } = o;
  const status = head.status;
  const cl = head.contentLength;
  if (status < 200 || status === 204 || status === 304 || o.isHead || cl === undefined || head.transferEncoding !== undefined || !DIGITS.test(cl)) return undefined;
  if (status === 200 && (o.bufferFilter || o.lineFilter)) return undefined;
  // rawHead() of relayResponse: a keep-alive 1.1 head whose only hop-by-hop header is its Content-Length
  if (head.raw === undefined || !o.keepClient || head.version !== '1.1' || head.statusText === '' || head.connection !== undefined || head.hopByHop !== 1) return undefined;
  const left = Number(cl);
  if (up.r.length < left) return undefined;
  const h = head.raw;
  const body = up.r.take(left);
  if (body.length && h.buffer === body.buffer && h.byteOffset + h.length === body.byteOffset) {
    client.write(Buffer.from(h.buffer, h.byteOffset, h.length + body.length));
  } else {
    client.cork();
    client.write(h);
    if (body.length) client.write(body);
    client.uncork();
  }
  o.onHeadSent?.();
  return { keepClient: true, keepUp: true };
}

/** Relays one response from the engine to the client. Rejects only before the head was written to the client. */
export async function relayResponse(o: RelayOptions): Promise<RelayResult> {
  const { client, up, head } = o;
  const status = head.status;
  if (status === 101 || (status >= 100 && status < 200)) throw new HttpParseError(502, `the engine answered ${status} to a plain request`);
  const cl = head.contentLength;
  const te = head.transferEncoding;
  if (te !== undefined && te.toLowerCase() !== 'chunked') throw new HttpParseError(502, `the engine answered with Transfer-Encoding: ${te}`);
  if (cl !== undefined && !DIGITS.test(cl)) throw new HttpParseError(502, 'the engine answered with an invalid Content-Length');
  const upKeep = head.version === '1.1' && (head.connection === undefined || !CONNECTION_CLOSE.test(head.connection));
  const noBody = o.isHead || status === 204 || status === 304;
  const framing: BodyFraming | { type: 'close' } = noBody
    ? { type: 'none' }
    : te !== undefined
      ? { type: 'chunked' }
      : cl !== undefined
        ? { type: 'length', length: Number(cl) }
        : { type: 'close' };
  let keepClient = o.keepClient;
  const headBuf = (framingLines: string[]): string => {
    let h = `HTTP/1.1 ${status} ${head.statusText || statusText(status)}\r\n`;
    for (const [k, v] of endToEndHeaders(head.rawHeaders, head.connection)) h += `${k}: ${v}\r\n`;
    for (const l of framingLines) h += `${l}\r\n`;
    if (!keepClient) h += 'Connection: close\r\n';
    return `${h}\r\n`;
  };
  const sent = () => o.onHeadSent?.();
  // The engine's own head bytes can go to the client unchanged when its framing is passed through as is, nothing in
  // it is hop-by-hop and the connection stays open (the usual answer: no copy of the headers, no re-serialisation).
  // Without a Connection header, the headers endToEndHeaders drops are the hop-by-hop ones the parser counted.
  const rawHead = (): Buffer | undefined =>
    head.raw !== undefined &&
    keepClient &&
    (cl === undefined || te === undefined) &&
    head.version === '1.1' &&
    head.statusText !== '' &&
    (head.connection === undefined ? head.hopByHop : head.rawHeaders.length - endToEndHeaders(head.rawHeaders, head.connection).length) ===
      (cl !== undefined ? 1 : 0) + (te !== undefined ? 1 : 0)
      ? head.raw
      : undefined;

  if (framing.type === 'none') {
    const lines = o.isHead && cl !== undefined ? [`Content-Length: ${cl}`] : status === 204 || status === 304 ? [] : ['Content-Length: 0'];
    client.write(headBuf(lines), 'latin1');
    sent();
    return { keepClient, keepUp: upKeep };
  }

  // The whole body, filtered, with a Content-Length.
  if (o.bufferFilter && status === 200) {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const p of decodedBody(up.r, framing, { from: 'engine' })) {
      n += p.length;
      if (n > MAX_FILTERED) throw new HttpParseError(502, 'the engine\'s answer is too large to filter');
      parts.push(Buffer.from(p));
    }
    const body = await o.bufferFilter(Buffer.concat(parts, n));
    client.cork();
    client.write(headBuf([`Content-Length: ${body.length}`]), 'latin1');
    client.write(body);
    client.uncork();
    sent();
    return { keepClient, keepUp: upKeep && framing.type !== 'close' };
  }

  // Content-Length, unfiltered: the bytes as they come.
  if (framing.type === 'length' && !(o.lineFilter && status === 200)) {
    let left = framing.length;
    const h = rawHead() ?? headBuf([`Content-Length: ${left}`]);
    if (up.r.length >= left) {
      // the common case for small answers: head and body in one write (one buffer when they were read together)
      const body = up.r.take(left);
      if (typeof h !== 'string' && body.length && h.buffer === body.buffer && h.byteOffset + h.length === body.byteOffset) {
        client.write(Buffer.from(h.buffer, h.byteOffset, h.length + body.length));
        sent();
        return { keepClient, keepUp: upKeep };
      }
      client.cork();
      if (typeof h === 'string') client.write(h, 'latin1');
      else client.write(h);
      if (body.length) client.write(body);
      client.uncork();
      sent();
      return { keepClient, keepUp: upKeep };
    }
    if (typeof h === 'string') client.write(h, 'latin1');
    else client.write(h);
    sent();
    while (left > 0) {
      if (up.r.length === 0) {
        const w = await up.r.wait(0);
        if (w === 'end' && up.r.length === 0) return abort(client, up);
        continue;
      }
      const b = up.r.takeSome(left);
      left -= b.length;
      if (client.destroyed) return abort(client, up);
      const wait = push(client, b);
      if (wait) await wait;
    }
    return { keepClient, keepUp: upKeep };
  }

  // Chunked, unfiltered, to an HTTP/1.1 client: the engine's chunks as received; a decoder finds the end.
  if (framing.type === 'chunked' && o.client11 && !(o.lineFilter && status === 200)) {
    const h = rawHead();
    if (h) client.write(h);
    else client.write(headBuf(['Transfer-Encoding: chunked']), 'latin1');
    sent();
    const dec = new ChunkedDecoder();
    for (;;) {
      if (up.r.length) {
        const d = up.r.takeSome(up.r.length);
        try {
          dec.push(d);
        } catch {
          return abort(client, up);
        }
        const own = dec.done ? d.subarray(0, d.length - dec.rest.length) : d;
        if (client.destroyed) return abort(client, up);
        const wait = own.length ? push(client, own) : undefined;
        if (dec.done) return { keepClient, keepUp: upKeep && dec.rest.length === 0 };
        if (wait) await wait;
        continue;
      }
      const w = await up.r.wait(0);
      if (w === 'end' && up.r.length === 0) return abort(client, up);
    }
  }

  // Everything else is decoded and written in the client's framing: close-delimited answers, HTTP/1.0 clients,
  // line-filtered streams (events).
  const chunkedOut = o.client11;
  if (!chunkedOut) keepClient = false;
  client.write(headBuf(chunkedOut ? ['Transfer-Encoding: chunked'] : []), 'latin1');
  sent();
  const lf = status === 200 ? o.lineFilter : undefined;
  try {
    for await (const p of decodedBody(up.r, framing, { from: 'engine' })) {
      const d = lf ? await lf.push(Buffer.from(p)) : p;
      if (client.destroyed) return abort(client, up);
      if (d.length === 0) continue;
      const wait = chunkedOut ? pushChunk(client, d) : push(client, d);
      if (wait) await wait;
    }
  } catch {
    return abort(client, up);
  }
  if (chunkedOut && !client.destroyed) client.write('0\r\n\r\n', 'latin1');
  return { keepClient, keepUp: upKeep && framing.type !== 'close' };
}

function abort(client: Duplex, up: UpConn): RelayResult {
  up.sock.destroy();
  client.destroy();
  return { keepClient: false, keepUp: false };
}

/** Where a body comes from: the client (a request: idle timeout, 4xx) or the engine (an answer: no timeout, 502). */
export interface BodySource {
  from: 'client' | 'engine';
  /** longest pause while the body arrives (client only; 0: none) */
  idleMs?: number | undefined;
}

/**
 * A body decoded from its framing, as views of what was received. After a chunked body the bytes that follow it are
 * put back (the next pipelined request). Throws HttpParseError: 408/400 for a client's body that stalls or ends
 * early, 502 for an engine's answer that does.
 */
export async function* decodedBody(r: SocketReader, framing: BodyFraming | { type: 'close' }, src: BodySource): AsyncGenerator<Buffer> {
  const client = src.from === 'client';
  const more = async (short: string): Promise<void> => {
    const w = await r.wait(client ? (src.idleMs ?? 0) : 0);
    if (w === 'timeout') throw new HttpParseError(408, 'request body not received in time');
    if (w === 'end' && r.length === 0) throw new HttpParseError(client ? 400 : 502, client ? short : 'the engine\'s answer ended early');
  };
  if (framing.type === 'none') return;
  if (framing.type === 'length') {
    let left = framing.length;
    while (left > 0) {
      if (r.length === 0) {
        await more('request body shorter than its Content-Length');
        continue;
      }
      const b = r.takeSome(left);
      left -= b.length;
      yield b;
    }
    return;
  }
  if (framing.type === 'close') {
    for (;;) {
      if (r.length) {
        yield r.takeSome(r.length);
        continue;
      }
      if ((await r.wait(0)) === 'end' && r.length === 0) return;
    }
  }
  const dec = new ChunkedDecoder();
  for (;;) {
    while (r.length && !dec.done) {
      let parts: Buffer[];
      try {
        parts = dec.push(r.takeSome(r.length));
      } catch (e) {
        if (client) throw e;
        throw new HttpParseError(502, `the engine's chunked answer is malformed: ${(e as Error).message}`);
      }
      for (const p of parts) if (p.length) yield p;
    }
    if (dec.done) {
      r.unshift(dec.rest);
      return;
    }
    await more('connection closed in the middle of a chunked body');
  }
}
