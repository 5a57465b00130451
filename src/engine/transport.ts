/**
 * Transport to a Docker engine: where it is (an EngineEndpoint) and how to send one HTTP request to it.
 * No API knowledge lives here; endpoints/ map the API on top of `Engine.request`.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { EngineError } from '../util/errors.js';
import { channels } from '../util/log.js';

export interface TlsMaterial {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  /** Verify the server certificate against `ca` (DOCKER_TLS_VERIFY). */
  verify: boolean;
}

export interface EngineEndpoint {
  /** unix socket path, or tcp host:port */
  kind: 'unix' | 'tcp';
  socketPath?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  tls?: TlsMaterial | undefined;
  /** The URL as the user would write it: unix:///var/run/docker.sock, tcp://docker:2376 */
  url: string;
  /** Where the endpoint came from: --host, DOCKER_HOST, context <name>, default socket. */
  source: string;
}

export interface RequestOptions {
  method: string;
  /** Path without the /vX.Y prefix: the Engine adds it. */
  path: string;
  query?: Record<string, string | number | boolean | undefined | string[]> | undefined;
  headers?: OutgoingHttpHeaders | undefined;
  /** A JSON value (serialised), a Buffer, or a stream (sent chunked). */
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Do not add the /vX.Y prefix (for /_ping, /session). */
  unversioned?: boolean | undefined;
  /** Milliseconds until the response headers must have arrived. */
  timeoutMs?: number | undefined;
}

export function buildQuery(q: RequestOptions['query']): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(x)}`);
    else parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Options for http.request that reach the endpoint (socketPath or host/port, TLS). */
export function requestTarget(ep: EngineEndpoint): http.RequestOptions & https.RequestOptions {
  if (ep.kind === 'unix') return { socketPath: ep.socketPath };
  const base: https.RequestOptions = { host: ep.host, port: ep.port };
  if (ep.tls) {
    if (ep.tls.ca) base.ca = ep.tls.ca;
    if (ep.tls.cert) base.cert = ep.tls.cert;
    if (ep.tls.key) base.key = ep.tls.key;
    base.rejectUnauthorized = ep.tls.verify;
  }
  return base;
}

export function isTls(ep: EngineEndpoint): boolean {
  return ep.kind === 'tcp' && ep.tls !== undefined;
}

/** Sends one request and resolves with the response head; the body is left unread for the caller. */
export function sendRequest(ep: EngineEndpoint, path: string, opts: RequestOptions): Promise<IncomingMessage> {
  const { method, body, signal } = opts;
  const headers: OutgoingHttpHeaders = { ...opts.headers };
  let payload: Buffer | Readable | undefined;
  if (body instanceof Readable) payload = body;
  else if (Buffer.isBuffer(body)) payload = body;
  else if (body !== undefined) {
    payload = Buffer.from(JSON.stringify(body));
    headers['content-type'] ??= 'application/json';
  }
  if (Buffer.isBuffer(payload)) headers['content-length'] = payload.length;
  else if (payload) headers['transfer-encoding'] = 'chunked';
  else if (method === 'POST' || method === 'PUT') headers['content-length'] ??= 0;
  headers.host ??= ep.kind === 'unix' ? 'docker' : `${ep.host}:${ep.port}`;

  const lib = isTls(ep) ? https : http;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = lib.request({ ...requestTarget(ep), method, path, headers, signal, agent: false });
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => req.destroy(new Error(`no response within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    }
    req.on('response', (res) => {
      if (timer) clearTimeout(timer);
      channels.engineRequest.publish({ method, path, status: res.statusCode, ms: Date.now() - started });
      resolve(res);
    });
    let bodyError: Error | undefined;
    req.on('error', (err) => {
      if (timer) clearTimeout(timer);
      // A failing request body (a tar stream that broke) is the caller's error, not an unreachable engine.
      reject(bodyError ?? connectionError(ep, method, path, err));
    });
    if (payload instanceof Readable) {
      payload.on('error', (e) => {
        bodyError = e;
        req.destroy(e);
      });
      payload.pipe(req);
    } else req.end(payload);
  });
}

