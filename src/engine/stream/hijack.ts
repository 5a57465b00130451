/**
 * Hijacked connections: POST /containers/{id}/attach and POST /exec/{id}/start turn the HTTP connection into a
 * raw bidirectional stream. Two forms exist, and the daemon (moby's attach/exec routers) speaks both:
 *   - upgrade: the request carries `Connection: Upgrade` + `Upgrade: tcp`; the daemon answers
 *     `101 UPGRADED` and the stream starts right after the response head;
 *   - raw: no upgrade headers; the daemon answers `200 OK` with Content-Type application/vnd.docker.raw-stream
 *     (or multiplexed-stream) and no length, then the stream.
 * We own the socket and the HTTP/1.1 head parsing (undici style): bytes that arrive in the same chunk as the head
 * are put back on the socket before it is handed over, an upgrade nobody asked for kills the socket, and any other
 * status becomes an EngineError carrying the daemon's message.
 *
 * The result is the socket itself (a Duplex, opened with allowHalfOpen): write stdin to it, `closeWrite()` (or
 * end()) shuts down the write side only — the container sees EOF on stdin — and reading goes on until the daemon
 * closes (then our write side is closed too, so a consumer that only reads leaks nothing). The bytes read are raw (TTY) or multiplexed frames: pass them to demuxStream.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Engine } from '../client.js';
import { EngineError } from '../../util/errors.js';
import { buildQuery, connectionError, engineErrorFrom, type EngineEndpoint, type RequestOptions } from '../transport.js';
import { channels } from '../../util/log.js';

export interface HijackOptions {
  /** Path without the /vX.Y prefix (e.g. /containers/abc/attach). */
  path: string;
  query?: RequestOptions['query'];
  /** A JSON body (exec start). */
  body?: unknown;
  /** Ask for the 101 upgrade form (default true); false sends the plain request and expects 200 + raw stream. */
  upgrade?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Milliseconds until the response head must have arrived. */
  timeoutMs?: number | undefined;
  /** Status-table rows for error statuses (code/hint), keyed by status. */
  errors?: Readonly<Record<number, { code: string; meaning: string; hint?: string | undefined }>> | undefined;
}

export interface HijackedStream {
  /** The connection: read the container's output, write its stdin. */
  stream: Duplex;
  statusCode: number;
  /** True for the 101 form. */
  upgraded: boolean;
  /** Response headers, lower-cased names. */
  headers: Record<string, string>;
  /** Shuts down the write side (stdin EOF) and keeps reading. */
  closeWrite(): void;
}

const MAX_HEAD = 64 * 1024;

function connect(ep: EngineEndpoint): Duplex & net.Socket {
  if (ep.kind === 'unix') return net.createConnection({ path: ep.socketPath ?? '', allowHalfOpen: true });
  if (ep.tls) {
    const opts: tls.ConnectionOptions = {
      host: ep.host,
      port: ep.port ?? 2376,
      rejectUnauthorized: ep.tls.verify,
      ...(ep.tls.ca ? { ca: ep.tls.ca } : {}),
      ...(ep.tls.cert ? { cert: ep.tls.cert } : {}),
      ...(ep.tls.key ? { key: ep.tls.key } : {}),
      ...(ep.host && net.isIP(ep.host) === 0 ? { servername: ep.host } : {}),
    };
    return tls.connect(opts);
  }
  return net.createConnection({ host: ep.host ?? 'localhost', port: ep.port ?? 2375, allowHalfOpen: true });
}

interface Head {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string>;
}

/** Parses an HTTP/1.x response head (without the final CRLFCRLF). */
export function parseResponseHead(text: string): Head {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) {
    throw new EngineError(`the engine sent a malformed response head: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`, { code: 'E_ENGINE_BAD_RESPONSE' });
  }
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  return { statusCode: Number(m[1]), statusMessage: m[2] ?? '', headers };
}

/** Decodes a complete chunked body; undefined while incomplete. */
function decodeChunked(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const nl = buf.indexOf('\r\n', off);
    if (nl < 0) return undefined;
    const size = parseInt(buf.subarray(off, nl).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size)) return Buffer.concat(parts);
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < nl + 2 + size + 2) return undefined;
    parts.push(buf.subarray(nl + 2, nl + 2 + size));
    off = nl + 2 + size + 2;
  }
}

