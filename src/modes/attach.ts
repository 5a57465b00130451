/**
 * Attaching to the job container: POST /containers/{id}/attach with `Connection: Upgrade, Upgrade: tcp`; the
 * daemon answers 101 and the connection becomes the container's stdio (raw with a TTY, multiplexed frames without).
 * Bytes that arrived with the 101 head are put back before anyone reads.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Engine } from '../engine/client.js';
import { connectionError, errorFromResponse, isTls, requestTarget } from '../engine/transport.js';
import { demuxStream } from '../engine/stream/demux.js';

export async function attachContainer(engine: Engine, id: string, opts: { stdin: boolean }): Promise<Duplex> {
  const version = await engine.negotiate();
  const ep = engine.endpoint;
  const q = `stream=1&stdout=1&stderr=1${opts.stdin ? '&stdin=1' : ''}`;
  const path = `/v${version}/containers/${encodeURIComponent(id)}/attach?${q}`;
  const lib = isTls(ep) ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request({
      ...requestTarget(ep),
      method: 'POST',
      path,
      agent: false,
      headers: { host: ep.kind === 'unix' ? 'docker' : `${ep.host}:${ep.port}`, connection: 'Upgrade', upgrade: 'tcp', 'content-length': 0 },
    });
    req.on('upgrade', (_res, socket, head) => {
      if (head.length) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res) => {
      if ((res.statusCode ?? 0) >= 300) {
        errorFromResponse(res, 'POST /containers/{id}/attach').then(reject, reject);
        return;
      }
      // a daemon that streams without upgrading (200): output only
      resolve(res.socket);
    });
    req.on('error', (e) => reject(connectionError(ep, 'POST', path, e)));
    req.end();
  });
}

export interface PumpOptions {
  tty: boolean;
  stdin?: Readable | undefined;
  stdout: Writable;
  stderr: Writable;
}

/** Moves the job's stdio until the container closes the stream. */
export async function pumpAttach(conn: Duplex, o: PumpOptions): Promise<void> {
  if (o.stdin) {
    const stdin = o.stdin;
    stdin.on('data', (c: Buffer) => {
      if (!conn.write(c)) {
        stdin.pause();
        conn.once('drain', () => stdin.resume());
      }
    });
    // half-close: the job sees EOF on stdin and can finish (`echo x | nestling run -i -- cat`)
    stdin.once('end', () => {
      if (!o.tty) (conn as Duplex & { end(): void }).end();
    });
  }
  const done = o.tty
    ? new Promise<void>((resolve, reject) => {
        conn.on('data', (c: Buffer) => {
          if (!o.stdout.write(c)) {
            conn.pause();
            o.stdout.once('drain', () => conn.resume());
          }
        });
        conn.once('end', resolve);
        conn.once('close', resolve);
        conn.once('error', reject);
      })
    : Promise.race([demuxStream(conn, o.stdout, o.stderr), new Promise<void>((resolve) => conn.once('close', resolve))]);
  try {
    await done;
  } finally {
    if (o.stdin) o.stdin.pause();
    conn.destroy();
  }
}
