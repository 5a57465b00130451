/**
 * A minimal BuildKit client for the tests: what buildx's docker driver does on the wire, written by hand (no buildx
 * on this host). `POST /grpc` with `Upgrade: h2c`, then gRPC over HTTP/2 on the same connection; LLB definitions
 * and SolveRequests encoded from moby/buildkit's .proto field numbers.
 */
import net from 'node:net';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { Duplex } from 'node:stream';
import { readFields, writeFields, type WireField } from '../../../src/guard/grpc/proto.js';

export interface GrpcConn {
  session: http2.ClientHttp2Session;
  close(): void;
}

/** Opens /grpc on an engine (or guard) unix socket and upgrades it to h2c. */
export async function openGrpc(socketPath: string): Promise<GrpcConn> {
  const sock = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  sock.write('POST /grpc HTTP/1.1\r\nHost: docker\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n');
  await new Promise<void>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      sock.removeListener('data', onData);
      sock.pause();
      const head = buf.subarray(0, i).toString('latin1');
      if (!/^HTTP\/1\.1 101 /.test(head)) {
        reject(new Error(`no switch: ${head} ${buf.subarray(i + 4).toString()}`));
        return;
      }
      const rest = buf.subarray(i + 4);
      if (rest.length) sock.unshift(rest);
      resolve();
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
  const session = http2.connect('http://docker', { createConnection: () => sock });
  session.on('error', () => undefined);
  return { session, close: () => session.destroy() };
}

export interface GrpcReply {
  /** grpc-status (a number; -1 when none came) */
  code: number;
  message: string;
  /** the response messages */
  messages: Buffer[];
}

function frame(msg: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}

/** A unary (or server-streaming) call; `raw` sends the body bytes as given (no gRPC framing added). */
export function call(
  c: GrpcConn,
  method: string,
  msg: Buffer,
  opts: { raw?: boolean; headers?: http2.OutgoingHttpHeaders; timeoutMs?: number } = {},
): Promise<GrpcReply> {
  return new Promise((resolve, reject) => {
    const req = c.session.request({ ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers', ...opts.headers });
    const timer = setTimeout(() => {
      req.close();
      reject(new Error(`${method}: no answer in time`));
    }, opts.timeoutMs ?? 120_000);
    let status: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = h;
    });
    req.on('trailers', (t) => {
      status = t;
    });
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('close', () => {
      clearTimeout(timer);
      const body = Buffer.concat(chunks);
      const messages: Buffer[] = [];
      for (let p = 0; p + 5 <= body.length; ) {
        const n = body.readUInt32BE(p + 1);
        messages.push(body.subarray(p + 5, p + 5 + n));
        p += 5 + n;
      }
      const code = status['grpc-status'] === undefined ? -1 : Number(status['grpc-status']);
      resolve({ code, message: decodeURIComponent(String(status['grpc-message'] ?? '')), messages });
    });
    req.end(opts.raw ? msg : frame(msg));
  });
}

// ---- protobuf encoding by field number ----
export type V = string | Buffer | number | boolean | Map<string, string | Buffer> | V[] | undefined;
/** Encodes [fieldNo, value] pairs: strings/Buffers length-delimited, numbers/booleans varints, maps as entries. */
export function pb(fields: [number, V][]): Buffer {
  const out: WireField[] = [];
  const one = (no: number, v: V) => {
    if (v === undefined) return;
    if (Array.isArray(v)) for (const x of v) one(no, x);
    else if (typeof v === 'string' || Buffer.isBuffer(v)) out.push({ no, wt: 2, bytes: Buffer.from(v) });
    else if (typeof v === 'number') out.push({ no, wt: 0, varint: BigInt(v) });
    else if (typeof v === 'boolean') out.push({ no, wt: 0, varint: v ? 1n : 0n });
    else for (const [k, val] of v) out.push({ no, wt: 2, bytes: pb([[1, k], [2, val]]) });
  };
  for (const [no, v] of fields) one(no, v);
  return writeFields(out);
}

const digest = (op: Buffer) => `sha256:${createHash('sha256').update(op).digest('hex')}`;

/** A Definition from ops in order, the last op's output 0 being the result. */
function definition(ops: Buffer[]): Buffer {
  const last = ops[ops.length - 1] as Buffer;
  const terminal = pb([[1, pb([[1, digest(last)], [2, 0]])]]);
  const all = [...ops, terminal];
  // an (empty) OpMetadata per op: the Dockerfile frontend's definition inputs need one
  return pb([
    [1, all],
    [2, new Map(all.map((op) => [digest(op), Buffer.alloc(0)]))],
  ]);
}

