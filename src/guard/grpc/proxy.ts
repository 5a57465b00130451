/**
 * The /grpc connection after the daemon's 101: HTTP/2 (h2c) is terminated on both sides and every gRPC call is
 * decided on its own (buildkit.ts): a method not in the table is refused, Control.Solve and LLBBridge.Solve are
 * read, checked and re-encoded, the rest is relayed stream to stream. Refusals are gRPC errors
 * (PERMISSION_DENIED, the guard's message in grpc-message), so buildx shows them as build errors.
 *
 * Flow control is HTTP/2's own, end to end: a relayed stream is piped, so a slow reader on either side stops the
 * other side's window (no buffering in the guard beyond one checked request message, capped).
 */
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { DecideContext, RouteDef } from '../types.js';
import { GRPC_METHODS, grpcDenial, type GrpcDenial } from './buildkit.js';
import { grpcFrame, grpcMessages, ProtoError } from './proto.js';

export interface GrpcCallRecord {
  /** the gRPC method path, e.g. /moby.buildkit.v1.Control/Solve */
  path: string;
  decision: 'forward' | 'deny' | 'would-deny' | 'error';
  /** 200 for a relayed call, 403 for a refusal, 502 when the engine side failed */
  status: number;
  rule?: string | undefined;
  message?: string | undefined;
  ms: number;
}

export interface GrpcProxyOptions {
  /** the client's socket, the 101 already written to it (bytes it sent early put back with unshift) */
  client: Duplex;
  /** the daemon's socket after its 101 (bytes read after the head put back with unshift) */
  upstream: Duplex;
  ctx: DecideContext;
  route: RouteDef;
  /** log refusals as would-deny and relay the call unchanged */
  dryRun?: boolean;
  /** cap on a checked request message (the policy's maxBodyBytes) */
  maxMessageBytes: number;
  onCall: (rec: GrpcCallRecord) => void;
  /** guard shutdown: no new calls, the running ones finish */
  signal?: AbortSignal | undefined;
}

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;
/** Per-stream and connection windows: 1 MiB (the default 64 KiB caps a build context upload over Session). */
const WINDOW = 1 << 20;
/**
 * Streams per connection: the client may open 100 at once, below the daemon's 250 (grpc-go's default), so no call
 * waits inside the guard for an upstream slot while holding its checked message.
 */
const SETTINGS: http2.Settings = { initialWindowSize: WINDOW, maxConcurrentStreams: 100 };
const HOP_BY_HOP = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'host', 'http2-settings']);
const GRPC_PERMISSION_DENIED = 7;
const GRPC_INTERNAL = 13;
const GRPC_UNAVAILABLE = 14;

/** grpc-message is percent-encoded: bytes outside printable ASCII, and `%` itself. */
export function encodeGrpcMessage(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * End-to-end headers from the raw header list: a repeated header stays a list of values (node's header object would
 * join them with ", ": BuildKit's session lists the methods it exposes in repeated x-docker-expose-session-grpc-method
 * headers, and one joined value matches none).
 */
function endToEnd(raw: readonly string[], keepStatus: boolean): http2.OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = (raw[i] as string).toLowerCase();
    const v = raw[i + 1] as string;
    if (HOP_BY_HOP.has(k)) continue;
    if (k.startsWith(':') && !(keepStatus && k === ':status')) continue;
    const cur = out[k];
    out[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
  }
  return out;
}

const noop = (): void => undefined;

/** Ends a call the guard answers itself: gRPC's trailers-only form (status and message in the one HEADERS frame). */
function endCall(stream: http2.ServerHttp2Stream, code: number, message: string): boolean {
  if (stream.destroyed || stream.headersSent) return false;
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) }, { endStream: true });
  return true;
}

