/**
 * Hijack and h2c tunnels: attach, exec start (`Upgrade: tcp`, or the daemon's no-upgrade form: 200 + raw stream),
 * and BuildKit's /session and /grpc (`Upgrade: h2c`).
 *
 * The request is written to a fresh raw upstream connection exactly as the guard rebuilt it (canonical body, own
 * framing). The daemon's answer decides:
 *   - 101, or 2xx without any framing header and a raw-stream content type (the no-upgrade hijack): relay the head,
 *     put back the bytes read after it, then splice both sockets with half-close (client EOF => shutdown(SHUT_WR)
 *     upstream, output keeps flowing until the daemon closes);
 *   - anything else (an error, or a plain response such as a detached exec start): relay that one response, framed as
 *     the daemon framed it, then close the client connection. Nothing is ever spliced without the daemon's switch, so
 *     no later request on the connection can slip past the guard.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { EngineEndpoint } from '../engine/transport.js';
import { ChunkedDecoder, HttpParseError, parseResponseHead, type ResponseHead } from './http-parser.js';
import { WINDOW } from './flow.js';

export function connectUpstream(ep: EngineEndpoint, signal?: AbortSignal): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    let sock: net.Socket;
    if (ep.kind === 'unix') sock = net.connect({ path: ep.socketPath ?? '', allowHalfOpen: true });
    else if (ep.tls) {
      sock = tls.connect({
        host: ep.host,
        port: ep.port ?? 2376,
        ca: ep.tls.ca,
        cert: ep.tls.cert,
        key: ep.tls.key,
        rejectUnauthorized: ep.tls.verify,
        allowHalfOpen: true,
        servername: ep.host && net.isIP(ep.host) === 0 ? ep.host : undefined,
      } as tls.ConnectionOptions);
    } else sock = net.connect({ host: ep.host, port: ep.port ?? 2375, allowHalfOpen: true });
    const connectEvent = sock instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
    const onAbort = () => sock.destroy(new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once(connectEvent, () => {
      signal?.removeEventListener('abort', onAbort);
      sock.removeListener('error', reject);
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

export interface TunnelResult {
  status: number;
  /** true when the sockets were spliced (the daemon switched protocols or hijacked) */
  spliced: boolean;
}

export interface TunnelOptions {
  client: Duplex;
  /** bytes the client sent after its request (stdin written before the 101 arrived) */
  clientLeftover: Buffer;
  upstream: Duplex;
  /** the complete request (head + body) to write upstream */
  request: Buffer;
  /** called with the daemon's status as soon as its head arrived (for the audit log) */
  onHead?: (head: ResponseHead) => void;
  /** ms to wait for the daemon's response head */
  headTimeoutMs?: number;
  /**
   * After the daemon's switch, run this instead of splicing bytes (the /grpc h2c proxy): the head is already
   * relayed, the bytes read past either side's head are put back (unshift) for it to read.
   */
  onSwitch?: ((client: Duplex, upstream: Duplex) => Promise<void>) | undefined;
}

const RAW_TYPES = /^application\/vnd\.docker\.(raw-stream|multiplexed-stream)/i;

/** True when a response head means the connection now carries a raw stream (see the module comment). */
export function isSwitch(head: ResponseHead): boolean {
  if (head.status === 101) return true;
  if (head.status < 200 || head.status >= 300) return false;
  if (head.headers['content-length'] !== undefined || head.headers['transfer-encoding'] !== undefined) return false;
  return RAW_TYPES.test(head.headers['content-type'] ?? '');
}

