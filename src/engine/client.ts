/**
 * The Engine: one endpoint, a negotiated API version, and typed helpers over `sendRequest`.
 * The API map (which paths, which status codes mean what) lives in endpoints/; this class only moves requests.
 */
import type { IncomingMessage } from 'node:http';
import { EngineError, usageError } from '../util/errors.js';
import { buildQuery, errorFromResponse, readBody, sendRequest, type EngineEndpoint, type RequestOptions } from './transport.js';

/** The oldest API we speak: Docker 20.10 (Debian 12's docker.io) answers 1.41. */
export const MIN_API_VERSION = '1.41';
/** The newest API we know; negotiation picks min(this, the daemon's). */
export const MAX_API_VERSION = '1.47';

export function compareApiVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}

const API_VERSION_RE = /^\d+\.\d+$/;

/**
 * Picks the version to speak from the daemon's /_ping API-Version header: min(daemon, ceiling), refusing daemons
 * older than the floor. A daemon that sends no (or a malformed) header gets the floor, as the docker client falls
 * back to a fixed version.
 */
export function negotiateApiVersion(serverVersion: string | undefined, floor = MIN_API_VERSION, ceiling = MAX_API_VERSION): string {
  if (!serverVersion || !API_VERSION_RE.test(serverVersion.trim())) return floor;
  serverVersion = serverVersion.trim();
  if (compareApiVersions(serverVersion, floor) < 0) {
    throw new EngineError(`the engine speaks API ${serverVersion}, older than the minimum ${floor} that nestling supports`, {
      code: 'E_ENGINE_TOO_OLD',
      hint: `upgrade Docker to 20.10 or newer (API ${floor}), or point DOCKER_HOST at a newer engine`,
      details: { serverVersion, floor },
    });
  }
  return compareApiVersions(serverVersion, ceiling) > 0 ? ceiling : serverVersion;
}

/**
 * Validates a DOCKER_API_VERSION pin: "1.43" (a leading "v" is accepted). The pin is used verbatim, without
 * negotiation, as by the docker CLI; a pin older than the floor is refused because nestling does not speak it.
 */
export function parseApiVersionPin(pin: string | undefined, floor = MIN_API_VERSION): string | undefined {
  if (pin === undefined || pin.trim() === '') return undefined;
  const v = pin.trim().replace(/^v/i, '');
  if (!API_VERSION_RE.test(v)) {
    throw usageError('E_ENGINE_API_VERSION', `DOCKER_API_VERSION=${pin} is not an API version`, {
      hint: 'use the form 1.41, or unset DOCKER_API_VERSION to negotiate',
      details: { pin },
    });
  }
  if (compareApiVersions(v, floor) < 0) {
    throw usageError('E_ENGINE_API_VERSION', `DOCKER_API_VERSION=${pin} is older than ${floor}, the oldest API nestling speaks`, {
      hint: `use ${floor} or newer, or unset DOCKER_API_VERSION to negotiate`,
      details: { pin, floor },
    });
  }
  return v;
}

export interface PingResult {
  apiVersion: string | undefined;
  osType: string | undefined;
  experimental: boolean;
  builderVersion: string | undefined;
}

export interface EngineOptions {
  /** Pin the API version instead of negotiating (DOCKER_API_VERSION). */
  apiVersion?: string | undefined;
  signal?: AbortSignal | undefined;
}

export class Engine {
  readonly endpoint: EngineEndpoint;
  #apiVersion: string | undefined;
  #negotiation: Promise<string> | undefined;
  readonly #signal: AbortSignal | undefined;

  /** Throws E_ENGINE_API_VERSION (a usage error) when `opts.apiVersion` is malformed or older than the floor. */
  constructor(endpoint: EngineEndpoint, opts: EngineOptions = {}) {
    this.endpoint = endpoint;
    this.#apiVersion = parseApiVersionPin(opts.apiVersion);
    this.#signal = opts.signal;
  }

  get apiVersion(): string | undefined {
    return this.#apiVersion;
  }

  async ping(signal?: AbortSignal, timeoutMs = 10_000): Promise<PingResult> {
    const res = await sendRequest(this.endpoint, '/_ping', { method: 'GET', path: '/_ping', signal: signal ?? this.#signal, timeoutMs });
    if ((res.statusCode ?? 0) >= 300) throw await errorFromResponse(res, 'GET /_ping');
    await readBody(res);
    const h = (n: string) => {
      const v = res.headers[n];
      return Array.isArray(v) ? v[0] : v;
    };
    return {
      apiVersion: h('api-version'),
      osType: h('ostype'),
      experimental: h('docker-experimental') === 'true',
      builderVersion: h('builder-version'),
    };
  }

  /** Negotiates once (concurrent callers share the promise). */
  negotiate(signal?: AbortSignal): Promise<string> {
    if (this.#apiVersion) return Promise.resolve(this.#apiVersion);
    this.#negotiation ??= this.ping(signal).then(
      (p) => (this.#apiVersion = negotiateApiVersion(p.apiVersion)),
      (e: unknown) => {
        this.#negotiation = undefined;
        throw e;
      },
    );
    return this.#negotiation;
  }

  /** The path with the negotiated /vX.Y prefix (negotiating first if needed). */
  async versionedPath(path: string, signal?: AbortSignal): Promise<string> {
    return `/v${await this.negotiate(signal ?? this.#signal)}${path}`;
  }

  /** The signal given at construction, used when a call brings none. */
  get signal(): AbortSignal | undefined {
    return this.#signal;
  }

  /** Sends a request and returns the raw response; non-2xx becomes an EngineError unless `acceptStatus` allows it. */
  async request(opts: RequestOptions & { acceptStatus?: (status: number) => boolean }): Promise<IncomingMessage> {
    const signal = opts.signal ?? this.#signal;
    let path = opts.path;
    if (!opts.unversioned) path = `/v${await this.negotiate(signal)}${path}`;
    const res = await sendRequest(this.endpoint, path + buildQuery(opts.query), { ...opts, signal });
    const status = res.statusCode ?? 0;
    const ok = opts.acceptStatus ? opts.acceptStatus(status) : status >= 200 && status < 300;
    if (!ok) throw await errorFromResponse(res, `${opts.method} ${opts.path}`);
    return res;
  }

  /** A request whose answer is JSON (or empty). */
  async json<T = unknown>(opts: RequestOptions): Promise<T> {
    const res = await this.request(opts);
    const buf = await readBody(res, undefined, opts.signal ?? this.#signal);
    if (buf.length === 0) return undefined as T;
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch (e) {
      throw new EngineError(`the engine answered ${opts.method} ${opts.path} with invalid JSON`, {
        code: 'E_ENGINE_BAD_RESPONSE',
        cause: e,
        details: { sample: buf.subarray(0, 200).toString('utf8') },
      });
    }
  }

  /** A request whose answer is drained and ignored (204s, 201s). */
  async call(opts: RequestOptions): Promise<void> {
    const res = await this.request(opts);
    await readBody(res, undefined, opts.signal ?? this.#signal);
  }
}