export function connectionError(ep: EngineEndpoint, method: string, path: string, err: Error & { code?: string }) {
  if (err.name === 'AbortError') return err;
  const code = err.code ?? '';
  let hint = 'run `nestling doctor` to see how the engine endpoint was resolved';
  if (code === 'ENOENT') hint = `no socket at ${ep.socketPath}: start dockerd, or mount the socket with -v /var/run/docker.sock:/var/run/docker.sock`;
  else if (code === 'EACCES') hint = `permission denied on ${ep.socketPath}: run as root or join the socket's group (docker)`;
  else if (code === 'ECONNREFUSED') hint = `nothing listens at ${ep.url}: is dockerd running?`;
  else if (/certificate|SSL|TLS|self.signed/i.test(err.message)) hint = 'check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY';
  return new EngineError(`cannot reach the Docker engine at ${ep.url} (${ep.source}): ${err.message}`, {
    code: 'E_ENGINE_UNREACHABLE',
    hint,
    cause: err,
    route: `${method} ${path}`,
    details: { endpoint: ep.url, source: ep.source, errno: code },
  });
}

/** The error an aborted operation rejects with: the signal's reason when it is an Error, else an AbortError. */
export function abortReason(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : Object.assign(new Error('the operation was aborted'), { name: 'AbortError' });
}

/**
 * Reads a whole body. A connection lost mid-body becomes E_ENGINE_CONNECTION_LOST, or the abort reason when
 * `signal` aborted; a body over `limit` is E_ENGINE_BAD_RESPONSE.
 */
export async function readBody(res: Readable, limit = 64 * 1024 * 1024, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res) {
      const b = c as Buffer;
      n += b.length;
      if (n > limit) {
        res.destroy();
        throw new EngineError(`the engine's response body is over ${limit} bytes`, { code: 'E_ENGINE_BAD_RESPONSE' });
      }
      chunks.push(b);
    }
  } catch (e) {
    if (e instanceof EngineError) throw e;
    if (signal?.aborted) throw abortReason(signal);
    throw new EngineError(`the connection to the engine was lost while reading its answer: ${(e as Error).message}`, {
      code: 'E_ENGINE_CONNECTION_LOST',
      cause: e,
      hint: 'the daemon may have restarted or crashed: see its log',
    });
  }
  return Buffer.concat(chunks);
}

/**
 * Turns a non-2xx response into an EngineError carrying the daemon's own message. `meaning` (a status-table row
 * from endpoints/) gives the endpoint-specific code and hint; without it the code follows the status.
 */
export async function errorFromResponse(
  res: IncomingMessage,
  route: string,
  meaning?: { code: string; meaning: string; hint?: string | undefined },
): Promise<EngineError> {
  const raw = await readBody(res, 1024 * 1024).catch(() => Buffer.alloc(0));
  return engineErrorFrom(res.statusCode ?? 0, res.statusMessage, raw, route, meaning);
}

/** The EngineError for a status and the raw error body the daemon sent ({"message":"..."} or text). */
export function engineErrorFrom(
  status: number,
  statusMessage: string | undefined,
  raw: Buffer,
  route: string,
  meaning?: { code: string; meaning: string; hint?: string | undefined },
): EngineError {
  let engineMessage = raw.toString('utf8').trim();
  try {
    const j = JSON.parse(engineMessage) as { message?: unknown };
    if (typeof j.message === 'string') engineMessage = j.message;
  } catch {
    /* not JSON: keep the text */
  }
  let hint = meaning?.hint ?? engineErrorHint(status);
  if (status === 400 && /client version .* is too new/i.test(engineMessage)) {
    hint = 'DOCKER_API_VERSION pins a version this engine does not speak: unset it to negotiate, or pin the maximum the engine names';
  }
  return new EngineError(`engine error ${status} on ${route}: ${engineMessage || meaning?.meaning || statusMessage || 'no message'}`, {
    code: meaning?.code ?? engineErrorCode(status),
    statusCode: status,
    engineMessage,
    route,
    ...(hint ? { hint } : {}),
  });
}

function engineErrorCode(status: number): string {
  switch (status) {
    case 400:
      return 'E_ENGINE_BAD_REQUEST';
    case 401:
    case 403:
      return 'E_ENGINE_FORBIDDEN';
    case 404:
      return 'E_ENGINE_NOT_FOUND';
    case 409:
      return 'E_ENGINE_CONFLICT';
    default:
      return status >= 500 ? 'E_ENGINE_SERVER' : 'E_ENGINE_STATUS';
  }
}

function engineErrorHint(status: number): string | undefined {
  if (status === 403) return 'a proxy (nestling guard?) or an authorization plugin refused the request';
  if (status >= 500) return 'see the daemon log (journalctl -u docker, or dockerd --debug)';
  return undefined;
}