/** Runs the proxy until both connections are closed. */
export function runGrpcProxy(o: GrpcProxyOptions): Promise<void> {
  return new Promise((resolve) => {
    let closed = 0;
    const onSocketClose = () => {
      if (++closed === 2) resolve();
    };
    o.client.once('close', onSocketClose);
    o.upstream.once('close', onSocketClose);
    o.client.on('error', noop);
    o.upstream.on('error', noop);

    const up = http2.connect('http://docker', { createConnection: () => o.upstream, settings: SETTINGS, maxSessionMemory: 64 });
    up.on('error', noop);
    up.once('connect', () => up.setLocalWindowSize(WINDOW));
    let clientSession: http2.ServerHttp2Session | undefined;
    const shutdown = () => {
      if (!up.destroyed) up.close();
      if (clientSession && !clientSession.destroyed) clientSession.close();
    };
    const kill = () => {
      up.destroy();
      clientSession?.destroy();
      o.client.destroy();
      o.upstream.destroy();
    };
    up.once('close', () => {
      if (clientSession && !clientSession.destroyed) clientSession.close(() => kill());
      else kill();
    });
    o.signal?.addEventListener('abort', shutdown, { once: true });

    // checked messages of all streams together: twice the per-message cap
    const budget: Budget = { max: 2 * o.maxMessageBytes, used: 0 };
    const server = http2.createServer({ settings: SETTINGS, maxSessionMemory: 64 });
    server.on('sessionError', noop);
    server.on('session', (s: http2.ServerHttp2Session) => {
      clientSession = s;
      s.on('error', noop);
      s.once('connect', () => s.setLocalWindowSize(WINDOW));
      s.once('close', () => {
        if (!up.destroyed) up.close(() => kill());
        else kill();
      });
    });
    server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw: string[]) => {
      stream.on('error', noop);
      void onStream(o, up, stream, headers, raw, budget).catch(() => {
        if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
      });
    });
    server.emit('connection', o.client);
  });
}

