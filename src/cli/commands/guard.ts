/**
 * `nestling guard`: the fail-closed Docker API proxy for one job (foreground), and `nestling guard check`: one
 * request through the same decider and ownership oracle, without forwarding anything (docs/guard.md).
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { CliContext } from '../context.js';
import { globalOpts } from '../program.js';
import { configError, ExitCode, usageError } from '../../util/errors.js';
import type { EngineEndpoint, TlsMaterial } from '../../engine/transport.js';
import type { Decision, EffectivePolicy, RequestView } from '../../guard/types.js';

interface PolicyFlags {
  allowBind: string[];
  policy?: string;
}

interface UpstreamFlags {
  upstream?: string;
  upstreamTlsverify?: boolean;
  upstreamTlscacert?: string;
  upstreamTlscert?: string;
  upstreamTlskey?: string;
}

interface GuardFlags extends PolicyFlags, UpstreamFlags {
  listen?: string;
  owner?: string;
  map: string[];
  jobContainer?: string;
  jobNetwork?: string;
  reapOnExit?: boolean;
  reapImages?: boolean;
  logFormat: string;
  dryRun?: boolean;
  learn?: string;
  printPolicy?: boolean;
  listenAny?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  stopOnStdinEof?: boolean;
  quiet?: boolean;
  pinDir?: string;
  pins: boolean;
}

interface CheckFlags extends PolicyFlags, UpstreamFlags {
  owner?: string;
  map: string[];
  jobNetwork?: string;
  body?: string;
  request?: string;
  header: string[];
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function addUpstreamOptions(c: Command): Command {
  return c
    .option('--upstream <url>', 'the real engine: unix:///var/run/docker.sock or tcp://HOST:PORT (default: -H / DOCKER_HOST / context)')
    .option('--upstream-tlsverify', 'talk TLS to a tcp --upstream and verify its certificate (implied by the other --upstream-tls* options)')
    .option('--upstream-tlscacert <file>', 'CA the upstream engine\'s certificate must chain to (like docker --tlscacert)')
    .option('--upstream-tlscert <file>', 'client certificate for the upstream engine (like docker --tlscert)')
    .option('--upstream-tlskey <file>', 'key of --upstream-tlscert (like docker --tlskey)');
}

function addPolicyOptions(c: Command): Command {
  return c
    .option('--allow-bind <dir>', 'host directory bind mounts may come from (repeatable)', collect, [])
    .option('--map <job=host>', 'translate bind sources: JOB_PATH=HOST_PATH (repeatable)', collect, [])
    .option('--policy <file>', 'policy file (YAML) relaxing the baseline');
}

export function register(program: Command, ctx: CliContext): void {
  const guard = program
    .command('guard')
    .description('Run the fail-closed Docker API proxy for one job (owner): foreground, prints one "listening" line on stdout; `guard check` decides one request without forwarding it');
  addUpstreamOptions(guard)
    .option('--listen <url>', 'where the job connects: unix:///run/nestling/JOB.sock or tcp://127.0.0.1:PORT')
    .option('--owner <id>', 'the job id every object created through the guard is labelled with');
  addPolicyOptions(guard)
    .option('--job-container <id>', 'discover path mappings from this container\'s mounts')
    .option('--job-network <name>', 'the per-job network containers join by default')
    .option('--reap-on-exit', 'remove everything the owner owns when the guard stops')
    .option('--reap-images', 'with --reap-on-exit: remove the owner\'s images too')
    .option('--pin-dir <dir>', 'where bind sources are pinned (mounted from a descriptor at each start; default /run/nestling/pins)')
    .option('--no-pins', 'do not pin bind sources (a symlink swapped in between the start check and the mount can win)')
    .option('--log-format <format>', 'audit log format on stderr: text or json', 'text')
    .option('--dry-run', 'DANGEROUS: log what would be refused and forward it anyway (policy development only)')
    .option('--learn <file>', 'record what the job needed and write a least-privilege policy file on exit')
    .option('--print-policy', 'print the effective policy and exit')
    .option('--listen-any', 'allow a non-loopback tcp --listen address (use TLS with client certificates)')
    .option('--tls-cert <file>', 'serve TLS with this certificate (tcp only)')
    .option('--tls-key <file>', 'key of --tls-cert')
    .option('--tls-ca <file>', 'CA that client certificates must chain to (required with --tls-cert)')
    .option('--stop-on-stdin-eof', 'stop (and reap, with --reap-on-exit) when stdin reaches EOF')
    .option('-q, --quiet', 'log refusals and errors only')
    .action(async (flags: GuardFlags, cmd: Command) => runGuard(ctx, flags, cmd));

  const check = guard
    .command('check')
    .description('Decide one request as the guard would (same decider and ownership lookups, nothing forwarded): exit 0 allowed, 5 denied, 2 bad input')
    .argument('[method]', 'GET, HEAD, POST, PUT or DELETE')
    .argument('[target]', 'the request target as a client sends it, e.g. /v1.41/containers/create?name=x');
  addUpstreamOptions(check).option('--owner <id>', 'the job id the request is decided for');
  addPolicyOptions(check)
    .option('--job-network <name>', 'the per-job network containers join by default')
    .option('--body <file>', 'the JSON request body, from a file or - for stdin')
    .option('--header <name: value>', 'a request header (repeatable)', collect, [])
    .option('--request <file>', 'a raw HTTP/1.1 request (head and body, as captured) from a file or - for stdin, instead of METHOD TARGET')
    .option('--json', 'print the decision as one JSON object')
    .action(async (method: string | undefined, target: string | undefined, flags: CheckFlags, cmd: Command) =>
      runCheck(ctx, method, target, mergeParentOptions(flags, cmd.parent?.opts() ?? {}), cmd),
    );
}

/**
 * Commander reads options that `guard` also declares (--owner, --policy, --upstream ...) into `guard` even when they
 * follow `check` (the program does not use positional options): take them from there, lists concatenated.
 */