/** Runs a tunnel to its end; resolves when both sockets are closed. */
export async function runTunnel(o: TunnelOptions): Promise<TunnelResult> {
  const { client, upstream } = o;
  // Only the request goes up now. What the client sent after it (stdin typed early, or a pipelined request) waits
  // for the daemon's switch: were the answer a framed one, the daemon would read those bytes as the next request
  // on this connection, unchecked.
  upstream.write(o.request);

  let buf: Buffer = Buffer.alloc(0);
  const head = await new Promise<ResponseHead>((resolve, reject) => {
    const timer = setTimeout(() => fail(new HttpParseError(504, 'the engine did not answer the hijack request')), o.headTimeoutMs ?? 60_000);
    const onData = (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      try {
        const h = parseResponseHead(buf);
        if (h) {
          done();
          resolve(h);
        }
      } catch (e) {
        fail(e as Error);
      }
    };
    const onEnd = () => fail(new HttpParseError(502, 'the engine closed the connection before answering'));
    const onError = (e: Error) => fail(new HttpParseError(502, `upstream connection failed: ${e.message}`));
    const onClientClose = () => fail(new Error('client went away'));
    const done = () => {
      clearTimeout(timer);
      upstream.removeListener('data', onData);
      upstream.removeListener('end', onEnd);
      upstream.removeListener('error', onError);
      client.removeListener('close', onClientClose);
      upstream.pause();
    };
    const fail = (e: Error) => {
      done();
      reject(e);
    };
    upstream.on('data', onData);
    upstream.once('end', onEnd);
    upstream.once('error', onError);
    client.once('close', onClientClose);
  }).catch((e: unknown) => {
    upstream.destroy();
    throw e;
  });
  o.onHead?.(head);
  const rawHead = buf.subarray(0, head.headBytes);
  const after = buf.subarray(head.headBytes);

  if (isSwitch(head) && o.onSwitch) {
    client.write(rawHead);
    if (after.length) upstream.unshift(after);
    if (o.clientLeftover.length) client.unshift(o.clientLeftover);
    await o.onSwitch(client, upstream);
    return { status: head.status, spliced: true };
  }
  if (isSwitch(head)) {
    if (o.clientLeftover.length) upstream.write(o.clientLeftover);
    client.write(rawHead);
    if (after.length) client.write(after);
    await splice(client, upstream);
    return { status: head.status, spliced: true };
  }
  await relayOne(client, upstream, head, rawHead, after);
  return { status: head.status, spliced: false };
}

/** from => to with backpressure (a WINDOW of buffered bytes) and end => end (half-close). */
function relay(from: Duplex, to: Duplex): void {
  const resume = () => from.resume();
  from.on('data', (d: Buffer) => {
    to.write(d);
    if (to.writableLength > WINDOW && !from.isPaused()) {
      from.pause();
      to.once('drain', resume);
    }
  });
  from.once('end', () => to.end());
}

/** Both directions with backpressure and half-close; resolves once both sockets are closed. */
export function splice(client: Duplex, upstream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) resolve();
    };
    client.once('close', onClose);
    upstream.once('close', onClose);
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    // client EOF => half-close upstream (docker's CloseWrite), keep reading the output
    relay(client, upstream);
    // daemon EOF => end the client; once both directions are done, the sockets close
    relay(upstream, client);
    let ends = 0;
    const onEnd = () => {
      if (++ends === 2) kill();
    };
    client.once('end', onEnd);
    upstream.once('end', () => {
      onEnd();
      // the daemon finished the output: the client's stdin no longer matters
      client.once('finish', kill);
    });
    client.resume();
    upstream.resume();
  });
}

/** Relays one framed response (an error, or a plain answer), then closes both sockets. */
async function relayOne(client: Duplex, upstream: Duplex, head: ResponseHead, rawHead: Buffer, after: Buffer): Promise<void> {
  // Make sure the client does not keep the connection: it is not reusable after a hijack attempt.
  const lines = rawHead.toString('latin1').split('\r\n').filter((l) => l !== '' && !/^connection:/i.test(l));
  client.write(`${lines.join('\r\n')}\r\nConnection: close\r\n\r\n`, 'latin1');
  const cl = head.headers['content-length'];
  const chunked = (head.headers['transfer-encoding'] ?? '').toLowerCase() === 'chunked';
  await new Promise<void>((resolve) => {
    let remaining = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : -1;
    const dec = chunked ? new ChunkedDecoder() : undefined;
    const finish = () => {
      upstream.removeListener('data', onData);
      upstream.destroy();
      client.end();
      resolve();
    };
    const onData = (d: Buffer) => {
      if (remaining >= 0) {
        const part = d.subarray(0, remaining);
        remaining -= part.length;
        if (part.length) client.write(part);
        if (remaining === 0) finish();
        return;
      }
      client.write(d);
      if (dec) {
        try {
          dec.push(d);
        } catch {
          finish();
          return;
        }
        if (dec.done) finish();
      }
    };
    upstream.on('data', onData);
    upstream.once('end', finish);
    upstream.once('error', finish);
    client.once('close', finish);
    if (remaining === 0 || head.status === 204 || head.status === 304) finish();
    else if (after.length) onData(after);
    upstream.resume();
  });
}