/** LLB: scratch + files made with FileOp mkfile. */
export function filesDefinition(files: Record<string, string>): Buffer {
  const n = Object.keys(files).length;
  const actions = Object.entries(files).map(([path, data], i) =>
    // input -1 is scratch; an earlier action's output is referenced by its index (no op inputs here)
    pb([
      [1, i === 0 ? -1 : i - 1],
      [2, -1],
      [3, i === n - 1 ? 0 : -1],
      [5, pb([[1, path], [2, 0o644], [3, data]])],
    ]),
  );
  return definition([pb([[4, pb([[2, actions]])]])]);
}

/** LLB: an image with one exec op on it (network: 0 sandbox, 1 host, 2 none; cgroupParent in meta). */
export function execDefinition(image: string, args: string[], opts: { network?: number; cgroupParent?: string } = {}): Buffer {
  const src = pb([[3, pb([[1, `docker-image://${image}`]])]]);
  const meta = pb([
    [1, args],
    [3, '/'],
    [10, opts.cgroupParent],
  ]);
  const exec = pb([
    [1, [pb([[1, digest(src)], [2, 0]])]],
    [
      2,
      pb([
        [1, meta],
        [2, pb([[1, 0], [3, '/'], [4, 0]])],
        [3, opts.network ?? 0],
      ]),
    ],
  ]);
  return definition([src, exec]);
}

export interface SolveArgs {
  ref: string;
  definition?: Buffer;
  frontend?: string;
  frontendAttrs?: Record<string, string>;
  frontendInputs?: Record<string, Buffer>;
  /** legacy exporter (fields 3 and 4, what BuildKit 0.8 reads) */
  exporter?: string;
  exporterAttrs?: Record<string, string>;
  entitlements?: string[] | undefined;
  /** extra raw fields appended (for hostile encodings) */
  extra?: [number, V][];
}

export function solveRequest(a: SolveArgs): Buffer {
  return pb([
    [1, a.ref],
    [2, a.definition],
    [3, a.exporter],
    [4, a.exporterAttrs ? new Map(Object.entries(a.exporterAttrs)) : undefined],
    [6, a.frontend],
    [7, a.frontendAttrs ? new Map(Object.entries(a.frontendAttrs)) : undefined],
    [9, a.entitlements],
    [10, a.frontendInputs ? new Map(Object.entries(a.frontendInputs)) : undefined],
    ...(a.extra ?? []),
  ]);
}

export const SOLVE = '/moby.buildkit.v1.Control/Solve';
export const LIST_WORKERS = '/moby.buildkit.v1.Control/ListWorkers';
export const DISK_USAGE = '/moby.buildkit.v1.Control/DiskUsage';
export const PRUNE = '/moby.buildkit.v1.Control/Prune';
export const STATUS = '/moby.buildkit.v1.Control/Status';

/**
 * A BuildKit session (Control.Session): the client's side of a bidirectional stream of BytesMessage carrying a
 * second HTTP/2 connection on which the *daemon* is the gRPC client (it calls the methods the session exposes:
 * FileSync, Auth, health). `answer` gets each call the daemon makes and returns the gRPC status to end it with
 * (and optional response messages).
 */
export function openSession(
  c: GrpcConn,
  id: string,
  methods: string[],
  answer: (path: string) => { code: number; messages?: Buffer[] },
): { calls: string[]; close(): void } {
  const calls: string[] = [];
  const req = c.session.request({
    ':method': 'POST',
    ':path': '/moby.buildkit.v1.Control/Session',
    'content-type': 'application/grpc',
    te: 'trailers',
    'x-docker-expose-session-uuid': id,
    'x-docker-expose-session-name': 'nestling-test',
    'x-docker-expose-session-sharedkey': 'nestling-test',
    'x-docker-expose-session-grpc-method': methods,
  });
  req.on('error', () => undefined);
  let pending = Buffer.alloc(0);
  const inner = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      const msg = pb([[1, chunk]]);
      const h = Buffer.alloc(5);
      h.writeUInt32BE(msg.length, 1);
      req.write(Buffer.concat([h, msg]), cb);
    },
    final(cb) {
      req.end();
      cb();
    },
  });
  req.on('data', (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const n = pending.readUInt32BE(1);
      const msg = pending.subarray(5, 5 + n);
      pending = pending.subarray(5 + n);
      // BytesMessage { bytes data = 1 }
      const f = readFields(msg, 'BytesMessage').find((x) => x.no === 1);
      if (f?.bytes?.length) inner.push(Buffer.from(f.bytes));
    }
  });
  req.on('end', () => inner.push(null));
  const server = http2.createServer();
  server.on('sessionError', () => undefined);
  server.on('stream', (s, headers) => {
    s.on('error', () => undefined);
    const path = String(headers[':path']);
    calls.push(path);
    const a = answer(path);
    s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': String(a.code) }));
    for (const m of a.messages ?? []) {
      const h = Buffer.alloc(5);
      h.writeUInt32BE(m.length, 1);
      s.write(Buffer.concat([h, m]));
    }
    s.resume();
    s.end();
  });
  server.emit('connection', inner);
  return { calls, close: () => req.close() };
}