function mergeParentOptions(own: CheckFlags, parent: Record<string, unknown>): CheckFlags {
  const out: Record<string, unknown> = { ...own };
  for (const k of ['upstream', 'upstreamTlsverify', 'upstreamTlscacert', 'upstreamTlscert', 'upstreamTlskey', 'owner', 'policy', 'jobNetwork'] as const) {
    if (out[k] === undefined && parent[k] !== undefined) out[k] = parent[k];
  }
  for (const k of ['allowBind', 'map'] as const) out[k] = [...((parent[k] as string[] | undefined) ?? []), ...own[k]];
  return out as unknown as CheckFlags;
}

function readFileOrStdin(ctx: CliContext, f: string, what: string, code: string): Promise<Buffer> {
  if (f === '-') {
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      ctx.stdin.on('data', (d: Buffer | string) => parts.push(Buffer.isBuffer(d) ? d : Buffer.from(d)));
      ctx.stdin.on('end', () => resolve(Buffer.concat(parts)));
      ctx.stdin.on('error', (e) => reject(configError(code, `cannot read ${what} from stdin: ${e.message}`, { hint: 'pipe the data into stdin', cause: e })));
      ctx.stdin.resume();
    });
  }
  try {
    return Promise.resolve(readFileSync(f));
  } catch (e) {
    return Promise.reject(configError(code, `cannot read ${what} ${f}: ${(e as Error).message}`, { hint: 'check the path and permissions', cause: e }));
  }
}

function readTlsFile(f: string): Buffer {
  try {
    return readFileSync(f);
  } catch (e) {
    throw configError('E_GUARD_TLS_FILE', `cannot read ${f}: ${(e as Error).message}`, { hint: 'check the path and permissions', cause: e });
  }
}

/**
 * The upstream engine: --upstream (its TLS from --upstream-tls* flags, else DOCKER_TLS_VERIFY/DOCKER_CERT_PATH as the
 * docker CLI reads them for -H), or the engine nestling resolves (-H, DOCKER_HOST, context).
 */
