/**
 * BuildKit over /grpc (buildx's docker driver): which gRPC methods a job may call, and the checks on the two that
 * start builds (Control.Solve, and LLBBridge.Solve for client-side frontends).
 *
 * What stays with the daemon: the entitlements of each LLB op (network.host, security.insecure, devices) are
 * checked by BuildKit against the entitlements the Control.Solve request asks for, so a request asking for none
 * cannot run a privileged step, however its LLB was made. The guard refuses every Entitlements value, the
 * frontend attributes that change the daemon-side environment like a legacy build's query does (network mode host,
 * cgroup parent, remote contexts), exporters that would write image names this owner did not create, and the
 * gateway's interactive containers (NewContainer/ExecProcess take a network and security mode of their own).
 * Builds through a frontend get the owner label (`label:io.nestling.owner`, as `docker build --label`).
 */
import { findNestlingError } from '../../util/errors.js';
import { Labels } from '../../util/labels.js';
import { checkRefWritable } from '../rules/image.js';
import type { RuleRequest } from '../rules/request.js';
import type { DecideContext, RouteDef } from '../types.js';
import { decodeMessage, encodeMessage, ProtoError, readFields, type Message, type Schema } from './proto.js';

export interface GrpcDenial {
  rule: string;
  message: string;
}

/** What the proxy does with a method. */
export type MethodPolicy =
  | { kind: 'pass' }
  | { kind: 'check'; check: (msg: Buffer, ctx: DecideContext, route: RouteDef) => Promise<Buffer | GrpcDenial> }
  | { kind: 'refuse'; rule: string };

const CONTROL = '/moby.buildkit.v1.Control/';
const BRIDGE = '/moby.buildkit.v1.frontend.LLBBridge/';

/** Denial text in the guard's one format. */
export function grpcDenial(rule: string, field: string, value: string): GrpcDenial {
  return { rule, message: `nestling guard: denied by rule ${rule}: ${field}=${value}` };
}

// control.proto (moby/buildkit api/services/control), the fields up to BuildKit 0.2x
const SOLVE_REQUEST: Schema = {
  1: { name: 'Ref', type: 'string' },
  2: { name: 'Definition', type: 'message' },
  3: { name: 'Exporter', type: 'string' },
  4: { name: 'ExporterAttrs', type: 'string-map' },
  5: { name: 'Session', type: 'string' },
  6: { name: 'Frontend', type: 'string' },
  7: { name: 'FrontendAttrs', type: 'string-map' },
  8: { name: 'Cache', type: 'message' },
  9: { name: 'Entitlements', type: 'string', repeated: true },
  10: { name: 'FrontendInputs', type: 'message-map' },
  11: { name: 'Internal', type: 'bool' },
  12: { name: 'SourcePolicy', type: 'message' },
  13: { name: 'Exporters', type: 'message', repeated: true },
  14: { name: 'EnableSessionExporter', type: 'bool' },
  15: { name: 'SourcePolicySession', type: 'string' },
  16: { name: 'CompatibilityVersion', type: 'int64' },
  17: { name: 'ProxyNetwork', type: 'bool' },
};
const EXPORTER: Schema = {
  1: { name: 'Type', type: 'string' },
  2: { name: 'Attrs', type: 'string-map' },
};
// gateway.proto (frontend/gateway/pb): LLBBridge.Solve
const BRIDGE_SOLVE_REQUEST: Schema = {
  1: { name: 'Definition', type: 'message' },
  2: { name: 'Frontend', type: 'string' },
  3: { name: 'FrontendOpt', type: 'string-map' },
  5: { name: 'allowResultReturn', type: 'bool' },
  6: { name: 'allowResultArrayRef', type: 'bool' },
  10: { name: 'Final', type: 'bool' },
  11: { name: 'ExporterAttr', type: 'bytes' },
  12: { name: 'CacheImports', type: 'message', repeated: true },
  13: { name: 'FrontendInputs', type: 'message-map' },
  14: { name: 'Evaluate', type: 'bool' },
  15: { name: 'SourcePolicies', type: 'message', repeated: true },
};

