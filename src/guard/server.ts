/**
 * The guard's server: accepts connections (unix socket, loopback tcp, optionally TLS with client certificates),
 * parses every request strictly (http-parser.ts), asks the decider, and applies its Decision:
 *   - deny: answer in the daemon's JSON shape, never touching upstream;
 *   - forward: send exactly what was checked (canonical body, own framing, hop-by-hop headers stripped) and stream
 *     the answer back with backpressure, filtering it when the decision says so;
 *   - tunnel: hijack/h2c routes only (tunnel.ts).
 * The server owns the socket state (no http.Server: it cannot hand over a socket for the no-upgrade hijack form).
 * One request at a time per connection: pipelined requests wait in the buffer until the previous answer is sent.
 */
import net from 'node:net';
import tls from 'node:tls';
import { chmod, lstat, mkdir, realpath, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import type { Duplex } from 'node:stream';
import { Engine } from '../engine/client.js';
import { parseHostUrl } from '../engine/resolve.js';
import type { EngineEndpoint, TlsMaterial } from '../engine/transport.js';
import { configError, findNestlingError, usageError } from '../util/errors.js';
import { channels, silentLogger, type Logger } from '../util/log.js';
import { Labels } from '../util/labels.js';
import type { GuardDecisionRecord } from './audit-log.js';
import {
  DEFAULT_MAX_HEAD_BYTES,
  HOP_BY_HOP,
  HttpParseError,
  endToEndHeaders,
  errorResponse,
  parseRequestHead,
  type BodyFraming,
  type RequestHead,
} from './http-parser.js';
import { canonicalizeTarget, isDenial, matchRoute } from './match.js';
import { EngineOracle } from './oracle.js';
import { discoverMappings, mergeMappings } from './path-discovery.js';
import { reapOwner, type ReapReport } from './reaper.js';
import { connectUpstream, runTunnel } from './tunnel.js';
import { runGrpcProxy } from './grpc/proxy.js';
import { DEFAULT_PIN_DIR, probePins, releasePins } from './pins.js';
import { DEFAULT_TAG_DIR, openTagReservations, releaseTagReservations } from './tag-reservations.js';
import { cleanHostPath, isPathWithin } from './path-rewrite.js';
import { decodedBody, openUpstream, pumpBody, readResponseHead, relayBufferedAnswer, relayResponse, usable, UpstreamClosedEarly, type RelayOptions, type UpConn } from './forward.js';
import { SocketReader } from './socket-reader.js';
import { pumpImageLoad } from './image-load.js';
import { checkLoadedTags } from './rules/image.js';
import { filterEventLine, filterJsonResponse } from './response-filter.js';
import type { Decide, DecideContext, Decision, EffectivePolicy, PathMapping, RequestView, RouteDef } from './types.js';

export interface GuardLimits {
  maxHeadBytes: number;
  /** from the first byte of a request to the end of its head */
  headTimeoutMs: number;
  /** longest pause while a request body is being received */
  bodyIdleTimeoutMs: number;
  /** an idle keep-alive connection is closed after this */
  keepAliveTimeoutMs: number;
  /** how long close() waits for busy connections before cutting them */
  drainMs: number;
}

export const DEFAULT_LIMITS: GuardLimits = {
  maxHeadBytes: DEFAULT_MAX_HEAD_BYTES,
  headTimeoutMs: 30_000,
  bodyIdleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 120_000,
  drainMs: 5_000,
};

export interface GuardTlsOptions {
  cert: Buffer;
  key: Buffer;
  /** CA that client certificates must chain to (client certificates are required) */
  ca: Buffer;
}

export interface GuardOptions {
  /** the real engine: unix:///… or tcp://… (TLS via upstreamTls) */
  upstream: string;
  upstreamTls?: TlsMaterial | undefined;
  /** unix:///path or tcp://127.0.0.1:PORT (port 0: any free port) */
  listen: string;
  owner: string;
  policy?: EffectivePolicy | undefined;
  mappings?: PathMapping[] | undefined;
  /** discover mappings from this container's mounts (merged with `mappings`, which win) */
  jobContainer?: string | undefined;
  jobNetwork?: string | undefined;
  /** log what would be refused, and forward it anyway (dangerous: for policy development only) */
  dryRun?: boolean | undefined;
  /** remove everything the owner owns when the guard closes */
  reapOnExit?: boolean | undefined;
  /** with reapOnExit: images too */
  reapImages?: boolean | undefined;
  /**
   * Where bind pins are kept (pins.ts; default /run/nestling/pins): checked bind sources are mounted from a
   * descriptor at each start, closing the symlink-swap race. false: no pins. Without root (or mounts) the guard
   * runs without them and logs why.
   */
  pinDir?: string | false | undefined;
  /** where the host's guards reserve tags they allowed a write to (tag-reservations.ts; default /run/nestling/tags); false: none */
  tagDir?: string | false | undefined;
  /** serve TLS on a tcp listener, requiring client certificates */
  tls?: GuardTlsOptions | undefined;
  /** listen on a non-loopback tcp address (refused unless set) */
  allowNonLoopback?: boolean | undefined;
  /** unix socket mode (default 0o660) */
  socketMode?: number | undefined;
  onDecision?: ((d: GuardDecisionRecord) => void) | undefined;
  /** aborting closes the guard (like close()) */
  signal?: AbortSignal | undefined;
  /** the decider (default: ./decide.js) */
  decide?: Decide | undefined;
  limits?: Partial<GuardLimits> | undefined;
  log?: Logger | undefined;
  now?: (() => Date) | undefined;
}

export interface GuardHandle {
  /** where clients connect: unix:///… or tcp://127.0.0.1:PORT */
  url: string;
  socketPath?: string | undefined;
  owner: string;
  mappings: readonly PathMapping[];
  policy: EffectivePolicy;
  /** stop accepting, drain, (reap when asked), release the socket; idempotent */
  close(): Promise<void>;
  /** resolves after close() finished, with the reap report when reapOnExit */
  closed: Promise<ReapReport | undefined>;
}

/** JSON routes that cannot be meaningfully called without a body (CVE-2024-41110: a body hidden behind CL: 0). */
const BODY_REQUIRED: [string, RegExp][] = [
  ['POST', /^\/containers\/create$/],
  ['POST', /^\/containers\/[^/]+\/exec$/],
  ['POST', /^\/containers\/[^/]+\/update$/],
  ['POST', /^\/networks\/create$/],
  ['POST', /^\/networks\/[^/]+\/(connect|disconnect)$/],
  ['POST', /^\/volumes\/create$/],
  ['POST', /^\/exec\/[^/]+\/start$/],
];

const VERSION_PREFIX = /^\/v(\d+\.\d+)(?=\/)/;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

/** Strips the /vX.Y prefix; returns the path (still percent-encoded) and the version. */
export function splitTarget(target: string): { path: string; query: string; apiVersion: string | undefined; prefix: string } {
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  const m = VERSION_PREFIX.exec(rawPath);
  return { path: m ? rawPath.slice(m[0].length) : rawPath, query, apiVersion: m?.[1], prefix: m ? m[0] : '' };
}

/**
 * Whether the request body is a stream to pass through (build context, image load/import, archive PUT), asked of
 * the decider's own matcher before the body is read, so both halves agree on the route. Anything that does not
 * match is read in full (and capped): the decider then refuses it.
 */
function isUpload(method: string, target: string): boolean {
  if (method !== 'POST' && method !== 'PUT') return false;
  const t = canonicalizeTarget(target);
  if (isDenial(t)) return false;
  const m = matchRoute(method, t.path);
  return !isDenial(m) && m.route.kind === 'upload';
}

function requiresBody(method: string, path: string): boolean {
  if (method !== 'POST') return false;
  return BODY_REQUIRED.some(([m, re]) => m === method && re.test(path));
}

/** realpath of p, or of its deepest existing ancestor with the rest appended (paths that do not exist yet). */
export async function resolveHostPath(p: string): Promise<string> {
  let cur = resolvePath('/', p);
  const rest: string[] = [];
  for (let i = 0; i < 4096; i++) {
    try {
      const r = await realpath(cur);
      return rest.length ? join(r, ...rest.reverse()) : r;
    } catch {
      if (cur === '/') return resolvePath('/', p);
      rest.push(basename(cur));
      cur = dirname(cur);
    }
  }
  return resolvePath('/', p);
}

interface ListenSpec {
  kind: 'unix' | 'tcp';
  path?: string;
  host?: string;
  port?: number;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

export function parseListen(url: string, allowNonLoopback: boolean): ListenSpec {
  const m = /^(unix|tcp):\/\/(.*)$/.exec(url);
  if (!m) throw usageError('E_GUARD_LISTEN', `invalid --listen ${JSON.stringify(url)}`, { hint: 'use unix:///run/nestling/JOB.sock or tcp://127.0.0.1:PORT' });
  if (m[1] === 'unix') {
    if (!m[2]!.startsWith('/')) throw usageError('E_GUARD_LISTEN', `--listen ${url}: the socket path must be absolute`, { hint: 'e.g. unix:///run/nestling/job.sock' });
    return { kind: 'unix', path: m[2]! };
  }
  const hm = /^(\[[^\]]+\]|[^:/[\]]+):(\d+)\/?$/.exec(m[2]!);
  if (!hm) throw usageError('E_GUARD_LISTEN', `--listen ${url} is not tcp://HOST:PORT`, { hint: 'e.g. tcp://127.0.0.1:2375' });
  const host = hm[1]!.replace(/^\[|\]$/g, '');
  const port = Number(hm[2]);
  if (!(port >= 0 && port < 65536)) throw usageError('E_GUARD_LISTEN', `--listen ${url}: bad port`, { hint: 'ports are 0-65535' });
  if (!isLoopback(host) && !allowNonLoopback) {
    throw usageError('E_GUARD_LISTEN_NOT_LOOPBACK', `--listen ${url} is not a loopback address`, {
      hint: 'the guard listens on loopback or a unix socket; pass --listen-any to expose it (use TLS with client certificates)',
    });
  }
  return { kind: 'tcp', host, port };
}

async function readFullBody(r: SocketReader, framing: BodyFraming, cap: number, idleMs: number): Promise<Buffer | undefined> {
  if (framing.type === 'none') return undefined;
  if (framing.type === 'length') {
    if (framing.length > cap) throw new HttpParseError(413, `request body of ${framing.length} bytes is over the ${cap}-byte limit`);
    while (r.length < framing.length) {
      const w = await r.wait(idleMs);
      if (w === 'timeout') throw new HttpParseError(408, 'request body not received in time');
      if (w === 'end' && r.length < framing.length) throw new HttpParseError(400, 'request body shorter than its Content-Length');
    }
    return Buffer.from(r.take(framing.length));
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const p of decodedBody(r, framing, { from: 'client', idleMs })) {
    total += p.length;
    if (total > cap) throw new HttpParseError(413, `request body over the ${cap}-byte limit`);
    parts.push(p);
  }
  return Buffer.concat(parts, total);
}

/**
 * The request sent upstream: end-to-end headers only (repeated headers kept as separate lines: BuildKit's /session
 * sends X-Docker-Expose-Session-Grpc-Method once per method), our own framing, then the checked body.
 */
function buildRequest(head: RequestHead, target: string, bodyLength: number | 'chunked' | undefined, extra: string[], body: Buffer | undefined): Buffer {
  const h = requestHeadText(head, target, bodyLength, extra);
  if (!body?.length) return Buffer.from(h, 'latin1');
  const hl = Buffer.byteLength(h, 'latin1');
  const out = Buffer.allocUnsafe(hl + body.length);
  out.write(h, 0, 'latin1');
  body.copy(out, hl);
  return out;
}

/** buildRequest's head, as latin1 text (written as such when no body follows it: no buffer made for it). */
function requestHeadText(head: RequestHead, target: string, bodyLength: number | 'chunked' | undefined, extra: string[]): string {
  let h = `${head.method} ${target} HTTP/1.1\r\nhost: ${head.headers.host ?? 'docker'}\r\n`;
  const connection = head.headers.connection;
  if (connection === undefined) {
    // endToEndHeaders without a Connection header: the hop-by-hop names only, each name lower-cased once
    for (const [n, v] of head.rawHeaders) {
      const k = n.toLowerCase();
      if (!HOP_BY_HOP.has(k)) h += `${k}: ${v}\r\n`;
    }
  } else for (const [n, v] of endToEndHeaders(head.rawHeaders, connection)) h += `${n.toLowerCase()}: ${v}\r\n`;
  if (bodyLength === 'chunked') h += 'transfer-encoding: chunked\r\n';
  else if (bodyLength !== undefined) h += `content-length: ${bodyLength}\r\n`;
  for (const l of extra) h += `${l}\r\n`;
  h += '\r\n';
  return h;
}

/** The decider's view of a request; `query` is a fresh URLSearchParams on each read (a getter on the class: no
 *  per-request accessor definition). */
class ServerRequestView implements RequestView {
  readonly method: string;
  readonly rawTarget: string;
  readonly path: string;
  readonly apiVersion: string | undefined;
  readonly headers: Record<string, string>;
  readonly body: Buffer | undefined;
  readonly #query: string;
  constructor(method: string, rawTarget: string, path: string, apiVersion: string | undefined, query: string, headers: Record<string, string>, body: Buffer | undefined) {
    this.method = method;
    this.rawTarget = rawTarget;
    this.path = path;
    this.apiVersion = apiVersion;
    this.headers = headers;
    this.body = body;
    this.#query = query;
  }
  get query(): URLSearchParams {
    return new URLSearchParams(this.#query);
  }
}

interface ConnState {
  sock: Duplex;
  busy: boolean;
  /** this connection's upstream connection, kept alive between requests */
  up?: UpConn | undefined;
}

export async function startGuard(opts: GuardOptions): Promise<GuardHandle> {
  if (!opts.owner || /[\s,=]/.test(opts.owner) || opts.owner.length > 128) {
    throw usageError('E_GUARD_OWNER', `invalid owner ${JSON.stringify(opts.owner)}`, { hint: 'use a job id: letters, digits, . _ - (no spaces, commas or =)' });
  }
  const limits: GuardLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const log = opts.log ?? silentLogger;
  // one ISO timestamp per millisecond, not one Date per request; within a second only the milliseconds change
  let tsMs = -1;
  let tsIso = '';
  let tsSec = Number.NaN;
  let tsPrefix = '';
  const timestamp = (): string => {
    if (opts.now) return opts.now().toISOString();
    const ms = Date.now();
    if (ms !== tsMs) {
      tsMs = ms;
      const sec = Math.floor(ms / 1000);
      if (sec !== tsSec) {
        tsSec = sec;
        const iso = new Date(sec * 1000).toISOString();
        // YYYY-MM-DDTHH:mm:ss.sssZ (years 0-9999); anything else is formatted whole every time
        tsPrefix = iso.length === 24 ? iso.slice(0, 20) : '';
      }
      const r = ms - sec * 1000;
      tsIso = tsPrefix ? `${tsPrefix}${r < 10 ? '00' : r < 100 ? '0' : ''}${r}Z` : new Date(ms).toISOString();
    }
    return tsIso;
  };
  const upstream: EngineEndpoint = parseHostUrl(opts.upstream, '--upstream');
  if (upstream.kind === 'tcp' && opts.upstreamTls) upstream.tls = opts.upstreamTls;
  const engine = new Engine(upstream, { signal: opts.signal });
  const decideModule = await import('./decide.js');
  const decide: Decide = opts.decide ?? decideModule.decide;
  // the default decider's cached decisions are taken without a promise (the same object decide() would resolve to)
  const cachedDecision = decide === decideModule.decide ? decideModule.cachedDecision : undefined;
  const policy: EffectivePolicy = opts.policy ?? (await import('./policy.js')).defaultPolicy();
  const listen = parseListen(opts.listen, opts.allowNonLoopback ?? false);
  if (opts.tls && listen.kind !== 'tcp') throw usageError('E_GUARD_TLS_UNIX', 'TLS is for tcp:// listeners only', { hint: 'drop the TLS options, or listen on tcp://' });

  let mappings: PathMapping[] = mergeMappings(opts.mappings ?? [], []);
  if (opts.jobContainer) {
    try {
      mappings = mergeMappings(opts.mappings ?? [], await discoverMappings(engine, opts.jobContainer, opts.signal));
    } catch (e) {
      throw configError('E_GUARD_JOB_CONTAINER', `cannot read the mounts of job container ${opts.jobContainer}: ${findNestlingError(e)?.message ?? String(e)}`, {
        hint: 'check --job-container (a container id or name on the upstream engine)',
        cause: e,
      });
    }
  }
  const oracle = new EngineOracle(engine, { owner: opts.owner });
  const selfSockets: string[] = [];
  const ctx: DecideContext = {
    owner: opts.owner,
    policy,
    oracle,
    mappings,
    resolveHostPath,
    jobNetwork: opts.jobNetwork,
    selfSockets,
    signal: opts.signal,
  };
  if (opts.tagDir !== false) {
    const t = await openTagReservations(opts.tagDir ?? DEFAULT_TAG_DIR, opts.owner);
    if (typeof t === 'string') log.log('warn', `tag reservations unavailable (${t}): a tag is checked when a build starts, not when it is written`);
    else ctx.tags = t;
  }
  if (opts.pinDir !== false) {
    const base = opts.pinDir ?? DEFAULT_PIN_DIR;
    const inReach = policy.allowBind.some((d) => isPathWithin(base, cleanHostPath(d)) || isPathWithin(cleanHostPath(d), base));
    const p = inReach
      ? `${base} is inside an allowed bind dir (or holds one)`
      : await probePins(base, opts.owner, upstream.kind === 'unix' ? upstream.socketPath : undefined);
    if (typeof p === 'string') {
      if (policy.allowBind.length > 0 || (opts.mappings?.length ?? 0) > 0) {
        log.log('warn', `bind pins unavailable (${p}): a symlink swapped into an allowed dir between the start check and the daemon's mount can still win (docs/policy.md)`);
      }
    } else ctx.pins = p;
  }
  const conns = new Set<ConnState>();
  let reqCounter = 0;
  let closing = false;

  const emit = (r: GuardDecisionRecord) => {
    channels.guardDecision.publish(r);
    try {
      opts.onDecision?.(r);
    } catch (e) {
      log.log('error', `onDecision threw: ${String(e)}`);
    }
  };

  const record = (
    n: number,
    started: number,
    head: { method: string; target: string },
    decision: GuardDecisionRecord['decision'],
    status: number,
    extra: Partial<GuardDecisionRecord> = {},
  ): void => {
    const q = head.target.indexOf('?');
    recordPath(n, started, head.method, splitTarget(q === -1 ? head.target : head.target.slice(0, q)).path, decision, status, extra);
  };

  /** record() for a request whose path (splitTarget(target).path) is known */
  const recordPath = (
    n: number,
    started: number,
    method: string,
    path: string,
    decision: GuardDecisionRecord['decision'],
    status: number,
    extra: Partial<GuardDecisionRecord>,
  ): void => {
    emit({
      ts: timestamp(),
      level: decision === 'forward' ? 'info' : decision === 'error' && status >= 500 ? 'error' : 'warn',
      req: n,
      method,
      path,
      route: undefined,
      owner: opts.owner,
      decision,
      rule: undefined,
      status,
      ms: Date.now() - started,
      ...extra,
    });
  };

  /** The record of a forwarded request: recordPath(..., 'forward', status, { route, notes }) without the spread. */
  const recordForward = (n: number, started: number, method: string, path: string, status: number, route: string, notes: string[] | undefined): void => {
    emit({
      ts: timestamp(),
      level: 'info',
      req: n,
      method,
      path,
      route,
      owner: opts.owner,
      decision: 'forward',
      rule: undefined,
      status,
      ms: Date.now() - started,
      notes,
    });
  };

  /** Handles one request; resolves true when the connection can carry another one. */
  async function handle(state: ConnState, r: SocketReader, head: RequestHead): Promise<boolean> {
    const sock = state.sock;
    const n = ++reqCounter;
    const started = Date.now();
    const { path, query, apiVersion, prefix } = splitTarget(head.target);
    const fail = (status: number, message: string, decision: GuardDecisionRecord['decision'], extra: Partial<GuardDecisionRecord> = {}) => {
      sock.end(errorResponse(status, message, true));
      record(n, started, head, decision, status, { message, ...extra });
      return false;
    };
    if (!METHODS.has(head.method)) return fail(405, `nestling guard: method ${head.method} is not allowed`, 'deny', { rule: 'method-not-allowed' });
    if (head.upgrade !== undefined && head.upgrade !== 'tcp' && head.upgrade !== 'h2c') {
      return fail(400, `nestling guard: Upgrade: ${head.upgrade} is not accepted`, 'deny', { rule: 'upgrade-not-allowed' });
    }

    const upload = isUpload(head.method, head.target);
    let body: Buffer | undefined;
    if (!upload) {
      if (head.expectContinue && head.framing.type !== 'none') {
        if (head.framing.type === 'length' && head.framing.length > policy.maxBodyBytes) {
          return fail(413, `nestling guard: request body of ${head.framing.length} bytes is over the ${policy.maxBodyBytes}-byte limit`, 'deny', {
            rule: 'body-too-large',
          });
        }
        sock.write('HTTP/1.1 100 Continue\r\n\r\n');
      }
      if (head.framing.type !== 'none') body = await readFullBody(r, head.framing, policy.maxBodyBytes, limits.bodyIdleTimeoutMs);
    }

    const view: RequestView = new ServerRequestView(head.method, head.target, path, apiVersion, query, head.headers, upload ? undefined : (body ?? undefined));
    let decision: Decision;
    try {
      decision = cachedDecision?.(view, ctx) ?? (await decide(view, ctx));
    } catch (e) {
      const ne = findNestlingError(e);
      log.log('error', `decide failed on ${head.method} ${path}: ${String(e)}`);
      const status = ne?.category === 'engine' ? 502 : 500;
      return fail(status, `nestling guard: cannot decide on this request: ${ne?.message ?? 'internal error'}`, 'error');
    }

    let dryRunOf: { rule: string; message: string } | undefined;
    if (decision.action === 'deny') {
      if (!opts.dryRun) {
        const keep = head.keepAlive && !upload && !closing;
        sock.write(errorResponse(decision.status, decision.message, !keep));
        record(n, started, head, 'deny', decision.status, { route: decision.route?.id, rule: decision.rule, message: decision.message });
        if (!keep) sock.end();
        return keep;
      }
      dryRunOf = { rule: decision.rule, message: decision.message };
      // Forward what the policy relaxed by this refusal (and any behind it) would forward: the owner label, the
      // canonical body, the translated binds. Only what no policy file can relax goes up as the client sent it.
      const relaxed = await relaxedDecision(view, ctx, decision).catch(() => undefined);
      if (relaxed) decision = relaxed;
    }
    if (decision.action === 'deny') {
      const route: RouteDef = decision.route ?? {
        id: 'unknown',
        method: head.method as RouteDef['method'],
        path,
        area: 'unknown',
        kind: head.upgrade ? 'hijack' : 'stream',
        body: upload ? 'tar' : 'raw',
      };
      decision = { action: 'forward', route, tunnel: route.kind === 'hijack' ? 'hijack' : route.kind === 'h2c' ? 'h2c' : undefined };
    }

    const route = decision.route;
    const tunnel = decision.tunnel ?? (route.kind === 'hijack' ? 'hijack' : route.kind === 'h2c' ? 'h2c' : undefined);
    const base: Partial<GuardDecisionRecord> = {
      route: route.id,
      notes: decision.notes,
      ...(dryRunOf ? { rule: dryRunOf.rule, message: dryRunOf.message } : {}),
    };
    const verdict: GuardDecisionRecord['decision'] = dryRunOf ? 'would-deny' : 'forward';

    if (head.upgrade !== undefined && !tunnel) {
      return fail(400, 'nestling guard: Upgrade is only accepted on attach, exec start, /session and /grpc', 'deny', { ...base, rule: 'upgrade-not-allowed' });
    }
    if (tunnel === 'h2c' && head.upgrade !== undefined && head.upgrade !== 'h2c') {
      return fail(400, `nestling guard: ${path} upgrades to h2c only`, 'deny', { ...base, rule: 'upgrade-not-allowed' });
    }
    if (tunnel === 'hijack' && head.upgrade !== undefined && head.upgrade !== 'tcp') {
      return fail(400, `nestling guard: ${path} upgrades to tcp only`, 'deny', { ...base, rule: 'upgrade-not-allowed' });
    }
    if (!upload && !dryRunOf && requiresBody(head.method, path) && !(decision.rewrite?.body ?? body)?.length) {
      return fail(400, `nestling guard: ${head.method} ${path} needs a JSON body (an empty or missing body is refused)`, 'deny', {
        ...base,
        rule: 'body-required',
      });
    }

    let target = decision.rewrite?.target ?? `${path}${query ? `?${query}` : ''}`;
    if (!VERSION_PREFIX.test(target)) target = `${prefix}${target}`;
    const outBody = upload ? undefined : (decision.rewrite?.body ?? body);

    if (tunnel) {
      const tunnelBodyLength = outBody !== undefined || head.method === 'POST' ? (outBody?.length ?? 0) : undefined;
      const extra = head.upgrade !== undefined ? ['Connection: Upgrade', `Upgrade: ${head.upgrade}`] : [];
      let up: Duplex;
      try {
        up = await connectUpstream(upstream, opts.signal);
      } catch (e) {
        return fail(502, upstreamDownMessage(upstream, e), 'error', base);
      }
      const leftover = r.detach();
      let status = 0;
      try {
        await runTunnel({
          client: sock,
          clientLeftover: leftover,
          upstream: up,
          request: buildRequest(head, target, tunnelBodyLength, extra, outBody),
          onHead: (h) => {
            status = h.status;
            record(n, started, head, verdict, h.status, base);
          },
          // BuildKit's control API: every gRPC call decided on its own (grpc/proxy.ts)
          onSwitch:
            route.id === 'grpc'
              ? (client, upSock) =>
                  runGrpcProxy({
                    client,
                    upstream: upSock,
                    ctx,
                    route,
                    dryRun: opts.dryRun === true,
                    maxMessageBytes: ctx.policy.maxBodyBytes,
                    signal: opts.signal,
                    onCall: (c) =>
                      record(n, Date.now() - c.ms, { method: 'POST', target: c.path }, c.decision, c.status, {
                        route: 'grpc-call',
                        ...(c.rule ? { rule: c.rule } : {}),
                        ...(c.message ? { message: c.message } : {}),
                      }),
                  })
              : undefined,
        });
      } catch (e) {
        if (status === 0) {
          const status2 = e instanceof HttpParseError ? e.status : 502;
          if (!sock.destroyed) sock.end(errorResponse(status2, `nestling guard: ${(e as Error).message}`, true));
          record(n, started, head, 'error', status2, { ...base, message: (e as Error).message });
        }
        sock.destroy();
      }
      return false;
    }

    // Plain, stream and upload routes: the guard's own client on this connection's upstream connection (forward.ts).
    // an image archive is read as it streams (its tags checked before the engine gets its end): our own chunked framing
    const loadCheck = upload && decision.uploadCheck === 'image-load' && head.framing.type !== 'none';
    const bodyLength = loadCheck
      ? 'chunked'
      : upload
        ? head.framing.type === 'length'
          ? head.framing.length
          : head.framing.type === 'chunked'
            ? 'chunked'
            : head.method === 'GET'
              ? undefined
              : 0
        : outBody !== undefined
          ? outBody.length
          : head.method === 'POST' || head.method === 'PUT'
            ? 0
            : undefined;
    const requestBody = upload ? undefined : outBody;
    const request = requestBody?.length ? buildRequest(head, target, bodyLength, [], requestBody) : requestHeadText(head, target, bodyLength, []);
    if (upload && head.expectContinue && head.framing.type !== 'none') sock.write('HTTP/1.1 100 Continue\r\n\r\n');
    const filter = decision.responseFilter;
    const retryable = !upload && (head.method === 'GET' || head.method === 'HEAD');
    for (let attempt = 0; ; attempt++) {
      let up = state.up;
      if (!up || !usable(up)) {
        up?.sock.destroy();
        state.up = undefined;
        try {
          up = await openUpstream(upstream, opts.signal);
        } catch (e) {
          return fail(502, upstreamDownMessage(upstream, e), 'error', base);
        }
        if (sock.destroyed) {
          up.sock.destroy();
          return false;
        }
        state.up = up;
      }
      const conn = up;
      conn.uses++;
      let headSent = false;
      let pumpDone = !upload;
      let pumpError: unknown;
      try {
        if (typeof request === 'string') conn.sock.write(request, 'latin1');
        else conn.sock.write(request);
        if (upload) {
          const routeDef = route;
          (loadCheck
            ? pumpImageLoad(r, head.framing, conn.sock, limits.bodyIdleTimeoutMs, (tags) => checkLoadedTags(tags, ctx, routeDef))
            : pumpBody(r, head.framing, conn.sock, limits.bodyIdleTimeoutMs)
          ).then(
            () => (pumpDone = true),
            (e: unknown) => {
              pumpError = e;
              conn.sock.destroy();
            },
          );
        }
        const rh = await readResponseHead(conn);
        if (head.method === 'DELETE' && rh.status < 300) {
          const m = /^\/(containers|networks|volumes|images)\/([^/]+)$/.exec(path);
          if (m) oracle.forget(decodeURIComponent(m[2]!));
        }
        const relay: RelayOptions = {
          client: sock,
          up: conn,
          head: rh,
          isHead: head.method === 'HEAD',
          client11: head.version === '1.1',
          // an answer that comes before the whole upload was sent ends the connection: say so in its head
          keepClient: head.keepAlive && !closing && pumpDone,
          bufferFilter: filter && filter !== 'events' ? (b) => filterJsonResponse(filter, b, opts.owner) : undefined,
          lineFilter: filter === 'events' ? new EventFilter(opts.owner, oracle) : undefined,
          onHeadSent: () => {
            headSent = true;
            if (dryRunOf) recordPath(n, started, head.method, path, verdict, rh.status, base);
            else recordForward(n, started, head.method, path, rh.status, route.id, decision.notes);
          },
        };
        const res = relayBufferedAnswer(relay) ?? (await relayResponse(relay));
        // an answer that came before the whole upload was sent leaves both connections out of step
        const keep = res.keepClient && pumpDone && pumpError === undefined;
        if (!res.keepUp || !pumpDone || pumpError !== undefined) {
          conn.sock.destroy();
          if (state.up === conn) state.up = undefined;
        }
        if (!keep && !sock.destroyed) sock.end();
        return keep;
      } catch (e) {
        conn.sock.destroy();
        if (state.up === conn) state.up = undefined;
        if (e instanceof UpstreamClosedEarly && retryable && attempt === 0 && !sock.destroyed) continue;
        if (!headSent && !sock.destroyed) {
          const err = pumpError ?? e;
          const status = err instanceof HttpParseError ? err.status : pumpError !== undefined ? 400 : 502;
          const msg = `nestling guard: ${(err as Error).message}`;
          sock.end(errorResponse(status, msg, true));
          const denyRule = status === 403 ? /^nestling guard: denied by rule ([\w-]+):/.exec(msg)?.[1] : undefined;
          record(n, started, head, denyRule ? 'deny' : 'error', status, { ...base, message: msg, ...(denyRule ? { rule: denyRule } : {}) });
        } else sock.destroy();
        return false;
      }
    }
  }

  async function serve(sock: Duplex): Promise<void> {
    const state: ConnState = { sock, busy: false };
    conns.add(state);
    sock.on('error', () => sock.destroy());
    const r = new SocketReader(sock);
    // a client that goes away takes its upstream connection with it (ending any wait on it)
    sock.once('close', () => state.up?.sock.destroy());
    try {
      for (;;) {
        if (closing) break;
        // the request head (read here rather than in an async helper: one promise less per request)
        let head: RequestHead | null = null;
        try {
          let deadline = 0;
          for (;;) {
            if (r.length) {
              const h = parseRequestHead(r.buf, limits.maxHeadBytes);
              if (h) {
                r.take(h.headBytes);
                head = h;
                break;
              }
              if (!deadline) deadline = Date.now() + limits.headTimeoutMs;
            }
            if (r.ended) {
              if (r.length === 0) break;
              throw new HttpParseError(400, 'connection closed in the middle of a request head');
            }
            const w = await r.wait(deadline ? Math.max(1, deadline - Date.now()) : limits.keepAliveTimeoutMs);
            if (w === 'timeout') {
              if (!deadline && r.length === 0) break; // idle keep-alive connection
              throw new HttpParseError(408, 'request head not received in time');
            }
          }
        } catch (e) {
          const status = e instanceof HttpParseError ? e.status : 400;
          const msg = `nestling guard: ${(e as Error).message}`;
          if (!sock.destroyed) sock.end(errorResponse(status, msg, true));
          record(++reqCounter, Date.now(), { method: '-', target: '-' }, 'error', status, { message: msg });
          break;
        }
        if (!head) break;
        state.busy = true;
        let keep: boolean;
        try {
          keep = await handle(state, r, head);
        } catch (e) {
          const status = e instanceof HttpParseError ? e.status : 500;
          const msg = e instanceof HttpParseError ? `nestling guard: ${e.message}` : 'nestling guard: internal error';
          if (!(e instanceof HttpParseError)) log.log('error', `guard: ${String((e as Error).stack ?? e)}`);
          if (!sock.destroyed) sock.end(errorResponse(status, msg, true));
          record(++reqCounter, Date.now(), head, 'error', status, { message: msg });
          keep = false;
        }
        state.busy = false;
        if (!keep) break;
      }
    } finally {
      if (!sock.destroyed && sock.listenerCount('data') > 0) sock.end();
      if (!sock.destroyed) {
        // a half-open client (allowHalfOpen) must not keep the socket forever
        const t = setTimeout(() => sock.destroy(), 1000);
        t.unref();
        sock.once('close', () => clearTimeout(t));
      }
      state.up?.sock.destroy();
      state.up = undefined;
      conns.delete(state);
    }
  }

  const onConnection = (sock: Duplex) => {
    if (closing) {
      sock.destroy();
      return;
    }
    serve(sock).catch((e: unknown) => {
      log.log('error', `guard connection: ${String(e)}`);
      sock.destroy();
    });
  };

  let server: net.Server | tls.Server;
  if (opts.tls) {
    server = tls.createServer({ cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: true, rejectUnauthorized: true, allowHalfOpen: true });
    server.on('secureConnection', onConnection);
    server.on('tlsClientError', () => {});
  } else {
    server = net.createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
  }

  let url: string;
  let socketPath: string | undefined;
  if (listen.kind === 'unix') {
    socketPath = listen.path!;
    await mkdir(dirname(socketPath), { recursive: true });
    await removeStaleSocket(socketPath);
    await listenOn(server, { path: socketPath });
    await chmod(socketPath, opts.socketMode ?? 0o660);
    selfSockets.push(await resolveHostPath(socketPath));
    url = `unix://${socketPath}`;
  } else {
    await listenOn(server, { host: listen.host!, port: listen.port! });
    const a = server.address() as net.AddressInfo;
    url = `tcp://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }
  log.log('info', `guard for owner ${opts.owner} listening on ${url}, upstream ${upstream.url}`);

  let resolveClosed!: (r: ReapReport | undefined) => void;
  const closed = new Promise<ReapReport | undefined>((res) => (resolveClosed = res));
  let closePromise: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closePromise ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((res) => server.close(() => res()));
      // idle connections go now; busy ones finish their request (Connection: close) or are cut after drainMs
      for (const c of conns) if (!c.busy) c.sock.end();
      const deadline = Date.now() + limits.drainMs;
      while (conns.size && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
      for (const c of conns) c.sock.destroy();
      await stopped;
      if (socketPath) await unlink(socketPath).catch(() => {});
      let report: ReapReport | undefined;
      if (opts.reapOnExit) {
        try {
          report = await reapOwner(new Engine(upstream), opts.owner, { images: opts.reapImages, pinDir: opts.pinDir });
          log.log('info', `reaped owner ${opts.owner}: ${report.containers.length} containers, ${report.networks.length} networks, ${report.volumes.length} volumes, ${report.images.length} images`);
        } catch (e) {
          log.log('error', `reaping owner ${opts.owner} failed: ${String(e)}`);
        }
      }
      // pins go with the guard (reaping released them already): a container still running keeps its mount, and
      // one started later without the guard gets the empty placeholder, never an unchecked path
      if (ctx.pins && !opts.reapOnExit) await releasePins(opts.pinDir || DEFAULT_PIN_DIR, opts.owner).catch(() => 0);
      if (ctx.tags) await releaseTagReservations(opts.tagDir || DEFAULT_TAG_DIR, opts.owner).catch(() => 0);
      resolveClosed(report);
    })();
    return closePromise;
  };
  opts.signal?.addEventListener('abort', () => void close(), { once: true });

  return { url, socketPath, owner: opts.owner, mappings, policy, close, closed };
}

/**
 * Dry run: the decision under the policy relaxed by a refusal and every one behind it (the learner's loop), or
 * undefined when some refusal cannot be relaxed by a policy file.
 */
async function relaxedDecision(view: RequestView, ctx: DecideContext, first: Decision): Promise<Decision | undefined> {
  const { Learner, relax } = await import('./learn.js');
  const { decide } = await import('./decide.js');
  const d = await relax(decide, view, ctx, new Learner(ctx.owner, ctx.policy), first);
  return d.action === 'forward' ? d : undefined;
}

function upstreamDownMessage(ep: EngineEndpoint, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_OSSL|HOSTNAME|ALTNAME/i.test(`${err.code ?? ''} ${err.message ?? ''}`)) {
    return `nestling guard: TLS with the Docker engine at ${ep.url} failed: ${err.code ?? err.message} (check --upstream-tlscacert, --upstream-tlscert and --upstream-tlskey)`;
  }
  const hint =
    err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
      ? 'is dockerd running?'
      : err.code === 'EACCES'
        ? 'the guard lacks permission on the engine socket'
        : 'check the guard --upstream';
  return `nestling guard: cannot reach the Docker engine at ${ep.url}: ${err.code ?? err.message} (${hint})`;
}

function listenOn(server: net.Server, o: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

/** Removes a leftover socket file nobody listens on; refuses to touch anything else. */
async function removeStaleSocket(p: string): Promise<void> {
  let st;
  try {
    st = await lstat(p);
  } catch {
    return;
  }
  if (!st.isSocket()) throw configError('E_GUARD_LISTEN_EXISTS', `${p} exists and is not a socket`, { hint: 'choose another --listen path' });
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect({ path: p });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw configError('E_GUARD_LISTEN_IN_USE', `something already listens on ${p}`, { hint: 'stop the other guard, or choose another --listen path' });
  await unlink(p);
}

/** Filters an events stream (JSON objects, one per line) down to the owner's objects. */
class EventFilter {
  #partial = '';
  readonly #seen = new Set<string>();
  readonly #owner: string;
  readonly #oracle: EngineOracle;
  constructor(owner: string, oracle: EngineOracle) {
    this.#owner = owner;
    this.#oracle = oracle;
  }
  async push(d: Buffer): Promise<Buffer> {
    const text = this.#partial + d.toString('utf8');
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    const out: string[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      const keep = await filterEventLine(line, this.#owner, (kind, id) => this.#oracle.lookup(kind, id).then((r) => r?.owned ?? false).catch(() => false), this.#seen);
      if (keep) out.push(`${line}\n`);
    }
    return Buffer.from(out.join(''));
  }
}

/** Re-exported for callers that build their own label filters. */
export const OWNER_LABEL = Labels.owner;