function resolveUpstream(ctx: CliContext, flags: UpstreamFlags, cmd: Command): EngineEndpoint {
  const ep = flags.upstream ? ctx.resolveEngine({ host: flags.upstream }).endpoint : ctx.resolveEngine(globalOpts(cmd)).endpoint;
  const any = flags.upstreamTlsverify || flags.upstreamTlscacert || flags.upstreamTlscert || flags.upstreamTlskey;
  if (!any) return ep;
  if (ep.kind !== 'tcp') {
    throw usageError('E_GUARD_UPSTREAM_TLS', `--upstream-tls* options need a tcp:// upstream, not ${ep.url}`, { hint: 'drop them, or give --upstream tcp://HOST:PORT' });
  }
  if (!flags.upstreamTlscacert) {
    throw usageError('E_GUARD_UPSTREAM_TLS', 'a TLS upstream needs --upstream-tlscacert: the guard always verifies the engine it forwards to', {
      hint: 'give the CA of the engine: --upstream-tlscacert ca.pem (and --upstream-tlscert/--upstream-tlskey for client authentication)',
    });
  }
  if (Boolean(flags.upstreamTlscert) !== Boolean(flags.upstreamTlskey)) {
    throw usageError('E_GUARD_UPSTREAM_TLS', '--upstream-tlscert and --upstream-tlskey go together', { hint: 'give both, or neither' });
  }
  const tls: TlsMaterial = {
    verify: true,
    ca: readTlsFile(flags.upstreamTlscacert),
    ...(flags.upstreamTlscert ? { cert: readTlsFile(flags.upstreamTlscert) } : {}),
    ...(flags.upstreamTlskey ? { key: readTlsFile(flags.upstreamTlskey) } : {}),
  };
  return { ...ep, tls };
}

