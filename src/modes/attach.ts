/**
 * Attaching to the job container: POST /containers/{id}/attach hijacked (engine/stream/hijack.ts: the 101 upgrade
 * form, bytes after the head put back); the connection becomes the container's stdio (raw with a TTY, multiplexed
 * frames without).
 */
import type { Readable, Writable } from 'node:stream';
import type { Engine } from '../engine/client.js';
import { demuxStream } from '../engine/stream/demux.js';
import { hijack, type HijackedStream } from '../engine/stream/hijack.js';

export async function attachContainer(engine: Engine, id: string, opts: { stdin: boolean }): Promise<HijackedStream> {
  return hijack(engine, {
    path: `/containers/${encodeURIComponent(id)}/attach`,
    query: { stream: 1, stdout: 1, stderr: 1, ...(opts.stdin ? { stdin: 1 } : {}) },
    timeoutMs: 30_000,
  });
}

export interface PumpOptions {
  tty: boolean;
  stdin?: Readable | undefined;
  stdout: Writable;
  stderr: Writable;
}

/** Moves the job's stdio until the container closes the stream. */
export async function pumpAttach(h: HijackedStream, o: PumpOptions): Promise<void> {
  const conn = h.stream;
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
      if (!o.tty) h.closeWrite();
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