/** The frontends moby registers; '' is a client's own LLB or a client-side frontend (LLBBridge). */
const FRONTENDS = new Set(['', 'dockerfile.v0', 'gateway.v0']);
/** Exporter types: moby/image write to the daemon's image store (names checked), the rest go to the client. */
const IMAGE_EXPORTERS = new Set(['moby', 'image']);
const CLIENT_EXPORTERS = new Set(['docker', 'oci', 'local', 'tar', 'cacheonly']);
const NETWORK_MODES = new Set(['', 'default', 'sandbox', 'none']);
/** A `context`/`context:NAME`/`dockerfile` value the daemon would fetch (git or http), as a legacy build's remote */
const REMOTE = /^(?:[a-z][a-z0-9+.-]*:\/\/|git@|github\.com\/)|\.git(?:#.*)?$/i;

type Result = Buffer | GrpcDenial;

/** Every occurrence of field `no` (length-delimited) in a message, whatever Go would merge. */
function all(buf: Buffer, no: number, where: string): Buffer[] {
  return readFields(buf, where)
    .filter((f) => f.no === no)
    .map((f) => {
      if (f.wt !== 2) throw new ProtoError(`${where}.${no}`, `wire type ${f.wt} where 2 was expected`);
      return f.bytes as Buffer;
    });
}

/**
 * An LLB definition's exec ops: a cgroup parent (ExecOp.meta.cgroupParent) other than the forced one is refused,
 * as for containers. Network and security modes are BuildKit's entitlement check. Every occurrence of each field is
 * read (Go would merge repeated messages), so no spelling hides a value.
 */
function checkDefinition(def: Buffer, field: string, ctx: DecideContext): GrpcDenial | undefined {
  const forced = ctx.policy.defaults.cgroupParent ?? '';
  for (const op of all(def, 1, field)) {
    // BuildOp: a definition read from a file the build made, solved inside the daemon where the guard cannot see it
    if (all(op, 5, `${field}.Op`).length > 0) return grpcDenial('build-frontend', `${field}.Op.build`, '(a nested build)');
    for (const exec of all(op, 2, `${field}.Op`)) {
      for (const meta of all(exec, 1, `${field}.Op.exec`)) {
        for (const cg of all(meta, 10, `${field}.Op.exec.meta`)) {
          const v = cg.toString('utf8');
          if (v !== '' && v !== forced) return grpcDenial('cgroup-parent', `${field}.Op.exec.meta.cgroupParent`, v);
        }
      }
    }
  }
  return undefined;
}

function checkDefinitions(m: Message, defField: string, inputsField: string, ctx: DecideContext): GrpcDenial | undefined {
  const def = m.get(defField) as Buffer | undefined;
  const d = def ? checkDefinition(def, defField, ctx) : undefined;
  if (d) return d;
  for (const [k, v] of (m.get(inputsField) as Map<string, Buffer> | undefined) ?? new Map<string, Buffer>()) {
    const e = checkDefinition(v, `${inputsField}.${k}`, ctx);
    if (e) return e;
  }
  return undefined;
}

/**
 * Frontend attributes (Control.Solve FrontendAttrs, LLBBridge.Solve FrontendOpt): refuses the reserved labels,
 * host network, cgroup parents other than the forced one and remote contexts; applies the forced cgroup parent and
 * the owner label (only when a frontend will read them).
 */
function checkFrontendAttrs(attrs: Map<string, string>, field: string, ctx: DecideContext, frontend: string): GrpcDenial | undefined {
  for (const [k, v] of attrs) {
    const key = k.toLowerCase();
    if (key.startsWith('label:') && key.slice(6).trim().startsWith('io.nestling.')) return grpcDenial('reserved-label', `${field}.${k}`, v);
    if (key === 'force-network-mode' && !NETWORK_MODES.has(v)) return grpcDenial('build-host-network', `${field}.${k}`, v);
    if (key === 'cgroup-parent' && v !== '' && v !== ctx.policy.defaults.cgroupParent) return grpcDenial('cgroup-parent', `${field}.${k}`, v);
    if ((key === 'context' || key.startsWith('context:') || key === 'dockerfile') && REMOTE.test(v.trim())) {
      return grpcDenial('daemon-fetch', `${field}.${k}`, v);
    }
  }
  if (frontend !== '') {
    const forced = ctx.policy.defaults.cgroupParent;
    if (forced) attrs.set('cgroup-parent', forced);
    attrs.set(`label:${Labels.owner}`, ctx.owner);
  }
  return undefined;
}

function checkFrontend(m: Message, field: string): GrpcDenial | undefined {
  const fe = (m.get('Frontend') as string | undefined) ?? '';
  if (!FRONTENDS.has(fe)) return grpcDenial('build-frontend', field, fe);
  return undefined;
}

async function checkExporter(type: string, attrs: Map<string, string>, field: string, ctx: DecideContext, route: RouteDef): Promise<GrpcDenial | undefined> {
  if (CLIENT_EXPORTERS.has(type)) return undefined;
  if (!IMAGE_EXPORTERS.has(type)) return grpcDenial('build-exporter', `${field}.Type`, type);
  for (const [k, v] of attrs) {
    // a name the daemon derives itself (prefix@digest) is a reference the guard cannot check beforehand
    if (k === 'dangling-name-prefix' && v !== '') return grpcDenial('build-exporter', `${field}.Attrs.${k}`, v);
  }
  const req = { route, ctx } as RuleRequest;
  for (const n of (attrs.get('name') ?? '').split(',')) {
    const name = n.trim();
    if (name === '') continue;
    let d;
    try {
      d = await checkRefWritable(req, name, `${field}.Attrs.name`);
    } catch (e) {
      if (findNestlingError(e)?.category === 'engine') throw e;
      return grpcDenial('image-not-owned', `${field}.Attrs.name`, `${name} (not a valid reference)`);
    }
    if (d) return grpcDenial('image-not-owned', `${field}.Attrs.name`, name);
  }
  return undefined;
}

function unreadable(e: unknown): GrpcDenial {
  if (e instanceof ProtoError) return grpcDenial('grpc-unreadable', e.field, e.message);
  throw e;
}

/** Control.Solve: the request that starts a build (and names its exporters). */
export async function checkSolve(msg: Buffer, ctx: DecideContext, route: RouteDef): Promise<Result> {
  let m: Message;
  const exporters: { type: string; attrs: Map<string, string>; field: string }[] = [];
  try {
    m = decodeMessage(msg, SOLVE_REQUEST, 'SolveRequest');
    const list = (m.get('Exporters') as Buffer[] | undefined) ?? [];
    list.forEach((b, i) => {
      const e = decodeMessage(b, EXPORTER, `SolveRequest.Exporters[${i}]`);
      exporters.push({ type: (e.get('Type') as string | undefined) ?? '', attrs: (e.get('Attrs') as Map<string, string> | undefined) ?? new Map(), field: `Exporters[${i}]` });
    });
  } catch (e) {
    return unreadable(e);
  }
  const ents = (m.get('Entitlements') as string[] | undefined) ?? [];
  if (ents.length > 0) return grpcDenial('build-entitlement', 'Entitlements', ents.join(','));
  if (m.get('ProxyNetwork') === true) return grpcDenial('build-entitlement', 'ProxyNetwork', 'true');
  const fe = checkFrontend(m, 'Frontend');
  if (fe) return fe;
  try {
    const dd = checkDefinitions(m, 'Definition', 'FrontendInputs', ctx);
    if (dd) return dd;
  } catch (e) {
    return unreadable(e);
  }
  const legacyType = (m.get('Exporter') as string | undefined) ?? '';
  const legacyAttrs = (m.get('ExporterAttrs') as Map<string, string> | undefined) ?? new Map<string, string>();
  if (legacyType !== '' || legacyAttrs.size > 0) exporters.push({ type: legacyType, attrs: legacyAttrs, field: 'Exporter' });
  for (const e of exporters) {
    const d = await checkExporter(e.type, e.attrs, e.field, ctx, route);
    if (d) return d;
  }
  const attrs = (m.get('FrontendAttrs') as Map<string, string> | undefined) ?? new Map<string, string>();
  const d = checkFrontendAttrs(attrs, 'FrontendAttrs', ctx, (m.get('Frontend') as string | undefined) ?? '');
  if (d) return d;
  if (attrs.size > 0) m.set('FrontendAttrs', attrs);
  return encodeMessage(m, SOLVE_REQUEST);
}

/** LLBBridge.Solve: a client-side frontend (buildx) asking the daemon to run a frontend or an LLB definition. */
export async function checkBridgeSolve(msg: Buffer, ctx: DecideContext): Promise<Result> {
  let m: Message;
  try {
    m = decodeMessage(msg, BRIDGE_SOLVE_REQUEST, 'LLBBridge.SolveRequest');
  } catch (e) {
    return unreadable(e);
  }
  const fe = checkFrontend(m, 'Frontend');
  if (fe) return fe;
  try {
    const dd = checkDefinitions(m, 'Definition', 'FrontendInputs', ctx);
    if (dd) return dd;
  } catch (e) {
    return unreadable(e);
  }
  const attrs = (m.get('FrontendOpt') as Map<string, string> | undefined) ?? new Map<string, string>();
  const d = checkFrontendAttrs(attrs, 'FrontendOpt', ctx, (m.get('Frontend') as string | undefined) ?? '');
  if (d) return d;
  if (attrs.size > 0) m.set('FrontendOpt', attrs);
  return encodeMessage(m, BRIDGE_SOLVE_REQUEST);
}

const pass: MethodPolicy = { kind: 'pass' };

/** Every gRPC method a job may call over /grpc; anything else is refused (rule grpc-method). */
export const GRPC_METHODS: Readonly<Record<string, MethodPolicy>> = {
  [`${CONTROL}Solve`]: { kind: 'check', check: checkSolve },
  [`${CONTROL}Status`]: pass,
  [`${CONTROL}Session`]: pass,
  [`${CONTROL}ListWorkers`]: pass,
  [`${CONTROL}Info`]: pass,
  // the whole daemon's build cache and build history: other jobs' steps and cache records
  [`${CONTROL}DiskUsage`]: { kind: 'refuse', rule: 'system-wide' },
  [`${CONTROL}Prune`]: { kind: 'refuse', rule: 'system-wide' },
  [`${CONTROL}ListenBuildHistory`]: { kind: 'refuse', rule: 'system-wide' },
  [`${CONTROL}UpdateBuildHistory`]: { kind: 'refuse', rule: 'system-wide' },
  // client-side frontends (buildx runs the Dockerfile frontend through these on its own build's id)
  [`${BRIDGE}Solve`]: { kind: 'check', check: (msg, ctx) => checkBridgeSolve(msg, ctx) },
  ...Object.fromEntries(
    ['ResolveImageConfig', 'ResolveSourceMeta', 'ReadFile', 'ReadDir', 'StatFile', 'Evaluate', 'Ping', 'Return', 'Inputs', 'Warn'].map((n) => [
      `${BRIDGE}${n}`,
      pass,
    ]),
  ),
  // interactive build containers carry a network and security mode of their own (buildx debug)
  ...Object.fromEntries(
    ['NewContainer', 'ReleaseContainer', 'ExecProcess', 'ReadFileContainer', 'ReadDirContainer', 'StatFileContainer'].map((n) => [
      `${BRIDGE}${n}`,
      { kind: 'refuse', rule: 'build-container' } as MethodPolicy,
    ]),
  ),
  '/grpc.health.v1.Health/Check': pass,
  // buildx sends its own client-side trace spans to the daemon's build history
  '/opentelemetry.proto.collector.trace.v1.TraceService/Export': pass,
};