async function runGuard(ctx: CliContext, flags: GuardFlags, cmd: Command): Promise<void> {
  const { startGuard } = await import('../../guard/server.js');
  const { parseMapping } = await import('../../guard/path-discovery.js');
  const { formatRecord } = await import('../../guard/audit-log.js');
  if (flags.logFormat !== 'text' && flags.logFormat !== 'json') {
    throw usageError('E_GUARD_LOG_FORMAT', `--log-format ${flags.logFormat}: expected text or json`, { hint: 'use --log-format text or --log-format json' });
  }
  const format = flags.logFormat;
  const policy = await loadEffectivePolicy(flags, ctx.signal);
  if (flags.printPolicy) {
    const { printPolicy } = await import('../../guard/policy-file.js');
    ctx.out(printPolicy(policy).trimEnd());
    return;
  }
  if (!flags.listen) throw usageError('E_GUARD_LISTEN', 'missing --listen', { hint: 'e.g. --listen unix:///run/nestling/job.sock' });
  if (!flags.owner) throw usageError('E_GUARD_OWNER', 'missing --owner', { hint: 'give the job id: --owner JOB_ID' });
  const mappings = flags.map.map(parseMapping);
  const upstream = resolveUpstream(ctx, flags, cmd);
  let tls;
  if (flags.tlsCert || flags.tlsKey || flags.tlsCa) {
    if (!flags.tlsCert || !flags.tlsKey || !flags.tlsCa) {
      throw usageError('E_GUARD_TLS', '--tls-cert, --tls-key and --tls-ca go together', { hint: 'client certificates are always required with TLS' });
    }
    tls = { cert: readTlsFile(flags.tlsCert), key: readTlsFile(flags.tlsKey), ca: readTlsFile(flags.tlsCa) };
  }
  let learner: import('../../guard/learn.js').Learner | undefined;
  let decide: import('../../guard/types.js').Decide | undefined;
  if (flags.learn) {
    const { Learner, learningDecide } = await import('../../guard/learn.js');
    learner = new Learner(flags.owner, policy);
    decide = learningDecide((await import('../../guard/decide.js')).decide, learner);
  }
  if (flags.dryRun) ctx.err('nestling guard: --dry-run: requests the policy refuses are FORWARDED; this job is not protected');
  const handle = await startGuard({
    upstream: upstream.url,
    upstreamTls: upstream.tls,
    listen: flags.listen,
    owner: flags.owner,
    policy,
    mappings,
    jobContainer: flags.jobContainer,
    jobNetwork: flags.jobNetwork,
    dryRun: flags.dryRun,
    reapOnExit: flags.reapOnExit,
    reapImages: flags.reapImages,
    pinDir: flags.pins === false ? false : flags.pinDir,
    allowNonLoopback: flags.listenAny,
    tls,
    decide,
    onDecision: (r) => {
      learner?.observe(r);
      if (flags.quiet && r.decision === 'forward') return;
      ctx.err(formatRecord(r, format));
    },
    log: { log: (level, msg) => ctx.err(format === 'json' ? JSON.stringify({ ts: new Date().toISOString(), level, msg }) : `${new Date().toISOString()} ${level} ${msg}`) },
  });
  ctx.out(`nestling guard: listening on ${handle.url} (owner ${flags.owner}, upstream ${upstream.url})`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    if (flags.stopOnStdinEof) {
      ctx.stdin.on('end', () => resolve());
      ctx.stdin.on('data', () => {});
      ctx.stdin.resume();
    }
  });
  ctx.err('nestling guard: stopping: no new connections, draining');
  await handle.close();
  const report = await handle.closed;
  if (report) {
    ctx.err(
      `nestling guard: reaped owner ${report.owner}: ${report.containers.length} containers, ${report.networks.length} networks, ${report.volumes.length} volumes, ${report.images.length} images${report.errors.length ? `, ${report.errors.length} errors` : ''}`,
    );
  }
  if (learner && flags.learn) {
    try {
      learner.write(flags.learn);
    } catch (e) {
      throw configError('E_GUARD_LEARN_WRITE', `cannot write the learned policy to ${flags.learn}: ${(e as Error).message}`, { hint: 'check the --learn path', cause: e });
    }
    const r = learner.result();
    ctx.err(
      `nestling guard: wrote the learned policy to ${flags.learn} (${r.requests} requests; ${r.unrelaxable.length} refusals no policy can relax${r.unrelaxable.length ? ', listed as comments' : ''})`,
    );
  }
  if (flags.stopOnStdinEof) ctx.stdin.pause();
}