async function onStream(
  o: GrpcProxyOptions,
  up: http2.ClientHttp2Session,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: readonly string[],
  budget: Budget,
): Promise<void> {
  const started = Date.now();
  const path = String(headers[':path'] ?? '');
  const record = (r: Omit<GrpcCallRecord, 'path' | 'ms'>) => o.onCall({ path, ms: Date.now() - started, ...r });
  const refuse = (d: GrpcDenial): void => {
    record({ decision: 'deny', status: 403, rule: d.rule, message: d.message });
    if (endCall(stream, GRPC_PERMISSION_DENIED, d.message)) stream.resume();
  };
  let dryRunOf: GrpcDenial | undefined;
  const denyOrNote = (d: GrpcDenial): boolean => {
    if (!o.dryRun) {
      refuse(d);
      return true;
    }
    dryRunOf ??= d;
    return false;
  };

  const policy = headers[':method'] === 'POST' && Object.hasOwn(GRPC_METHODS, path) ? GRPC_METHODS[path] : undefined;
  if (!policy) {
    if (denyOrNote(grpcDenial('grpc-method', 'method', `${String(headers[':method'])} ${path}`))) return;
  } else if (policy.kind === 'refuse') {
    if (denyOrNote(grpcDenial(policy.rule, 'method', path))) return;
  }

  let body: Buffer | undefined;
  let held = 0;
  let released = false;
  const release = () => {
    if (!released) budget.used -= held;
    released = true;
  };
  // every way out of this call gives the held bytes back (refusals, errors, the engine's end of the stream)
  stream.once('close', release);
  if (policy?.kind === 'check') {
    const read = await readAll(stream, o.maxMessageBytes, budget);
    if (read === 'too-large') return refuse(grpcDenial('grpc-unreadable', 'message', `larger than ${o.maxMessageBytes} bytes`));
    if (read === 'over-budget') {
      return refuse(grpcDenial('grpc-unreadable', 'message', `more than ${budget.max} bytes of checked messages in flight on this connection`));
    }
    if (read === 'aborted') return;
    held = read.length;
    let msgs: Buffer[];
    try {
      msgs = grpcMessages(read, path);
      if (msgs.length !== 1) throw new ProtoError(path, `${msgs.length} messages where a unary call sends one`);
    } catch (e) {
      if (e instanceof ProtoError) return refuse(grpcDenial('grpc-unreadable', e.field, e.message));
      throw e;
    }
    let r: Buffer | GrpcDenial;
    try {
      r = await policy.check(msgs[0] as Buffer, o.ctx, o.route);
    } catch (e) {
      record({ decision: 'error', status: 502, message: (e as Error).message });
      endCall(stream, GRPC_UNAVAILABLE, `nestling guard: cannot decide on this call: ${(e as Error).message}`);
      return;
    }
    if (!Buffer.isBuffer(r)) {
      if (denyOrNote(r)) return;
      body = read; // dry run: the call as the client sent it
    } else body = grpcFrame(r);
  }
  if (stream.destroyed) return;

  let upReq: http2.ClientHttp2Stream;
  try {
    upReq = up.request({ ...endToEnd(rawHeaders, false), ':method': 'POST', ':path': path }, { endStream: false });
  } catch (e) {
    record({ decision: 'error', status: 502, message: (e as Error).message });
    endCall(stream, GRPC_UNAVAILABLE, 'nestling guard: the engine connection is closed');
    return;
  }
  upReq.on('error', noop);
  upReq.once('finish', release);
  upReq.once('close', release);
  const verdict = dryRunOf ? 'would-deny' : 'forward';
  let logged = false;
  const logOnce = (status: number) => {
    if (logged) return;
    logged = true;
    record({ decision: verdict, status, rule: dryRunOf?.rule, message: dryRunOf?.message });
  };

  // request direction
  if (body !== undefined) upReq.end(body);
  else stream.pipe(upReq);

  // response direction
  let trailers: http2.OutgoingHttpHeaders | undefined;
  upReq.once('response', (h: http2.IncomingHttpHeaders, _flags: number, raw: string[]) => {
    logOnce(200);
    if (stream.destroyed) return;
    if (h['grpc-status'] !== undefined) {
      // trailers-only: the status travels in the only HEADERS frame
      stream.respond(endToEnd(raw, true), { endStream: true });
      upReq.resume();
      return;
    }
    stream.respond(endToEnd(raw, true), { waitForTrailers: true });
    upReq.pipe(stream);
  });
  upReq.once('trailers', (_t, _flags, raw: string[]) => {
    trailers = endToEnd(raw, false);
  });
  stream.once('wantTrailers', () => {
    stream.sendTrailers(
      trailers ?? { 'grpc-status': String(GRPC_INTERNAL), 'grpc-message': 'nestling guard: the engine ended the call without a status' },
    );
  });
  // a cancel on either side cancels the other
  stream.once('close', () => {
    if (!upReq.closed) upReq.close(NGHTTP2_CANCEL);
  });
  upReq.once('close', () => {
    logOnce(502);
    if (stream.destroyed || stream.closed) return;
    if (!stream.headersSent) endCall(stream, GRPC_UNAVAILABLE, 'nestling guard: the engine closed the call');
    else if (upReq.rstCode !== undefined && upReq.rstCode !== 0) stream.close(upReq.rstCode);
  });
}

/** The whole request body of a unary call, capped. */
/** Bytes of checked messages held at once on one connection (many streams each sending a large Solve). */
export interface Budget {
  max: number;
  used: number;
}

/** The whole request body of a unary call, capped per message and per connection (budget). */
function readAll(stream: http2.ServerHttp2Stream, max: number, budget: Budget): Promise<Buffer | 'too-large' | 'over-budget' | 'aborted'> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let n = 0;
    const onData = (d: Buffer) => {
      n += d.length;
      budget.used += d.length;
      if (n > max || budget.used > budget.max) {
        const why = n > max ? 'too-large' : 'over-budget';
        cleanup();
        resolve(why);
        return;
      }
      parts.push(d);
    };
    const onEnd = () => {
      // the bytes stay counted until the engine has taken the message (the caller releases them)
      cleanup(false);
      resolve(Buffer.concat(parts));
    };
    const onClose = () => {
      cleanup();
      resolve('aborted');
    };
    const cleanup = (release = true) => {
      if (release) budget.used -= n;
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('close', onClose);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onClose);
  });
}