/** Hijacks a connection to an endpoint; `fullPath` already carries the /vX.Y prefix and the query. */
export function hijackEndpoint(ep: EngineEndpoint, fullPath: string, opts: Omit<HijackOptions, 'path' | 'query'> = {}): Promise<HijackedStream> {
  const upgrade = opts.upgrade !== false;
  const route = `POST ${fullPath.replace(/\?.*$/, '')}`;
  const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  const lines = [`POST ${fullPath} HTTP/1.1`, `Host: ${ep.kind === 'unix' ? 'docker' : `${ep.host}:${ep.port}`}`, 'User-Agent: nestling'];
  if (body) lines.push('Content-Type: application/json', `Content-Length: ${body.length}`);
  if (upgrade) lines.push('Connection: Upgrade', 'Upgrade: tcp');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const started = Date.now();

  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(opts.signal.reason instanceof Error ? opts.signal.reason : Object.assign(new Error('aborted'), { name: 'AbortError' }));
      return;
    }
    const socket = connect(ep);
    let buf: Buffer = Buffer.alloc(0);
    let parsed: Head | undefined;
    let headLen = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;

    const onAbort = () => {
      const reason = opts.signal?.reason;
      socket.destroy(reason instanceof Error ? reason : Object.assign(new Error('aborted'), { name: 'AbortError' }));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => opts.signal?.removeEventListener('abort', onAbort));

    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      cleanup();
      socket.destroy();
      reject(err);
    };
    const cleanup = () => {
      socket.off('readable', onReadable);
      socket.off('error', onError);
      socket.off('end', onEnd);
    };
    const onError = (err: Error & { code?: string }) => fail(connectionError(ep, 'POST', fullPath, err));
    const onEnd = () => {
      if (parsed) finishError(true);
      else fail(new EngineError(`the engine closed the connection before answering ${route}`, { code: 'E_ENGINE_BAD_RESPONSE', route }));
    };

    const finishError = (atEnd: boolean) => {
      if (!parsed) return;
      const rest = buf.subarray(headLen);
      const cl = parsed.headers['content-length'];
      let raw: Buffer | undefined;
      if (cl !== undefined) raw = rest.length >= Number(cl) ? rest.subarray(0, Number(cl)) : atEnd ? rest : undefined;
      else if (/chunked/i.test(parsed.headers['transfer-encoding'] ?? '')) raw = decodeChunked(rest) ?? (atEnd ? rest : undefined);
      else raw = atEnd ? rest : undefined;
      if (raw === undefined) return;
      fail(engineErrorFrom(parsed.statusCode, parsed.statusMessage, raw, route, opts.errors?.[parsed.statusCode]));
    };

    const onReadable = () => {
      let c: Buffer | null;
      while ((c = socket.read() as Buffer | null) !== null) {
        buf = buf.length ? Buffer.concat([buf, c]) : c;
        if (!parsed) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) {
            if (buf.length > MAX_HEAD) return fail(new EngineError(`the response head of ${route} exceeds ${MAX_HEAD} bytes`, { code: 'E_ENGINE_BAD_RESPONSE', route }));
            continue;
          }
          try {
            parsed = parseResponseHead(buf.subarray(0, end).toString('latin1'));
          } catch (e) {
            return fail(e as Error);
          }
          headLen = end + 4;
          channels.engineRequest.publish({ method: 'POST', path: fullPath, status: parsed.statusCode, ms: Date.now() - started, hijack: true });
          const s = parsed.statusCode;
          if (s === 101 && !upgrade) {
            return fail(new EngineError(`the engine switched protocols on ${route} although no upgrade was asked for`, { code: 'E_ENGINE_BAD_RESPONSE', route }));
          }
          if (s === 101 || s === 200) {
            // The stream starts right after the head: hand the socket over with those bytes put back.
            settled = true;
            if (timer) clearTimeout(timer);
            cleanup();
            const rest = buf.subarray(headLen);
            if (rest.length) socket.unshift(rest);
            // Once the daemon has closed its side, stdin no longer matters: close ours, so the socket is freed.
            socket.once('end', () => {
              if (!socket.writableEnded) socket.end();
            });
            resolve({
              stream: socket,
              statusCode: s,
              upgraded: s === 101,
              headers: parsed.headers,
              closeWrite: () => {
                socket.end();
              },
            });
            return;
          }
        }
        finishError(false);
        if (settled) return;
      }
    };

    socket.on('readable', onReadable);
    socket.on('error', onError);
    socket.on('end', onEnd);
    if (opts.timeoutMs) {
      timer = setTimeout(() => fail(new EngineError(`no answer to ${route} within ${opts.timeoutMs} ms`, { code: 'E_ENGINE_TIMEOUT', route })), opts.timeoutMs);
    }
    socket.write(body ? Buffer.concat([head, body]) : head);
  });
}

/** Hijacks `opts.path` on an Engine (negotiating the API version first). */
export async function hijack(engine: Engine, opts: HijackOptions): Promise<HijackedStream> {
  const signal = opts.signal ?? engine.signal;
  const full = (await engine.versionedPath(opts.path, signal)) + buildQuery(opts.query);
  return hijackEndpoint(engine.endpoint, full, { ...opts, signal });
}