/** The effective policy: the baseline, relaxed by --policy FILE and then by --allow-bind. */
async function loadEffectivePolicy(flags: PolicyFlags, signal: AbortSignal): Promise<EffectivePolicy> {
  const { defaultPolicy } = await import('../../guard/policy.js');
  let policy = defaultPolicy();
  if (flags.policy) policy = await (await import('../../guard/policy-file.js')).loadPolicyFile(flags.policy, signal);
  for (const d of flags.allowBind) {
    if (!d.startsWith('/')) throw usageError('E_GUARD_ALLOW_BIND', `--allow-bind ${d}: must be an absolute host path`, { hint: 'e.g. --allow-bind /srv/ci/work' });
    const clean = d.replace(/\/+$/, '') || '/';
    if (!policy.allowBind.includes(clean)) policy = { ...policy, allowBind: [...policy.allowBind, clean] };
  }
  return policy;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'];

/** The request `guard check` decides: from METHOD TARGET [--body] [-H], or a raw HTTP request (--request). */
async function checkRequest(ctx: CliContext, method: string | undefined, target: string | undefined, flags: CheckFlags): Promise<RequestView> {
  const bad = (msg: string, hint: string) => usageError('E_GUARD_CHECK_INPUT', msg, { hint });
  const { HttpParseError, parseRequestHead, ChunkedDecoder } = await import('../../guard/http-parser.js');
  let headers: Record<string, string> = {};
  let body: Buffer | undefined;
  if (flags.request !== undefined) {
    if (method !== undefined || target !== undefined || flags.body !== undefined || flags.header.length) {
      throw bad('--request carries the whole request: give no METHOD TARGET, --body or --header with it', 'use either --request FILE or METHOD TARGET [--body FILE]');
    }
    let raw = await readFileOrStdin(ctx, flags.request, 'the request', 'E_GUARD_CHECK_INPUT');
    // a hand-written file with LF line ends: the head is read with CRLF (the guard's parser refuses bare LF on the wire)
    const headEnd = raw.indexOf('\n\n');
    if (raw.indexOf('\r\n') === -1 && headEnd !== -1) {
      raw = Buffer.concat([Buffer.from(raw.subarray(0, headEnd + 2).toString('latin1').replace(/\n/g, '\r\n'), 'latin1'), raw.subarray(headEnd + 2)]);
    }
    let head;
    try {
      head = parseRequestHead(raw);
    } catch (e) {
      if (e instanceof HttpParseError) throw bad(`--request ${flags.request}: not a valid HTTP/1.1 request: ${e.message}`, 'a request line, headers, an empty line, then the body');
      throw e;
    }
    if (!head) throw bad(`--request ${flags.request}: the request head is incomplete (no empty line after the headers)`, 'a request line, headers, an empty line, then the body');
    method = head.method;
    target = head.target;
    headers = head.headers;
    const rest = raw.subarray(head.headBytes);
    if (head.framing.type === 'length') {
      if (rest.length < head.framing.length) throw bad(`--request ${flags.request}: the body is shorter than its Content-Length (${rest.length} < ${head.framing.length})`, 'fix Content-Length');
      body = rest.subarray(0, head.framing.length);
    } else if (head.framing.type === 'chunked') {
      const dec = new ChunkedDecoder();
      let parts: Buffer[];
      try {
        parts = dec.push(rest).map((p) => Buffer.from(p));
      } catch (e) {
        if (e instanceof HttpParseError) throw bad(`--request ${flags.request}: bad chunked body: ${e.message}`, 'fix the chunk framing');
        throw e;
      }
      if (!dec.done) throw bad(`--request ${flags.request}: the chunked body does not end`, 'end it with a 0-size chunk');
      body = Buffer.concat(parts);
    }
  } else {
    if (method === undefined || target === undefined) throw bad('give METHOD and TARGET, or --request FILE', 'e.g. nestling guard check --owner job1 POST /v1.41/containers/create --body create.json');
    for (const h of flags.header) {
      const i = h.indexOf(':');
      if (i <= 0) throw bad(`--header ${JSON.stringify(h)} is not "Name: value"`, 'e.g. --header "Content-Type: application/json"');
      headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
    }
    if (flags.body !== undefined) {
      body = await readFileOrStdin(ctx, flags.body, 'the body', 'E_GUARD_CHECK_INPUT');
      headers['content-type'] ??= 'application/json';
    }
  }
  if (!METHODS.includes(method)) throw bad(`METHOD ${JSON.stringify(method)}: the Engine API uses ${METHODS.join(', ')}`, 'methods are upper case, as on the wire');
  if (!target.startsWith('/')) throw bad(`TARGET ${JSON.stringify(target)} must start with / (origin form, as the client sends it)`, 'e.g. /v1.41/containers/json?all=1');
  const q = target.indexOf('?');
  const path = (q === -1 ? target : target.slice(0, q)).replace(/^\/v\d+\.\d+(?=\/)/, '');
  return { method, rawTarget: target, path, apiVersion: /^\/v(\d+\.\d+)\//.exec(target)?.[1], query: new URLSearchParams(q === -1 ? '' : target.slice(q + 1)), headers, body };
}

async function runCheck(ctx: CliContext, method: string | undefined, target: string | undefined, flags: CheckFlags, cmd: Command): Promise<void> {
  if (!flags.owner) throw usageError('E_GUARD_OWNER', 'missing --owner', { hint: 'give the job id the request is decided for: --owner JOB_ID' });
  const { parseMapping } = await import('../../guard/path-discovery.js');
  const mappings = flags.map.map(parseMapping);
  const policy = await loadEffectivePolicy(flags, ctx.signal);
  const view = await checkRequest(ctx, method, target, flags);
  const { decide } = await import('../../guard/decide.js');
  const { canonicalizeTarget, isDenial, matchRoute } = await import('../../guard/match.js');
  const { denied } = await import('../../guard/ownership.js');
  const { parseDenialMessage } = await import('../../guard/policy-file.js');
  const { EngineOracle } = await import('../../guard/oracle.js');
  const { resolveHostPath } = await import('../../guard/server.js');
  const { Engine } = await import('../../engine/client.js');

  // As the server: an upload route's body is a stream the decider never reads; a JSON body over the cap is a 413.
  const t = canonicalizeTarget(view.rawTarget);
  const m = isDenial(t) ? undefined : matchRoute(view.method, t.path);
  const upload = m !== undefined && !isDenial(m) && m.route.kind === 'upload';
  let decision: Decision;
  if (!upload && view.body && view.body.length > policy.maxBodyBytes) {
    decision = denied('body-too-large', 'body', `${view.body.length} bytes (limit ${policy.maxBodyBytes})`, m && !isDenial(m) ? m.route : undefined, 413);
  } else {
    const upstream = resolveUpstream(ctx, flags, cmd);
    const engine = new Engine(upstream, { signal: ctx.signal });
    decision = await decide(upload ? { ...view, body: undefined } : view, {
      owner: flags.owner,
      policy,
      oracle: new EngineOracle(engine, { owner: flags.owner, ttlMs: 0 }),
      mappings,
      resolveHostPath,
      jobNetwork: flags.jobNetwork,
      signal: ctx.signal,
    });
  }
  const route = decision.route?.id;
  if (decision.action === 'deny') {
    const parts = parseDenialMessage(decision.message);
    const out = {
      decision: 'deny' as const,
      status: decision.status,
      method: view.method,
      target: view.rawTarget,
      route: route ?? null,
      rule: decision.rule,
      field: parts?.field ?? null,
      value: parts?.value ?? null,
      message: decision.message,
    };
    if (flags.json) ctx.out(JSON.stringify(out));
    else {
      ctx.out(`deny ${decision.status} ${view.method} ${view.rawTarget} route=${route ?? '-'} rule=${decision.rule}${parts ? ` field=${parts.field}` : ''}`);
      ctx.out(`  ${decision.message}`);
    }
    process.exitCode = ExitCode.PolicyDenied;
    return;
  }
  const fwdBody = decision.rewrite?.body;
  let bodyOut: unknown = null;
  if (fwdBody && fwdBody.length) {
    try {
      bodyOut = JSON.parse(fwdBody.toString('utf8')) as unknown;
    } catch {
      bodyOut = fwdBody.toString('utf8');
    }
  }
  const fwdTarget = decision.rewrite?.target ?? view.rawTarget;
  const versioned = view.apiVersion && !/^\/v\d+\.\d+\//.test(fwdTarget) ? `/v${view.apiVersion}${fwdTarget}` : fwdTarget;
  const out = {
    decision: 'allow' as const,
    method: view.method,
    target: view.rawTarget,
    route: route ?? null,
    forward: { target: versioned, body: bodyOut },
    notes: decision.notes ?? [],
    responseFilter: decision.responseFilter ?? null,
    tunnel: decision.tunnel ?? null,
  };
  if (flags.json) {
    ctx.out(JSON.stringify(out));
    return;
  }
  ctx.out(`allow ${view.method} ${view.rawTarget} route=${route ?? '-'}`);
  ctx.out(`  forward: ${view.method} ${versioned}`);
  for (const n of out.notes) ctx.out(`  note: ${n}`);
  if (out.responseFilter) ctx.out(`  response filter: ${out.responseFilter}`);
  if (out.tunnel) ctx.out(`  tunnel: ${out.tunnel}`);
  if (bodyOut !== null) ctx.out(`  body: ${JSON.stringify(bodyOut)}`);
}
